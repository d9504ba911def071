"""Sentry-style cursor pagination for list endpoints.

A cursor is `<limit>:<page>:<is_prev>` (e.g. `100:1:0` is the second page of 100). The
`Link` header always carries both a `rel="previous"` and a `rel="next"` link, each with
`results="true|false"` (whether that page has rows) and the bare `cursor="..."`, so a client
can page without parsing URLs:

    <http://host/api/0/organizations/?cursor=100:0:1>; rel="previous"; results="false";
    cursor="100:0:1", <http://host/api/0/organizations/?cursor=100:1:0>; rel="next";
    results="true"; cursor="100:1:0"

(one line in the real header, separated by ", ").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ParseError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

# Large enough for any real page number, small enough that `page * limit` stays a sane offset.
MAX_PAGE = 10_000_000
# ASCII digits only (str.isdigit() also takes "²", which int() refuses), short enough for int().
CURSOR_RE = re.compile(r"([0-9]{1,9}):([0-9]{1,9}):([01])")
PER_PAGE_RE = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class Cursor:
    limit: int
    page: int
    is_prev: bool

    def __str__(self) -> str:
        return f"{self.limit}:{self.page}:{int(self.is_prev)}"

    @classmethod
    def parse(cls, value: str, *, max_limit: int) -> Cursor:
        """Parse `<limit>:<page>:<is_prev>`; raise ValueError on anything else.

        A limit of 0 means "use per_page" (Sentry's cursors may carry 0 there).
        """
        match = CURSOR_RE.fullmatch(value)
        if match is None:
            raise ValueError(value)
        limit, page, is_prev = (int(part) for part in match.groups())
        if limit > max_limit or page > MAX_PAGE:
            raise ValueError(value)
        return cls(limit=limit, page=page, is_prev=bool(is_prev))


class SentryCursorPagination(BasePagination):
    """Page-number pagination spoken in Sentry's cursor and `Link` header dialect.

    Query parameters: `cursor` (see the module docstring) and `per_page` (1 to `max_limit`,
    default `default_limit`). A malformed or out-of-range value of either is a 400
    `{"detail": ...}`. The querysets given to it must be ordered deterministically.
    """

    cursor_query_param = "cursor"
    page_size_query_param = "per_page"
    default_limit = 100
    max_limit = 100

    def get_limit(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            return self.default_limit
        if not PER_PAGE_RE.fullmatch(raw) or not 1 <= int(raw) <= self.max_limit:
            raise ParseError(
                f"Invalid per_page parameter: must be an integer from 1 to {self.max_limit}."
            )
        return int(raw)

    def get_cursor(self, request: Request, limit: int) -> Cursor:
        raw = request.query_params.get(self.cursor_query_param, "")
        if raw == "":
            return Cursor(limit=limit, page=0, is_prev=False)
        try:
            cursor = Cursor.parse(raw, max_limit=self.max_limit)
        except ValueError:
            raise ParseError(
                "Invalid cursor parameter: expected <limit>:<page>:<is_prev>, "
                'e.g. "100:1:0", as given in the Link header.'
            ) from None
        if cursor.limit == 0:
            cursor = Cursor(limit=limit, page=cursor.page, is_prev=cursor.is_prev)
        return cursor

    def paginate_queryset(
        self,
        queryset: QuerySet[Any, Any] | Sequence[Any],
        request: Request,
        view: APIView | None = None,
    ) -> list[Any]:
        limit = self.get_limit(request)
        cursor = self.get_cursor(request, limit)
        offset = cursor.page * cursor.limit
        # One row more than the page tells whether a next page exists, without a COUNT.
        rows = list(queryset[offset : offset + cursor.limit + 1])
        self.request = request
        self.cursor = cursor
        self.has_next = len(rows) > cursor.limit
        self.has_previous = cursor.page > 0
        return rows[: cursor.limit]

    def get_next_cursor(self) -> Cursor:
        return Cursor(limit=self.cursor.limit, page=self.cursor.page + 1, is_prev=False)

    def get_previous_cursor(self) -> Cursor:
        return Cursor(limit=self.cursor.limit, page=max(self.cursor.page - 1, 0), is_prev=True)

    def build_link(self, cursor: Cursor, rel: str, has_results: bool) -> str:
        url = replace_query_param(
            self.request.build_absolute_uri(), self.cursor_query_param, str(cursor)
        )
        results = "true" if has_results else "false"
        return f'<{url}>; rel="{rel}"; results="{results}"; cursor="{cursor}"'

    def get_link_header(self) -> str:
        return ", ".join(
            [
                self.build_link(self.get_previous_cursor(), "previous", self.has_previous),
                self.build_link(self.get_next_cursor(), "next", self.has_next),
            ]
        )

    def get_paginated_response(self, data: Any) -> Response:
        return Response(data, headers={"Link": self.get_link_header()})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return schema
