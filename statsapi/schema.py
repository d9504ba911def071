"""The OpenAPI schema of /api/0/ (drf-spectacular), served at /api/0/schema/ with interactive
docs at /api/0/docs/ (Swagger UI, its files served by this server: no CDN).

``ApiAutoSchema`` adds to each operation the error answers every API view can give, so that no
view lists them by hand and none is forgotten:

- 400 always (a bad parameter, or too many query parameters on any endpoint),
- 401 unless the view allows anonymous callers, with ``WWW-Authenticate``,
- 403 when a permission class checks more than "is authenticated" (scopes, roles),
- 404 when the path names an object,
- 429 always (statsapi.throttling), 503 always (the database, statsapi.errors; the TSDB on
  the stats endpoints), both with ``Retry-After``,

each with the ``{"detail": "..."}`` body (``ErrorSerializer``). A view states its own success
answer, query parameters and examples with ``@extend_schema``; without a declared summary, the
first line of its docstring is the summary.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated


class ErrorSerializer(serializers.Serializer[Any]):
    """Every error of the API: one human-readable message."""

    detail = serializers.CharField(help_text="What was wrong, and how to fix it where possible.")

    class Meta:
        ref_name = "Error"


ERRORS: dict[int, tuple[str, str]] = {
    400: ("A query parameter or the body is not valid.", "Invalid stat: bogus"),
    401: (
        "No credentials, or a token that is not valid (unknown, revoked or expired).",
        "Invalid token",
    ),
    403: (
        "The token lacks the scope, or the caller the access, this endpoint needs.",
        "You do not have permission to perform this action.",
    ),
    404: (
        "No such object, or not one the caller may know of.",
        "The requested resource does not exist",
    ),
    429: (
        "Over an API rate limit (API_RATE_LIMIT_TOKEN, API_RATE_LIMIT_ADDRESS); wait Retry-After "
        "seconds.",
        "You are attempting to use this endpoint too frequently. Limit is 1200 requests in 60 "
        "seconds Expected available in 12 seconds.",
    ),
    503: (
        "The database or the stats store is unavailable; try again after Retry-After seconds.",
        "The database is unavailable; try again shortly.",
    ),
}
RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 1},
        "description": "Seconds to wait before trying again.",
    }
}
WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "schema": {"type": "string"},
        "description": 'How to authenticate: `Bearer realm="api"`.',
    }
}


def error_response(status: int) -> OpenApiResponse:
    description, example = ERRORS[status]
    return OpenApiResponse(
        ErrorSerializer,
        description=description,
        examples=[OpenApiExample(f"error {status}", {"detail": example}, status_codes=[status])],
    )


def series_schema() -> dict[str, Any]:
    """A ``[[timestamp, count], ...]`` series: integer timestamps with
    STATS_INTEGER_TIMESTAMPS=True, else floats (``1795586400.0``); OpenAPI 3.0 cannot type the
    two places of a pair apart, so both are that number type."""
    number = "integer" if settings.STATS_INTEGER_TIMESTAMPS else "number"
    return {
        "type": "array",
        "description": "`[timestamp, count]` pairs, oldest first; timestamps in Unix seconds "
        + ("(integers: STATS_INTEGER_TIMESTAMPS=True)." if number == "integer" else "(floats)."),
        "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": number}},
    }


# Views refer to the series by reference; the schema is written at each generation, so it
# follows STATS_INTEGER_TIMESTAMPS as configured (add_series_component below).
SERIES = {"$ref": "#/components/schemas/StatsSeries"}


def add_series_component(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the StatsSeries component, as configured now."""
    result.setdefault("components", {}).setdefault("schemas", {})["StatsSeries"] = series_schema()
    return result


def series_example(points: int = 3, start: int = 1795586400, step: int = 3600) -> list[Any]:
    counts = [1735, 1766, 725, 12, 0, 3][:points]
    if settings.STATS_INTEGER_TIMESTAMPS:
        return [[start + i * step, count] for i, count in enumerate(counts)]
    return [[float(start + i * step), count] for i, count in enumerate(counts)]


