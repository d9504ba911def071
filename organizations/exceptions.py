"""API error bodies: always `{"detail": "<message>"}`, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from statsapi import metrics
from tsdb.base import TSDB_RETRY_AFTER_SECONDS, TSDBLimitExceeded, TSDBUnavailable

logger = logging.getLogger(__name__)

NOT_FOUND = "The requested resource does not exist"


def first_message(detail: Any) -> str:
    """The first message of a (possibly nested) DRF error detail."""
    if isinstance(detail, dict):
        for value in detail.values():
            return first_message(value)
        return "Invalid request"
    if isinstance(detail, list):
        return first_message(detail[0]) if detail else "Invalid request"
    return str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, TSDBUnavailable):
        # Said once, in the request's log line, and counted in the metrics.
        metrics.record_outage(context.get("request"), "tsdb", exc)
        return Response(
            {"detail": "The stats store is unavailable; try again shortly."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(TSDB_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, TSDBLimitExceeded):
        # The serializers check the caps first; this covers a window that grew in between.
        exc = exceptions.ValidationError(str(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(NOT_FOUND)
    if isinstance(exc, SuspiciousOperation):
        # E.g. more than DATA_UPLOAD_MAX_NUMBER_FIELDS query parameters. Django would answer
        # an HTML 400; logged where Django logs it, answered in the API's JSON.
        logging.getLogger(f"django.security.{type(exc).__name__}").warning("%s", exc)
        exc = exceptions.ParseError(f"Bad request: {exc}")
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": first_message(exc.detail)}
    return response
