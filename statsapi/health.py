"""Health checks for load balancers and orchestrators.

- `GET /_health/`: liveness. 200 `{"status": "ok"}` as long as the process serves requests;
  touches neither the database nor Redis, so a Redis outage does not get the server restarted.
- `GET /_health/?full`: readiness. Checks the database (`SELECT 1`) and the TSDB
  (`tsdb.backend.validate()`); 200 when both answer, else 503 with `Retry-After`, naming each
  failing part in `problems` (never its connection URL, which may hold a password).
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

import tsdb
from tsdb.base import TSDB_RETRY_AFTER_SECONDS, TSDBUnavailable

logger = logging.getLogger(__name__)


def database_problem() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        logger.warning("health: database unavailable: %s", exc)
        return "database unavailable"
    return None


def tsdb_problem() -> str | None:
    try:
        tsdb.backend.validate()
    except TSDBUnavailable as exc:
        logger.warning("health: TSDB unavailable: %s", exc)
        return "tsdb unavailable"
    return None


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    if "full" not in request.GET:
        return JsonResponse({"status": "ok"})
    checks = {"database": database_problem(), "tsdb": tsdb_problem()}
    problems = [problem for problem in checks.values() if problem]
    body = {
        "status": "unavailable" if problems else "ok",
        "checks": {
            name: "ok" if problem is None else "unavailable" for name, problem in checks.items()
        },
        "problems": problems,
    }
    if problems:
        response = JsonResponse(body, status=503)
        response["Retry-After"] = str(TSDB_RETRY_AFTER_SECONDS)
        return response
    return JsonResponse(body)
