"""Health checks for load balancers and orchestrators.

- `GET /_health/`: liveness. 200 `{"status": "ok"}` as long as the process serves requests;
  touches neither the database nor Redis, so a Redis outage does not get the server restarted.
- `GET /_health/?full`: readiness. Checks the database (`SELECT 1`), the TSDB
  (`tsdb.backend.validate()`) and, when a Redis is configured, its settings
  (`statsapi.redischeck`: every node's, on a cluster every primary's): an evicting
  `maxmemory-policy` fails readiness, naming the node and the policy. 200 when all pass, else
  503 with `Retry-After`, naming each failing part in `problems` (never a connection URL,
  which may hold a password). Persistence that would lose counts is listed in `warnings`
  (logged once at startup, not on every probe) without failing readiness.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

import tsdb
from statsapi import redischeck
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


def redis_config_report() -> redischeck.RedisReport | None:
    """The configured Redis's settings; None when no Redis is configured or it cannot be read
    (the TSDB check names that outage)."""
    if not redischeck.redis_targets():
        return None
    try:
        return redischeck.inspect_configured_redis()
    except TSDBUnavailable:
        return None


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    if "full" not in request.GET:
        return JsonResponse({"status": "ok"})
    checks = {"database": database_problem(), "tsdb": tsdb_problem()}
    states = {name: "ok" if problem is None else "unavailable" for name, problem in checks.items()}
    problems = [problem for problem in checks.values() if problem]
    warnings: list[str] = []
    if redischeck.redis_targets():
        report = redis_config_report()
        if report is None:
            states["redis_config"] = "unknown"
        else:
            states["redis_config"] = "unsafe" if report.problems else "ok"
            problems.extend(report.problems)
            warnings = report.warnings
    body = {
        "status": "unavailable" if problems else "ok",
        "checks": states,
        "problems": problems,
        "warnings": warnings,
    }
    if problems:
        response = JsonResponse(body, status=503)
        response["Retry-After"] = str(TSDB_RETRY_AFTER_SECONDS)
        return response
    return JsonResponse(body)
