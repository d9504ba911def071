"""TSDB fixtures: every backend under test, each isolated by its own Redis key prefix.

The Redis Cluster is private to the test session (three primaries started on free loopback
ports, see ``tests/redis_cluster.py``), started the first time a test asks for it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis_cluster import RedisClusterNodes, delete_prefix

from tsdb.base import BaseTSDB
from tsdb.inmemory import InMemoryTSDB
from tsdb.redis import RedisTSDB

TSDB_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def parse_commands(packed: bytes) -> list[tuple[str, ...]]:
    """The commands in RESP bytes as sent to Redis (arrays of bulk strings), as str tuples."""
    commands: list[tuple[str, ...]] = []
    position = 0
    while position < len(packed):
        assert packed[position : position + 1] == b"*", packed[position : position + 20]
        end = packed.index(b"\r\n", position)
        arity, position = int(packed[position + 1 : end]), end + 2
        args = []
        for _ in range(arity):
            assert packed[position : position + 1] == b"$", packed[position : position + 20]
            end = packed.index(b"\r\n", position)
            length, position = int(packed[position + 1 : end]), end + 2
            args.append(packed[position : position + length].decode())
            assert packed[position + length : position + length + 2] == b"\r\n"
            position += length + 2
        commands.append(tuple(args))
    return commands


class CountingConnection(redis.Connection):
    """A connection that records every batch it writes to the socket: one write of commands
    before reading their replies is one round trip. Every command redis-py or the backend
    sends goes through ``send_packed_command``."""

    batches: list[list[tuple[Any, ...]]] = []

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        chunks = [command] if isinstance(command, str | bytes) else list(command)
        packed = b"".join(c.encode() if isinstance(c, str) else bytes(c) for c in chunks)
        CountingConnection.batches.append(parse_commands(packed))
        super().send_packed_command(chunks, check_health=check_health)


@pytest.fixture
def tsdb_prefix() -> Iterator[str]:
    """A Redis key prefix no other test or engineer uses; its keys are deleted afterwards."""
    prefix = f"test:tsdb:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(TSDB_REDIS_URL)
    delete_prefix(client, prefix)
    yield prefix
    delete_prefix(client, prefix)
    client.close()


@pytest.fixture
def raw_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(TSDB_REDIS_URL, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def redis_tsdb(tsdb_prefix: str) -> Iterator[RedisTSDB]:
    backend = RedisTSDB(url=TSDB_REDIS_URL, prefix=tsdb_prefix)
    yield backend
    backend.close()


@pytest.fixture
def counting_tsdb(tsdb_prefix: str) -> Iterator[RedisTSDB]:
    """A RedisTSDB on a client whose connections record what they send; the handshake is
    done (and forgotten) before the test starts."""
    pool = redis.ConnectionPool.from_url(
        TSDB_REDIS_URL, connection_class=CountingConnection, socket_timeout=5.0
    )
    client = redis.Redis(connection_pool=pool)
    client.ping()
    CountingConnection.batches.clear()
    backend = RedisTSDB(prefix=tsdb_prefix, client=client)
    yield backend
    client.close()
    pool.disconnect()


@pytest.fixture
def sent_batches(counting_tsdb: RedisTSDB) -> list[list[tuple[Any, ...]]]:
    """What ``counting_tsdb`` sent to Redis: one list of commands per round trip."""
    return CountingConnection.batches


@pytest.fixture
def cluster_tsdb(redis_cluster: RedisClusterNodes, tsdb_prefix: str) -> Iterator[RedisTSDB]:
    """A RedisTSDB on the test cluster, built as settings build it (``cluster=True``)."""
    backend = RedisTSDB(url=redis_cluster.url, prefix=tsdb_prefix, cluster=True)
    backend.flush()
    yield backend
    backend.flush()
    backend.close()


@pytest.fixture(params=["inmemory", "redis", "cluster"])
def tsdb_backend(request: pytest.FixtureRequest, tsdb_prefix: str) -> Iterator[BaseTSDB]:
    """The contract suite runs once per backend."""
    backend: BaseTSDB
    if request.param == "redis":
        backend = RedisTSDB(url=TSDB_REDIS_URL, prefix=tsdb_prefix)
    elif request.param == "cluster":
        nodes = request.getfixturevalue("redis_cluster")
        backend = RedisTSDB(url=nodes.url, prefix=tsdb_prefix, cluster=True)
    else:
        backend = InMemoryTSDB()
    backend.flush()
    yield backend
    backend.flush()
    backend.close()