def stats_window_parameters() -> list[OpenApiParameter]:
    """``since``, ``until`` and ``resolution``, as every stats endpoint reads them."""
    timestamp = {"type": "string", "maxLength": 64}
    return [
        OpenApiParameter(
            "since",
            timestamp,
            description="Start of the window: Unix seconds (integer or float) or ISO 8601 "
            "(UTC when no zone is given). Default: `until` minus 86,399 s (24 hourly points).",
            examples=[
                OpenApiExample("Unix seconds", "1795586400"),
                OpenApiExample("ISO 8601", "2026-11-24T00:00:00Z"),
            ],
        ),
        OpenApiParameter(
            "until",
            timestamp,
            description="End of the window, in the same forms as `since`. Default: now.",
            examples=[OpenApiExample("Unix seconds", "1795672799")],
        ),
        OpenApiParameter(
            "resolution",
            {"type": "string", "pattern": "^([0-9]{1,12}[smhd])?$"},
            description="Bucket size, one of the TSDB's rollups: `10s`, `1m`, `1h` (also "
            "`60s`, `60m`, ...); default (also when empty): the finest rollup that covers the "
            "window. At most 10,000 points per series.",
            examples=[OpenApiExample("hourly", "1h"), OpenApiExample("10 seconds", "10s")],
        ),
    ]


def stat_parameter(choices: Any, default: str) -> OpenApiParameter:
    return OpenApiParameter(
        "stat",
        {"type": "string", "enum": list(choices)},
        description=f"Which count to return (default `{default}`).",
        examples=[OpenApiExample(default, default)],
    )


class ApiAutoSchema(AutoSchema):
    def _error_statuses(self) -> list[int]:
        permissions = list(getattr(self.view, "permission_classes", []))
        anonymous = any(issubclass(permission, AllowAny) for permission in permissions)
        statuses = [400]
        if not anonymous:
            statuses.append(401)
            if any(not issubclass(permission, IsAuthenticated) for permission in permissions):
                statuses.append(403)
        if "{" in self.path:
            statuses.append(404)
        return [*statuses, 429, 503]

    def get_summary(self) -> str | None:
        """The declared summary, else the first line of the view's (or method's) docstring
        without a leading "`METHOD /path/`:"."""
        declared = super().get_summary()
        if declared:
            return declared
        first_line = (self.get_description() or "").strip().split("\n", 1)[0]
        summary = re.sub(r"^`[A-Z]+ [^`]*`:\s*", "", first_line).strip()
        return (summary[:1].upper() + summary[1:]) or None

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        # Not get_response_serializers: @extend_schema(responses=...) overrides that one.
        responses = dict(super()._get_response_bodies(direction))
        for status in self._error_statuses():
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(  # type: ignore[no-untyped-call, unused-ignore]
                    error_response(status), str(status), direction=direction
                )
        return responses

    def _get_response_headers_for_code(self, status_code: str, direction: str = "response") -> Any:
        headers = dict(super()._get_response_headers_for_code(status_code, direction))
        if status_code in ("429", "503"):
            headers.update(RETRY_AFTER)
        if status_code == "401":
            headers.update(WWW_AUTHENTICATE)
        return headers


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call, unused-ignore]
    """organizations.authentication.TokenAuthentication: `Authorization: Bearer <token>`."""

    target_class = "organizations.authentication.TokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal token (`sntryu_...`) or an organization token "
            "(`sntrys_...`), made in the admin or with `manage.py createtoken`.",
        }


# -- pieces the views' @extend_schema share -----------------------------------------------

PAGINATION_PARAMETERS = [
    OpenApiParameter(
        "cursor",
        {"type": "string", "pattern": "^([0-9]{1,9}:[0-9]{1,9}:[01])?$"},
        description="The page to return, as given in the previous answer's `Link` header "
        "(`<limit>:<page>:<is_prev>`, e.g. `100:1:0`).",
        examples=[OpenApiExample("second page", "100:1:0")],
    ),
    OpenApiParameter(
        "per_page",
        {"type": "integer", "minimum": 1, "maximum": 100},
        description="Items per page, 1 to 100 (default 100).",
    ),
]
LINK_HEADER = OpenApiParameter(
    "Link",
    str,
    location=OpenApiParameter.HEADER,
    response=[200],
    description='The previous and next pages: `<url>; rel="previous"; results="false"; '
    'cursor="100:0:1", <url>; rel="next"; results="true"; cursor="100:1:0"`.',
)
