"""The real sentry-sdk (2.x, with and without brotli) against the app under gunicorn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ingest_helpers import (
    QUOTA_WINDOW,
    gunicorn_server,
    make_key,
    outcome_totals,
    same_everywhere,
    totals,
)

from organizations.models import ProjectKey

SENDER = Path(__file__).with_name("sdk_sender.py")


def dsn_for(key: ProjectKey, base_url: str) -> str:
    host = base_url.removeprefix("http://")
    return f"http://{key.public_key}@{host}/{key.project_id}"


def run_sdk(dsn: str, count: int, mode: str) -> str:
    result = subprocess.run(
        [sys.executable, str(SENDER), dsn, str(count), mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize("mode", ["br", "gzip"])
def test_sdk_events_are_all_received(transactional_db: None, redis_prefix: str, mode: str) -> None:
    key = make_key()
    with gunicorn_server(redis_prefix) as base_url:
        used = run_sdk(dsn_for(key, base_url), 25, mode)
    assert used == mode
    assert totals(key) == same_everywhere(25)
    assert outcome_totals(key) == {("error", "accepted", None): 25}


def test_the_sdk_stops_after_the_first_429(transactional_db: None, redis_prefix: str) -> None:
    key = make_key(rate_limit_count=3, rate_limit_window=QUOTA_WINDOW)
    with gunicorn_server(redis_prefix) as base_url:
        run_sdk(dsn_for(key, base_url), 10, "br")
    # Three accepted, the fourth refused; the SDK then held back the other six itself.
    assert totals(key) == same_everywhere(4, 1, 0)
    outcomes = outcome_totals(key)
    assert outcomes[("error", "accepted", None)] == 3
    assert outcomes[("error", "rate_limited", "key_quota")] == 1
    assert outcomes[("error", "client_discard", "ratelimit_backoff")] == 6
