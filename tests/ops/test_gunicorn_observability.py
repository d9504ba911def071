"""Logs and metrics through real gunicorn (the checkout's gunicorn.conf.py), two sync workers:
the access log and the app's request lines never hold a token, and /metrics adds up what both
workers counted."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import override_settings
from live_server import Server, database_url, environment, free_port, gunicorn_server
from redis_cluster import delete_prefix

from organizations.services import demo_seed

# The server reads the rows the module's fixture commits; this mark has the test database set up.
pytestmark = pytest.mark.django_db

QUERY_SECRET = "sntryu_" + "q" * 64
HEADER_SECRET = "sntryu_" + "h" * 64
DSN_SECRET = "f" * 32


@dataclass
class Live:
    server: Server
    port: int
    log_format: str
    metrics_dir: Path
    seed: Any


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module", params=["plain", "json"])
def live(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Live]:
    """One server per log format for this module's tests, with its own committed demo rows
    and Redis prefix, both deleted afterwards."""
    log_format = str(request.param)
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    tmp_path = tmp_path_factory.mktemp(f"live-{log_format}")
    metrics_dir = tmp_path / "metrics"
    port = free_port()
    redis_client = redis.Redis.from_url(settings.REDIS_URL)
    with (
        django_db_blocker.unblock(),
        override_settings(
            TSDB_OPTIONS={"url": settings.REDIS_URL, "prefix": prefix + "ts:"},
            TSDB_BACKEND="tsdb.redis.RedisTSDB",
            QUOTAS_PREFIX=prefix + "quota:",
        ),
    ):
        seed = demo_seed(slug=f"live-{log_format}", username=f"live-{log_format}")
        env = environment(
            DATABASE_URL=database_url(),
            REDIS_URL=settings.REDIS_URL,
            TSDB_PREFIX=prefix + "ts:",
            QUOTAS_PREFIX=prefix + "quota:",
            DEBUG="False",
            SECRET_KEY="ops-tests-" + uuid.uuid4().hex,
            LOG_FORMAT=log_format,
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        )
        try:
            with gunicorn_server(
                port,
                env,
                workers=2,
                log_path=tmp_path / "gunicorn.log",
                extra_args=["--access-logfile", "-"],
            ) as server:
                yield Live(server, port, log_format, metrics_dir, seed)
        finally:
            seed.organization.delete()
            seed.user.delete()
            delete_prefix(redis_client, prefix)
            redis_client.close()


def wait_for_lines(live: Live, needle: str, count: int) -> str:
    def enough() -> str | None:
        text = live.server.output()
        return text if sum(needle in line for line in text.splitlines()) >= count else None

    return str(live.server.wait_for(enough, f"{count} log lines with {needle!r}", timeout=10))


def test_neither_log_shows_a_token_from_header_or_query_string(live: Live) -> None:
    status, _ = get(
        live.port,
        f"/api/0/organizations/{live.seed.organization.slug}/stats/?stat=received&token={QUERY_SECRET}",
        {
            "Authorization": f"Bearer {HEADER_SECRET}",
            "Referer": f"http://x/?auth_token={QUERY_SECRET}",
        },
    )
    assert status == 401
    key = live.seed.key
    status, _ = get(
        live.port,
        f"/api/0/organizations/{live.seed.organization.slug}/stats/?access_token={QUERY_SECRET}",
        {"Authorization": f"Bearer {live.seed.plaintext}"},
    )
    assert status == 200
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
    conn.request(
        "POST",
        f"/api/{live.seed.project.pk}/store/?sentry_key={key.public_key}&sentry_secret={DSN_SECRET}",
        body=b'{"message": "hi"}',
        headers={"X-Sentry-Auth": f"Sentry sentry_key={key.public_key}, sentry_version=7"},
    )
    assert conn.getresponse().status == 200
    conn.close()

    # Each request: one line of the app, one of gunicorn's access log.
    text = wait_for_lines(live, "[Filtered]", 6)
    for secret in (QUERY_SECRET, HEADER_SECRET, live.seed.plaintext, key.public_key, DSN_SECRET):
        assert secret not in text
    lines = [line for line in text.splitlines() if "[Filtered]" in line]
    if live.log_format == "json":
        parsed = [json.loads(line) for line in lines]
        assert {line["logger"] for line in parsed} == {"statsapi.request", "gunicorn.access"}
        assert {line["status"] for line in parsed} == {401, 200}
        assert (
            f"/api/{live.seed.project.pk}/store/?sentry_key=[Filtered]&sentry_secret=[Filtered]"
            in {line["path"] for line in parsed}
        )
    else:
        access = [line for line in lines if '" 401 ' in line or '" 200 ' in line]
        assert len(access) == 3, text
        assert any(
            f"GET /api/0/organizations/{live.seed.organization.slug}/stats/"
            "?stat=received&token=[Filtered] HTTP/1.1"
            in line
            and "auth_token=[Filtered]" in line
            for line in access
        )


def metric_value(port: int, name: str, labels: str) -> float:
    status, body = get(port, "/metrics")
    assert status == 200
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", body.decode(), re.M)
    return float(match.group(1)) if match else 0.0


def test_metrics_add_up_the_requests_of_both_workers(live: Live) -> None:
    labels = 'endpoint="api-index",method="GET",status="200"'
    before = metric_value(live.port, "statsapi_http_requests_total", labels)

    # A request whose headers never end keeps one worker busy reading it, so the next
    # requests are answered by the other worker.
    held = socket.create_connection(("127.0.0.1", live.port), timeout=30)
    held.sendall(b"GET /api/0/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    time.sleep(0.5)
    for _ in range(5):
        assert get(live.port, "/api/0/")[0] == 200
    held.sendall(b"Connection: close\r\n\r\n")
    assert held.recv(100).startswith(b"HTTP/1.1 200")
    held.close()

    pids = {path.name.rsplit("_", 1)[1] for path in live.metrics_dir.glob("counter_*.db")}
    assert len(pids) == 2, pids
    for _ in range(3):  # whichever worker answers the scrape sees all six
        assert metric_value(live.port, "statsapi_http_requests_total", labels) == before + 6
    count = metric_value(
        live.port, "statsapi_http_request_duration_seconds_count", 'endpoint="api-index"'
    )
    assert count >= before + 6
