"""Counts survive a Redis crash and a restart when Redis runs as docker-compose.yml runs it.

The README promises: at most about one second of counts lost on a Redis crash, none on a clean
restart. Each test starts redis-server with exactly the arguments of the compose file's `redis`
service (``tests/compose_redis.py``), writes counts through the TSDB and through ingest
(envelopes over the Django test client, counted by the real ingest code), then crashes Redis
(SIGKILL) or stops it (SIGTERM), starts it again with the same arguments in the same
directory, and reads every count back through the TSDB.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from compose_redis import RedisProcess, compose_redis_args
from django.test import Client
from ingest_helpers import event_envelope, post_envelope, totals

import tsdb
from organizations.models import ProjectKey
from tsdb.base import TSDBModel

pytestmark = pytest.mark.django_db

# The promise: writes acknowledged more than this long before a crash are never lost.
CRASH_WINDOW = 1.0
FIRST_MARKER = 7_000_000
EVENT_INTERVAL = 0.05


@pytest.fixture
def compose_redis(tmp_path: Path, settings: Any, redis_prefix: str) -> Iterator[RedisProcess]:
    """The compose file's Redis, in its own directory (its /data); the TSDB, quotas and outcome
    sets of this test go there."""
    server = RedisProcess(compose_redis_args(), tmp_path).start()
    settings.REDIS_URL = server.url
    settings.TSDB_OPTIONS = {"url": server.url, "prefix": redis_prefix + "ts:"}
    yield server
    server.stop()


def reconnect(settings: Any) -> None:
    """Rebuild the TSDB and the quota store: their pooled connections died with Redis."""
    settings.TSDB_OPTIONS = dict(settings.TSDB_OPTIONS)
    settings.REDIS_URL = str(settings.REDIS_URL)


def write_for(
    client: Client, key: ProjectKey, *, markers_before: int, events_before: int, then: float
) -> tuple[list[float], list[float]]:
    """Write one TSDB count per marker id (FIRST_MARKER + i) and one event through ingest every
    EVENT_INTERVAL, until at least ``markers_before`` markers and ``events_before`` events are
    acknowledged, then for ``then`` seconds more (however slow a busy machine makes each
    write). Returns when each marker and each accepted event was acknowledged
    (time.monotonic())."""
    markers: list[float] = []
    events: list[float] = []
    envelope = event_envelope()
    end: float | None = None
    while end is None or time.monotonic() < end:
        now = time.monotonic()
        if not events or now - events[-1] >= EVENT_INTERVAL:
            response = post_envelope(client, key, envelope)
            assert response.status_code == 200, response.content
            events.append(time.monotonic())
        tsdb.backend.incr(TSDBModel.project, FIRST_MARKER + len(markers))
        markers.append(time.monotonic())
        if end is None and len(markers) >= markers_before and len(events) >= events_before:
            end = time.monotonic() + then
        time.sleep(0.002)
    return markers, events


def markers_found(count: int) -> dict[int, int]:
    now = time.time()
    ids = [FIRST_MARKER + i for i in range(count)]
    sums = tsdb.backend.get_sums(TSDBModel.project, ids, now - 7200, now + 60, rollup=3600)
    return {index: sums[FIRST_MARKER + index] for index in range(count)}


def test_a_crash_loses_nothing_acknowledged_more_than_a_second_before_it(
    compose_redis: RedisProcess, settings: Any, client: Client, key: ProjectKey
) -> None:
    markers, events = write_for(
        client, key, markers_before=200, events_before=10, then=CRASH_WINDOW + 0.5
    )
    killed_at = time.monotonic()
    compose_redis.kill()
    compose_redis.start()
    reconnect(settings)

    found = markers_found(len(markers))
    old = [index for index, acked in enumerate(markers) if acked < killed_at - CRASH_WINDOW]
    assert len(old) >= 200
    assert [index for index in old if found[index] != 1] == []
    assert set(found.values()) <= {0, 1}, "a write was counted twice"
    received = totals(key)["key"][0]
    old_events = sum(1 for acked in events if acked < killed_at - CRASH_WINDOW)
    assert old_events >= 10
    assert old_events <= received <= len(events)


def test_a_clean_restart_loses_nothing(
    compose_redis: RedisProcess, settings: Any, client: Client, key: ProjectKey
) -> None:
    markers, events = write_for(client, key, markers_before=200, events_before=10, then=0.5)
    compose_redis.stop()  # SIGTERM, as `docker compose restart redis` sends
    compose_redis.start()
    reconnect(settings)

    found = markers_found(len(markers))
    assert [index for index in range(len(markers)) if found[index] != 1] == []
    assert totals(key)["key"][0] == len(events)
    # The client sees the restarted Redis answer as before.
    tsdb.backend.incr(TSDBModel.project, FIRST_MARKER)
    assert markers_found(1) == {0: 2}
