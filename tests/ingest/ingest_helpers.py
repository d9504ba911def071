"""Ingest test helpers: request builders and the counts read back through the TSDB (the same
reads the stats endpoints make)."""

from __future__ import annotations

import contextlib
import http.client
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.test import Client
from live_server import database_url, environment, free_port
from live_server import gunicorn_server as app_under_gunicorn

import tsdb
from organizations.models import Organization, Project, ProjectKey
from tsdb.base import TSDBModel
from usage.catalogue import (
    FILTER_COUNTERS,
    LEGACY_TOTALS,
    OUTCOME_MODELS,
    Field,
    InboundFilter,
    Scope,
    Total,
    outcome_series_key,
)
from usage.registry import combinations_get

DATA = Path(__file__).parent / "data"
WINDOW = 3 * 86_400
# A quota window no test run crosses: windows are aligned to the epoch, and this one runs from
# 2001-09-09 to 2033-05-18. A test whose counts must stay in one window uses it.
QUOTA_WINDOW = 10**9


@dataclass(frozen=True)
class Packet:
    """Commands sent to Redis in one write (the ``round_trips`` fixture)."""

    port: int  # of the Redis server (or cluster node) it went to
    data: bytes  # the commands, as sent


def make_key(**key_fields: Any) -> ProjectKey:
    suffix = uuid.uuid4().hex[:8]
    organization = Organization.objects.create(slug=f"org-{suffix}", name=f"Org {suffix}")
    project = Project.objects.create(
        organization=organization, slug=f"proj-{suffix}", name=f"Project {suffix}"
    )
    return ProjectKey.objects.create(project=project, **key_fields)


def fresh_window(window: int, *, needed: float = 5.0) -> None:
    """Wait, if need be, so that the next ``needed`` seconds fall in one epoch-aligned window
    of ``window`` seconds (for a test whose window length is its point; others use
    QUOTA_WINDOW)."""
    left = window - time.time() % window
    if left < needed:
        time.sleep(left + 0.05)


def quota_counter(key: ProjectKey, window: int = QUOTA_WINDOW) -> str:
    """The name of the key's quota counter for the current window (``ingest.store``)."""
    start = int(time.time()) // window * window
    return f"{settings.QUOTAS_PREFIX}k:{key.pk}:{window}:{start}"


def auth_headers(key: ProjectKey, version: int = 7) -> dict[str, str]:
    return {
        "HTTP_X_SENTRY_AUTH": (
            f"Sentry sentry_key={key.public_key}, sentry_version={version}, "
            "sentry_client=statsapi-tests/1.0"
        )
    }


def post(
    client: Client,
    path: str,
    body: bytes,
    *,
    content_type: str = "application/x-sentry-envelope",
    **extra: Any,
) -> Any:
    return client.generic("POST", path, body, content_type=content_type, **extra)


def post_envelope(client: Client, key: ProjectKey, body: bytes, **extra: Any) -> Any:
    headers = {**auth_headers(key), **extra}
    return post(client, f"/api/{key.project_id}/envelope/", body, **headers)


def post_store(client: Client, key: ProjectKey, event: dict[str, Any], **extra: Any) -> Any:
    headers = {**auth_headers(key), **extra}
    return post(
        client,
        f"/api/{key.project_id}/store/",
        json.dumps(event).encode(),
        content_type="application/json",
        **headers,
    )


def event_envelope(event: dict[str, Any] | None = None, *, item_type: str = "event") -> bytes:
    event = {"message": "hello", "level": "error"} if event is None else event
    payload = json.dumps(event).encode()
    header = json.dumps({"event_id": uuid.uuid4().hex}).encode()
    item = json.dumps({"type": item_type, "length": len(payload)}).encode()
    return header + b"\n" + item + b"\n" + payload + b"\n"


def _sum(model: TSDBModel, key: Any) -> int:
    now = time.time()
    return tsdb.backend.get_sums(model, [key], now - WINDOW, now + 60, rollup=3600)[key]


def totals(key: ProjectKey) -> dict[str, tuple[int, int, int]]:
    """(received, rejected, blacklisted) for the key's organization, project and key."""
    ids = {
        "organization": key.project.organization_id,
        "project": key.project_id,
        "key": key.pk,
    }
    return {
        scope: tuple(  # type: ignore[misc]
            _sum(LEGACY_TOTALS[Scope(scope), total], ident)
            for total in (Total.received, Total.rejected, Total.blacklisted)
        )
        for scope, ident in ids.items()
    }


def same_everywhere(received: int, rejected: int = 0, blacklisted: int = 0) -> dict[str, Any]:
    counts = (received, rejected, blacklisted)
    return {"organization": counts, "project": counts, "key": counts}


def generated(key: ProjectKey) -> int:
    return _sum(TSDBModel.project, key.project_id)


def filter_count(key: ProjectKey, filter_key: str) -> int:
    return _sum(FILTER_COUNTERS[InboundFilter(filter_key)], key.project_id)


def outcome_totals(key: ProjectKey) -> dict[tuple[str, str, str | None], int]:
    """(category, outcome, reason) -> quantity for the key's project (the sum of its keys'
    series), via the organization's registry."""
    result: dict[tuple[str, str, str | None], int] = {}
    for combo in combinations_get(organization_id=key.project.organization_id):
        if combo.project_id != key.project_id:
            continue
        series_key = outcome_series_key(combo.key_id, combo.kind)
        quantity = _sum(OUTCOME_MODELS[Scope.key, Field.quantity], series_key)
        if quantity:
            kind = (combo.kind.category, combo.kind.outcome, combo.kind.reason)
            result[kind] = result.get(kind, 0) + quantity
    return result


# -- a live server under gunicorn ---------------------------------------------------------------


@contextlib.contextmanager
def gunicorn_server(redis_prefix: str, *, workers: int = 2) -> Iterator[str]:
    """The app under gunicorn on a free 127.0.0.1 port, on this test's database (use
    ``transactional_db`` so its rows are committed), Redis (or Redis Cluster, as the settings
    say) and Redis prefix. Yields the base URL."""
    port = free_port()
    env = environment(
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        REDIS_CLUSTER="True" if getattr(settings, "REDIS_CLUSTER", False) else "False",
        TSDB_PREFIX=redis_prefix + "ts:",
        QUOTAS_PREFIX=redis_prefix + "quota:",
        DEBUG="False",
        SECRET_KEY="ingest-tests-" + uuid.uuid4().hex,
        PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    with app_under_gunicorn(port, env, workers=workers):
        yield f"http://127.0.0.1:{port}"


def http_post(
    base_url: str, path: str, body: bytes, headers: dict[str, str], *, chunked: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """POST with http.client; ``chunked`` sends the body with chunked transfer encoding and no
    Content-Length, as @sentry/node does."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        if chunked:
            headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
            headers["Transfer-Encoding"] = "chunked"
            conn.putrequest("POST", path, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders()
            for start in range(0, len(body), 1000):
                piece = body[start : start + 1000]
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        else:
            conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()
