"""Replay the byte-exact requests captured from real SDKs, and the edge-case envelopes: each is
counted exactly as the spec says; the malformed ones get 4xx and change no count."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime
from typing import Any

import pytest
from django.test import Client
from ingest_helpers import (
    DATA,
    auth_headers,
    gunicorn_server,
    http_post,
    outcome_totals,
    post,
    same_everywhere,
    totals,
)

import tsdb
from organizations.models import ProjectKey
from tsdb.base import TSDBModel

SKIPPED_HEADERS = {"host", "content-length", "connection", "transfer-encoding"}


def captured(name: str) -> list[dict[str, Any]]:
    lines = (DATA / "captured-requests" / f"{name}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def for_key(request: dict[str, Any], key: ProjectKey) -> tuple[str, dict[str, str], bytes]:
    """The captured request's path, headers and exact body, for the test's key and project."""
    path = request["path"].replace("/api/5/", f"/api/{key.project_id}/", 1)
    path = path.replace("sentry_key=pubkey", f"sentry_key={key.public_key}")
    headers = {
        name: value.replace("sentry_key=pubkey", f"sentry_key={key.public_key}")
        for name, value in request["headers"].items()
        if name.lower() not in SKIPPED_HEADERS
    }
    return path, headers, base64.b64decode(request["raw_b64"])


def replay(client: Client, request: dict[str, Any], key: ProjectKey) -> Any:
    path, headers, body = for_key(request, key)
    meta = {}
    for name, value in headers.items():
        if name.lower() == "content-type":
            continue
        meta["HTTP_" + name.upper().replace("-", "_")] = value
    content_type = headers.get("Content-Type")
    if content_type is None:
        return client.generic("POST", path, body, **meta)
    return client.generic("POST", path, body, content_type=content_type, **meta)


def expected_hour(event_time: str) -> int:
    """The hour bucket the generated series uses for an event time (Relay's 30-day rule)."""
    now = time.time()
    ts = datetime.fromisoformat(event_time).timestamp()
    return int((ts if now - ts < 30 * 86_400 else now) // 3600 * 3600)


def generated_hours(key: ProjectKey) -> dict[int, int]:
    # The captured events carry their own (fixed) timestamps, accepted for 30 days after
    # capture: read a little more than that so the test passes on any day.
    now = time.time()
    series = tsdb.backend.get_range(
        TSDBModel.project, [key.project_id], now - 31 * 86_400, now + 60, rollup=3600
    )[key.project_id]
    return {ts: count for ts, count in series if count}


@pytest.mark.parametrize(
    ("name", "received", "outcomes", "event_times"),
    [
        (
            "sentry-python-2.75-br",
            2,
            {("error", "accepted", None): 2, ("transaction", "accepted", None): 1},
            ["2026-11-26T03:26:56.686632+00:00", "2026-11-26T03:26:56.763081+00:00"],
        ),
        (
            "sentry-python-2.75-gzip",
            2,
            {("error", "accepted", None): 2},
            ["2026-11-26T03:26:57.260067+00:00", "2026-11-26T03:26:57.353122+00:00"],
        ),
        (
            "sentry-python-2.75-client-report",
            1,
            {
                ("error", "accepted", None): 1,
                ("error", "client_discard", "ratelimit_backoff"): 3,
                ("span", "client_discard", "ratelimit_backoff"): 1,
                ("transaction", "client_discard", "ratelimit_backoff"): 1,
            },
            ["2026-11-26T03:27:02.462442+00:00"],
        ),
        (
            "sentry-python-1.45.1-store",
            2,
            {("error", "accepted", None): 2},
            ["2026-11-26T03:26:57.879058+00:00", "2026-11-26T03:26:57.908704+00:00"],
        ),
        (
            "raven-python-6.10",
            2,
            {("error", "accepted", None): 2},
            ["2026-11-26T03:26:58+00:00", "2026-11-26T03:26:58+00:00"],
        ),
        (
            "raven-node-2.6.4",
            2,
            {("error", "accepted", None): 2},
            ["2026-11-26T03:27:25+00:00", "2026-11-26T03:27:25+00:00"],
        ),
        (
            "sentry-cli-3.8.2",
            1,
            {("error", "accepted", None): 1},
            ["2026-11-26T03:27:00.500553+00:00"],
        ),
    ],
)
def test_it_counts_each_captured_sdk_request(
    client: Client,
    key: ProjectKey,
    name: str,
    received: int,
    outcomes: dict[Any, int],
    event_times: list[str],
) -> None:
    for request in captured(name):
        if not request["path"].startswith("/api/5/"):
            continue  # sentry-cli's GET /api/0/ is the web API, not ingest
        response = replay(client, request, key)
        assert response.status_code == 200, (name, response.content)
        assert set(response.json()) <= {"id"}
    assert totals(key) == same_everywhere(received)
    assert outcome_totals(key) == outcomes
    hours: dict[int, int] = {}
    for event_time in event_times:
        hour = expected_hour(event_time)
        hours[hour] = hours.get(hour, 0) + 1
    assert generated_hours(key) == hours


def test_it_counts_node_sdk_chunked_requests_under_gunicorn(
    transactional_db: None, key: ProjectKey, redis_prefix: str
) -> None:
    with gunicorn_server(redis_prefix) as base_url:
        for request in captured("sentry-javascript-node-11.12"):
            path, headers, body = for_key(request, key)
            assert "Content-Length" not in headers
            status, _, content = http_post(base_url, path, body, headers, chunked=True)
            assert status == 200, content
    assert totals(key) == same_everywhere(2)
    assert outcome_totals(key) == {
        ("error", "accepted", None): 2,
        ("span", "accepted", None): 1,
        ("session", "accepted", None): 1,
    }


ENVELOPES = {
    "01-event-explicit-length": (1, {("error", "accepted", None): 1}),
    "02-event-no-trailing-newline": (1, {("error", "accepted", None): 1}),
    "03-event-implicit-length": (1, {("error", "accepted", None): 1}),
    "04-attachment-with-crlf-then-event": (
        1,
        {("error", "accepted", None): 1, ("attachment", "accepted", None): 10},
    ),
    "05-two-empty-attachments-no-event": (0, {}),
    "06-session-only-empty-header": (0, {("session", "accepted", None): 1}),
    "07-dsn-in-envelope-header": (1, {("error", "accepted", None): 1}),
    "08-client-report-only": (
        0,
        {
            ("transaction", "client_discard", "sample_rate"): 3,
            ("error", "client_discard", "ratelimit_backoff"): 2,
        },
    ),
    "09-transaction-minimal": (0, {("transaction", "accepted", None): 1}),
}


@pytest.mark.parametrize("name", sorted(ENVELOPES))
def test_it_counts_each_edge_case_envelope(client: Client, key: ProjectKey, name: str) -> None:
    body = (DATA / "envelopes" / f"{name}.envelope").read_bytes()
    body = body.replace(b"PUBLICKEY", key.public_key.encode())
    body = body.replace(b"PROJECTID", str(key.project_id).encode())
    headers = {} if b'"dsn"' in body else auth_headers(key)
    response = post(client, f"/api/{key.project_id}/envelope/", body, **headers)
    assert response.status_code == 200, response.content
    received, outcomes = ENVELOPES[name]
    assert totals(key) == same_everywhere(received)
    assert outcome_totals(key) == outcomes


@pytest.mark.parametrize("name", ["90-invalid-header", "91-length-overrun"])
def test_it_refuses_the_malformed_envelopes(client: Client, key: ProjectKey, name: str) -> None:
    body = (DATA / "envelopes" / f"{name}.envelope").read_bytes()
    response = post(client, f"/api/{key.project_id}/envelope/", body, **auth_headers(key))
    assert response.status_code == 400, response.content
    assert "detail" in response.json()
    assert totals(key) == same_everywhere(0)
    assert ("error", "accepted", None) not in outcome_totals(key)
