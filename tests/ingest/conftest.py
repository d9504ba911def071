"""Ingest fixtures: cold caches for every test, a DSN key in a fresh organization, and the
settings of a deployment on Redis Cluster (a three-primary cluster private to the session,
see ``tests/redis_cluster.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from ingest_helpers import Packet, make_key
from redis.cluster import RedisCluster
from redis_cluster import RedisClusterNodes

from ingest import projectconfig
from organizations.models import ProjectKey
from usage import registry


@pytest.fixture(autouse=True)
def fresh_ingest_caches() -> Iterator[None]:
    """Each test starts with cold per-process caches (keys, outcome-set registrations)."""
    projectconfig.clear_cache()
    registry.forget_registrations()
    yield
    projectconfig.clear_cache()
    registry.forget_registrations()


@pytest.fixture
def key(db: None) -> ProjectKey:
    return make_key()


@pytest.fixture
def on_cluster(
    settings: Any, redis_cluster: RedisClusterNodes, redis_prefix: str
) -> Iterator[RedisClusterNodes]:
    """The settings REDIS_CLUSTER=True and REDIS_URL=one node give (quotas, outcome sets and
    the TSDB on the cluster), under this test's prefix; its keys are deleted afterwards."""
    settings.REDIS_CLUSTER = True
    settings.REDIS_URL = redis_cluster.url
    settings.TSDB_OPTIONS = {
        "url": redis_cluster.url,
        "prefix": redis_prefix + "ts:",
        "cluster": True,
    }
    yield redis_cluster
    redis_cluster.delete_prefix(redis_prefix)


@pytest.fixture(params=["redis", "cluster"])
def deployment(request: pytest.FixtureRequest, redis_prefix: str) -> str:
    """Each deployment in turn: one Redis server ("redis"), then a Redis Cluster ("cluster",
    the settings ``on_cluster`` gives)."""
    if request.param == "cluster":
        request.getfixturevalue("on_cluster")
    return str(request.param)


@pytest.fixture
def any_redis(deployment: str, settings: Any) -> Iterator[Any]:
    """A client (replies decoded) of the Redis that holds the quotas, outcome sets and TSDB
    counts, in each ``deployment``."""
    client: Any
    if deployment == "cluster":
        client = RedisCluster.from_url(settings.REDIS_URL, decode_responses=True)
    else:
        client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[Packet]:
    """Every packet of commands this process sends to Redis: one send is one round trip (a
    pipeline or a cluster node's batch is sent as one packet, then its replies are read)."""
    sent: list[Packet] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def recording(self: Any, command: Any, check_health: bool = True) -> None:
        chunks = [command] if isinstance(command, str | bytes) else list(command)
        data = b"".join(c.encode() if isinstance(c, str) else bytes(c) for c in chunks)
        sent.append(Packet(self.port, data))
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", recording)
    return sent
