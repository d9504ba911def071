"""RedisTSDB on one Redis when a batch goes wrong: error replies, lost connections, replicas.

Every write is one batch sent in one go; these tests check what the caller sees when part of
it fails, that nothing is resent, and that the next call finds a clean connection.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import redis
from redis_cluster import free_ports

from tsdb.base import TSDBModel, TSDBUnavailable
from tsdb.redis import RedisTSDB

M = TSDBModel
HOST = "127.0.0.1"
TSDB_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
REDIS_ADDRESS = (urlsplit(TSDB_REDIS_URL).hostname or HOST, urlsplit(TSDB_REDIS_URL).port or 6379)


def client_ids(raw_redis: redis.Redis, name: str) -> list[int]:
    """The ids of the connections Redis currently has under a client name."""
    return [int(c["id"]) for c in raw_redis.client_list() if c.get("name") == name]


@pytest.fixture
def named_tsdb(tsdb_prefix: str) -> Iterator[tuple[RedisTSDB, str]]:
    """A RedisTSDB whose connections carry a client name of their own, so the test can find
    them in CLIENT LIST."""
    name = f"tsdb-test-{uuid.uuid4().hex[:12]}"
    backend = RedisTSDB(
        url=TSDB_REDIS_URL, prefix=tsdb_prefix, client_options={"client_name": name}
    )
    yield backend, name
    backend.close()


def test_an_error_reply_mid_batch_is_raised_after_every_reply_was_read(
    named_tsdb: tuple[RedisTSDB, str], raw_redis: redis.Redis
) -> None:
    backend, name = named_tsdb
    now = int(time.time())
    items = [(M.organization_total_received, 1), (M.project_total_received, 2), (M.project, 2)]
    backend.incr_multi(items, now)
    [connection_id] = client_ids(raw_redis, name)
    # Someone else's hash where the project's hourly counters should be: WRONGTYPE.
    hour = now // 3600 * 3600
    block, index = backend.block_of(3600, hour)
    taken = backend.make_key(M.project_total_received, 3600, block, "2")
    raw_redis.delete(taken)
    raw_redis.hset(taken, "not", "counters")
    raw_redis.expire(taken, 60)

    with pytest.raises(redis.ResponseError, match="WRONGTYPE") as raised:
        backend.incr_multi(items, now)

    message = str(raised.value)
    # 3 items x (3 rollups + the daily summary)
    assert f"of 12 in one write: {taken} #{index} +1" in message
    # The other counters of the write were applied, each exactly once.
    assert backend.get_sums(M.organization_total_received, [1], now, now, rollup=10) == {1: 2}
    assert backend.get_sums(M.project, [2], now, now, rollup=3600) == {2: 2}
    assert backend.get_sums(M.project_total_received, [2], now, now, rollup=60) == {2: 2}
    assert raw_redis.hgetall(taken) == {"not": "counters"}
    # Every reply was read: the same connection was reused, clean, for those reads.
    assert client_ids(raw_redis, name) == [connection_id]


def test_an_error_reply_in_a_read_leaves_the_connection_usable(
    named_tsdb: tuple[RedisTSDB, str], raw_redis: redis.Redis
) -> None:
    backend, name = named_tsdb
    now = datetime.now(UTC)
    keys = list(range(50))
    backend.incr_multi([(M.project_total_received, key) for key in keys], now)
    [connection_id] = client_ids(raw_redis, name)
    block, _ = backend.block_of(3600, int(now.timestamp()))
    taken = backend.make_key(M.project, 3600, block, "7")
    raw_redis.hset(taken, "not", "counters")
    raw_redis.expire(taken, 60)

    with pytest.raises(redis.ResponseError, match=f"WRONGTYPE.*GETRANGE {re.escape(taken)}"):
        backend.get_range(M.project, keys, now - timedelta(hours=5), now, rollup=3600)

    series = backend.get_range(
        M.project_total_received, keys, now - timedelta(hours=5), now, rollup=3600
    )
    assert all([count for _, count in points] == [0] * 5 + [1] for points in series.values())
    assert client_ids(raw_redis, name) == [connection_id]


class ReplyCutter:
    """A TCP proxy in front of the shared Redis. Once ``armed``, it lets the next batch through
    to Redis, waits until Redis has answered all of it, passes half of the answer on and then
    drops the connection: the client has sent everything and lost its replies mid-way."""

    def __init__(self) -> None:
        self.server = socket.create_server((HOST, 0))
        self.port = self.server.getsockname()[1]
        self.armed = threading.Event()
        self.cut = threading.Event()
        self.threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                downstream, _ = self.server.accept()
                upstream = socket.create_connection(REDIS_ADDRESS)
                for source, target, replies in (
                    (downstream, upstream, False),
                    (upstream, downstream, True),
                ):
                    thread = threading.Thread(
                        target=self._pump, args=(source, target, replies), daemon=True
                    )
                    thread.start()
                    self.threads.append(thread)

    def _pump(self, source: socket.socket, target: socket.socket, replies: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if replies and self.armed.is_set():
                    source.settimeout(0.2)
                    with contextlib.suppress(TimeoutError):
                        while more := source.recv(65536):
                            data += more
                    target.sendall(data[: len(data) // 2])
                    self.armed.clear()
                    self.cut.set()
                    break
                target.sendall(data)
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self.server.close()


def test_a_batch_whose_replies_are_lost_is_not_sent_again(tsdb_prefix: str) -> None:
    cutter = ReplyCutter()
    backend = RedisTSDB(url=f"redis://{HOST}:{cutter.port}/0", prefix=tsdb_prefix)
    try:
        backend.validate()  # connected through the proxy before it is armed
        now = int(time.time())
        items = [(M.project_total_received, key) for key in range(40)]

        cutter.armed.set()
        with pytest.raises(TSDBUnavailable, match="Redis is unavailable"):
            backend.incr_multi(items, now)
        assert cutter.cut.is_set()

        # Redis applied the batch once; the client neither resent it nor misread the next call.
        sums = backend.get_sums(M.project_total_received, list(range(40)), now, now, rollup=10)
        assert sums == dict.fromkeys(range(40), 1)
        backend.incr_multi(items, now)
        sums = backend.get_sums(M.project_total_received, list(range(40)), now, now, rollup=60)
        assert sums == dict.fromkeys(range(40), 2)
    finally:
        backend.flush()
        backend.close()
        cutter.close()


def test_a_connection_killed_while_idle_is_replaced_and_nothing_counts_twice(
    named_tsdb: tuple[RedisTSDB, str], raw_redis: redis.Redis
) -> None:
    backend, name = named_tsdb
    now = int(time.time())
    backend.incr(M.key_total_received, 9, now)
    [connection_id] = client_ids(raw_redis, name)

    raw_redis.execute_command("CLIENT", "KILL", "ID", connection_id)
    assert client_ids(raw_redis, name) == []
    time.sleep(0.05)  # the close reaches the backend's socket

    backend.incr(M.key_total_received, 9, now)
    assert backend.get_sums(M.key_total_received, [9], now, now, rollup=10) == {9: 2}
    [new_id] = client_ids(raw_redis, name)
    assert new_id != connection_id


def test_concurrent_writers_on_one_backend_count_exactly(redis_tsdb: RedisTSDB) -> None:
    now = int(time.time())
    items = [(M.project_total_received, key) for key in range(10)] + [(M.project, 1)]
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(50):
                redis_tsdb.incr_multi(items, now)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    sums = redis_tsdb.get_sums(M.project_total_received, list(range(10)), now, now, rollup=10)
    assert sums == dict.fromkeys(range(10), 400)
    assert redis_tsdb.get_sums(M.project, [1], now, now, rollup=3600) == {1: 400}


@contextlib.contextmanager
def read_only_replica() -> Iterator[int]:
    """A private redis-server that is a replica of a master that does not exist: it serves
    reads (stale data) and answers every write with READONLY."""
    [port] = free_ports(1)
    server = [
        "redis-server",
        "--port", str(port),
        "--bind", HOST,
        "--replicaof", HOST, "1",
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
    ]  # fmt: skip
    process = subprocess.Popen(server, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(host=HOST, port=port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            assert time.monotonic() < deadline, "the replica did not start"
            time.sleep(0.02)
        client.close()
        yield port
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_a_read_only_replica_is_unavailable_for_writes_but_serves_reads() -> None:
    with read_only_replica() as port:
        backend = RedisTSDB(url=f"redis://{HOST}:{port}/0", prefix="test:tsdb:replica:")
        try:
            now = datetime.now(UTC)
            with pytest.raises(TSDBUnavailable, match="read only replica"):
                backend.incr(M.project, 1, now)
            # The connection was left clean: reads on it work.
            assert backend.get_sums(M.project, [1], now - timedelta(hours=1), now) == {1: 0}
            with pytest.raises(TSDBUnavailable, match="read only replica"):
                backend.incr(M.project, 1, now)
        finally:
            backend.close()
