"""Shared test fixtures: real PostgreSQL and real Redis, isolated per test.

- Each pytest run gets its own PostgreSQL test database (several runs can share a machine).
- Each test gets its own Redis key prefix for the TSDB and the quotas, on the RedisTSDB backend,
  and every key under that prefix is deleted afterwards. Nothing else in Redis is touched.
- Each test starts and ends with an empty access cache (organizations.cache) in this process.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from redis_cluster import RedisClusterNodes, delete_prefix, running_cluster

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def django_db_modify_db_settings() -> None:
    from django.conf import settings

    settings.DATABASES["default"]["TEST"]["NAME"] = f"test_statsapi_{os.getpid()}"


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def redis_prefix(settings, redis_client: redis.Redis) -> Iterator[str]:
    """A unique Redis prefix for this test; RedisTSDB and the quotas use it."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    settings.TSDB_BACKEND = "tsdb.redis.RedisTSDB"
    settings.TSDB_OPTIONS = {"url": REDIS_URL, "prefix": prefix + "ts:"}
    settings.QUOTAS_PREFIX = prefix + "quota:"
    settings.REDIS_URL = REDIS_URL
    yield prefix
    delete_prefix(redis_client, prefix)


@pytest.fixture(autouse=True)
def cold_access_cache() -> Iterator[None]:
    """Every test starts with this process's access cache empty (rows of an earlier test were
    rolled back, which sends no signal) and leaves it empty."""
    from organizations import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterNodes]:
    """A three-primary Redis Cluster on free 127.0.0.1 ports, started the first time a test
    asks for it (once per run, shared by the TSDB and ingest tests), stopped and deleted after
    the session."""
    with running_cluster() as nodes:
        yield nodes
