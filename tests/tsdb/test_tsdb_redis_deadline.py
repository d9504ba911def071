"""What a write promises when Redis freezes: a Redis of the test's own, on a spare loopback
port, stopped with SIGSTOP and resumed.

A write the client gave up on (TSDBUnavailable: the server answered 503) must not be counted
when Redis resumes; a write Redis runs within the socket timeout is counted and acknowledged.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from redis_cluster import running_redis

from tsdb.base import TSDBModel, TSDBUnavailable
from tsdb.redis import WRITE_SHA, LateWrite, RedisTSDB

M = TSDBModel
PREFIX = "test:tsdb:deadline:"


@pytest.fixture
def own_redis() -> Iterator[tuple[str, int]]:
    """A private Redis: its URL and its process id (to freeze it)."""
    with running_redis() as url:
        client = redis.Redis.from_url(url)
        pid = int(client.info("server")["process_id"])
        client.close()
        yield url, pid


@contextmanager
def frozen(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def wait_until_it_answers(url: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=1)
    deadline = time.monotonic() + 5
    while True:
        try:
            client.ping()
            break
        except redis.RedisError:
            assert time.monotonic() < deadline, "Redis did not come back"
            time.sleep(0.02)
    client.close()


def test_writes_answered_503_while_redis_is_frozen_are_not_counted_when_it_resumes(
    own_redis: tuple[str, int],
) -> None:
    url, pid = own_redis
    backend = RedisTSDB(url=url, prefix=PREFIX, socket_timeout=0.3)
    backend.validate()  # connected before the freeze: the write reaches Redis' socket
    now = int(time.time())
    items = [(M.project_total_received, 1), (M.organization_total_received, 7)]
    try:
        with frozen(pid):
            for _ in range(3):
                started = time.monotonic()
                with pytest.raises(TSDBUnavailable):
                    backend.incr_multi(items, now)
                assert time.monotonic() - started < 1.0
            time.sleep(0.4)  # stay frozen past the last write's deadline
        wait_until_it_answers(url)

        # The first write went over the connection opened before the freeze and sat in Redis'
        # socket; the next two timed out in the handshake of new connections. Redis ran the
        # script it had received on resuming, and the script dropped itself as late.
        assert backend.get_sums(M.project_total_received, [1], now, now, rollup=10) == {1: 0}
        assert backend.get_sums(M.organization_total_received, [7], now, now, rollup=3600) == {7: 0}
        raw = redis.Redis.from_url(url)
        assert raw.info("commandstats")["cmdstat_evalsha"]["calls"] == 1
        assert list(raw.scan_iter(match=f"{PREFIX}*")) == []
        raw.close()

        backend.incr_multi(items, now)
        assert backend.get_sums(M.project_total_received, [1], now, now, rollup=60) == {1: 1}
    finally:
        backend.close()


def test_a_write_redis_runs_within_the_socket_timeout_is_counted_and_acknowledged(
    own_redis: tuple[str, int],
) -> None:
    url, pid = own_redis
    backend = RedisTSDB(url=url, prefix=PREFIX, socket_timeout=2.0)
    backend.validate()
    now = int(time.time())
    os.kill(pid, signal.SIGSTOP)
    thaw = threading.Timer(0.3, os.kill, (pid, signal.SIGCONT))
    thaw.start()
    try:
        started = time.monotonic()
        backend.incr(M.project, 3, now, count=4)  # waits out the freeze, then succeeds
        assert 0.25 < time.monotonic() - started < 2.0
        assert backend.get_sums(M.project, [3], now, now, rollup=10) == {3: 4}
    finally:
        thaw.join()
        os.kill(pid, signal.SIGCONT)
        backend.close()


def test_a_write_that_reaches_redis_after_its_deadline_says_so(own_redis: tuple[str, int]) -> None:
    # What a client sees when Redis' clock runs ahead of its own by more than the socket
    # timeout: every write arrives "late" and is refused, with a message naming the clocks.
    url, _ = own_redis

    class SkewedTSDB(RedisTSDB):
        def _deadline(self) -> int:
            return int((time.time() - 10) * 1_000_000)

    backend = SkewedTSDB(url=url, prefix=PREFIX)
    now = int(time.time())
    try:
        with pytest.raises(LateWrite, match=r"after its deadline.*clocks.*NTP"):
            backend.incr(M.project, 1, now)
        assert backend.get_sums(M.project, [1], now, now, rollup=10) == {1: 0}
    finally:
        backend.close()


def test_a_redis_without_the_script_gets_it_by_eval_and_counts_once(
    own_redis: tuple[str, int],
) -> None:
    url, _ = own_redis
    raw = redis.Redis.from_url(url)
    backend = RedisTSDB(url=url, prefix=PREFIX)
    now = int(time.time())
    try:
        raw.script_flush()
        assert raw.script_exists(WRITE_SHA) == [False]

        backend.incr_multi([(M.project, 5, now, 2), (M.key_total_received, 9, now, 1)])

        # NOSCRIPT ran nothing; the EVAL sent then ran the write once and cached the script.
        assert raw.script_exists(WRITE_SHA) == [True]
        assert backend.get_sums(M.project, [5], now, now, rollup=10) == {5: 2}
        assert backend.get_sums(M.key_total_received, [9], now, now, rollup=3600) == {9: 1}
        stats = raw.info("commandstats")
        assert stats["cmdstat_eval"]["calls"] == 1
        backend.incr(M.project, 5, now)
        assert raw.info("commandstats")["cmdstat_eval"]["calls"] == 1
        assert backend.get_sums(M.project, [5], now, now, rollup=60) == {5: 3}
    finally:
        raw.close()
        backend.close()
