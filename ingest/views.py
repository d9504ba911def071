"""The Sentry ingest endpoints. Plain Django views: they read the raw WSGI stream (chunked
bodies), answer JSON only, are CSRF-exempt and carry CORS headers for browser SDKs."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import TooManyFieldsSent
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import RedisError

from ingest import services
from ingest.errors import IngestError
from statsapi import metrics
from tsdb.base import TSDB_RETRY_AFTER_SECONDS, TSDBUnavailable

logger = logging.getLogger(__name__)

# Positive and within PostgreSQL's bigint: no other project id can exist.
PROJECT_ID_RE = re.compile(r"[1-9][0-9]{0,17}")
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "X-Sentry-Rate-Limits, Retry-After",
}
PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": (
        "X-Sentry-Auth, Content-Type, Content-Encoding, sentry-trace, baggage"
    ),
    "Access-Control-Max-Age": "3600",
}


def json_response(status: int, body: dict[str, Any], headers: dict[str, str]) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, separators=(",", ":")), status=status, content_type="application/json"
    )
    for name, value in {**CORS_HEADERS, **headers}.items():
        response[name] = value
    return response


def _unavailable() -> HttpResponse:
    return json_response(
        503,
        {"detail": "The server cannot count events right now; try again shortly."},
        {"Retry-After": str(TSDB_RETRY_AFTER_SECONDS)},
    )


def _ingest_view(handler: Callable[..., services.IngestResult]) -> Callable[..., HttpResponse]:
    @csrf_exempt
    def view(request: HttpRequest, project_id: str) -> HttpResponse:
        if request.method == "OPTIONS":
            response = HttpResponse(status=200)
            for name, value in PREFLIGHT_HEADERS.items():
                response[name] = value
            return response
        if request.method != "POST":
            return json_response(
                405, {"detail": f'Method "{request.method}" not allowed.'}, {"Allow": "POST"}
            )
        if not PROJECT_ID_RE.fullmatch(project_id):
            return json_response(404, {"detail": f"No project has the id {project_id[:20]!r}"}, {})
        try:
            query = request.GET
        except TooManyFieldsSent:
            return json_response(400, {"detail": "Too many query string parameters"}, {})
        try:
            result = handler(environ=request.environ, project_id=int(project_id), query=query)
        except IngestError as exc:
            return json_response(exc.status, {"detail": exc.detail}, exc.headers)
        except (TSDBUnavailable, DatabaseError) as exc:
            # Redis, or the database behind a key not yet cached: the SDK retries later.
            # Said once, in the request's log line, and counted in the metrics.
            part = "database" if isinstance(exc, DatabaseError) else "tsdb"
            metrics.record_outage(request, part, exc)
            return _unavailable()
        except RedisError:
            # Not an outage: Redis answered an error no correct request gets (WRONGTYPE on a
            # key under our prefix, a script error): a bug, or another program writing there.
            # Logged with its traceback, for the operator to fix. The SDK gets what an outage
            # gives it, 503 and come back later, rather than a 500: the events were not
            # accepted, and their retry counts once the cause is fixed.
            logger.exception("ingest failed on an unexpected Redis reply")
            return _unavailable()
        return json_response(result.status, result.body, result.headers)

    view.__name__ = handler.__name__.replace("_ingest", "_endpoint")
    return view


envelope_endpoint = _ingest_view(services.envelope_ingest)
store_endpoint = _ingest_view(services.store_ingest)
