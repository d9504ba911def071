"""The configured backend: built from settings, rebuilt when they change, loud when wrong."""

from __future__ import annotations

import logging
import runpy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from redis.cluster import RedisCluster
from redis_cluster import RedisClusterNodes

import tsdb
from tsdb.base import DEFAULT_ROLLUPS, TSDBModel
from tsdb.dummy import DummyTSDB
from tsdb.inmemory import InMemoryTSDB
from tsdb.redis import RedisTSDB

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "statsapi" / "settings.py"


def settings_from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """statsapi/settings.py evaluated afresh with these TSDB environment variables."""
    for name in ("REDIS_URL", "REDIS_CLUSTER", "TSDB_BACKEND", "TSDB_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


def test_it_builds_the_configured_redis_backend(settings: Any, tsdb_prefix: str) -> None:
    settings.TSDB_BACKEND = "tsdb.redis.RedisTSDB"
    settings.TSDB_OPTIONS = {"url": "redis://127.0.0.1:6379/0", "prefix": tsdb_prefix}
    settings.TSDB_ROLLUPS = [(10, 6), (60, 60)]

    backend = tsdb.get_backend()

    assert isinstance(backend, RedisTSDB)
    assert backend.prefix == tsdb_prefix
    assert backend.rollups == ((10, 6), (60, 60))
    assert tsdb.get_backend() is backend


def test_the_backend_proxy_follows_settings_changes(settings: Any, tsdb_prefix: str) -> None:
    now = datetime.now(UTC)
    settings.TSDB_BACKEND = "tsdb.inmemory.InMemoryTSDB"
    settings.TSDB_OPTIONS = {}
    tsdb.backend.incr(TSDBModel.project, 1, now, count=4)
    assert isinstance(tsdb.get_backend(), InMemoryTSDB)
    assert tsdb.backend.get_sums(TSDBModel.project, [1], now, now) == {1: 4}

    settings.TSDB_BACKEND = "tsdb.dummy.DummyTSDB"

    assert isinstance(tsdb.get_backend(), DummyTSDB)
    assert tsdb.backend.get_sums(TSDBModel.project, [1], now, now) == {1: 0}


def test_changing_rollups_rebuilds_the_backend(settings: Any) -> None:
    settings.TSDB_BACKEND = "tsdb.inmemory.InMemoryTSDB"
    settings.TSDB_OPTIONS = {}
    before = tsdb.get_backend()

    settings.TSDB_ROLLUPS = ((60, 10),)

    assert tsdb.get_backend() is not before
    assert tsdb.get_backend().rollups == ((60, 10),)


def test_it_defaults_to_the_in_memory_backend_and_default_rollups(settings: Any) -> None:
    del settings.TSDB_BACKEND
    del settings.TSDB_OPTIONS
    del settings.TSDB_ROLLUPS

    backend = tsdb.get_backend()

    assert isinstance(backend, InMemoryTSDB)
    assert backend.rollups == DEFAULT_ROLLUPS


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("tsdb.nowhere.NoTSDB", "TSDB_BACKEND 'tsdb.nowhere.NoTSDB' cannot be imported"),
        ("tsdb.redis.NoTSDB", "TSDB_BACKEND 'tsdb.redis.NoTSDB' cannot be imported"),
        ("redisTSDB", "TSDB_BACKEND 'redisTSDB' cannot be imported"),
        ("tsdb.base.TSDBModel", "is not a tsdb.base.BaseTSDB subclass"),
    ],
)
def test_it_refuses_an_unknown_backend_path(settings: Any, path: str, message: str) -> None:
    settings.TSDB_BACKEND = path
    with pytest.raises(ImproperlyConfigured, match=message):
        tsdb.configure()


@pytest.mark.parametrize(
    "rollups",
    [
        [],
        "10,360",
        [(10,)],
        [(10, 360, 1)],
        [(0, 360)],
        [(10, -1)],
        [(10.5, 360)],
        [("10", 360)],
        [(60, 720), (10, 360)],
        [(10, 360), (10, 720)],
        None,
    ],
)
def test_it_refuses_malformed_rollups(settings: Any, rollups: object) -> None:
    settings.TSDB_BACKEND = "tsdb.inmemory.InMemoryTSDB"
    settings.TSDB_OPTIONS = {}
    settings.TSDB_ROLLUPS = rollups
    with pytest.raises(ImproperlyConfigured, match="TSDB_ROLLUPS is malformed"):
        tsdb.configure()


def test_it_refuses_options_the_backend_does_not_take(settings: Any) -> None:
    settings.TSDB_BACKEND = "tsdb.redis.RedisTSDB"
    settings.TSDB_OPTIONS = {"url": "redis://127.0.0.1:6379/0", "shards": 3}
    with pytest.raises(
        ImproperlyConfigured, match=r"TSDB_OPTIONS do not fit tsdb\.redis\.RedisTSDB"
    ):
        tsdb.configure()


def test_it_refuses_rollups_in_the_options(settings: Any) -> None:
    settings.TSDB_BACKEND = "tsdb.inmemory.InMemoryTSDB"
    settings.TSDB_OPTIONS = {"rollups": [(10, 360)]}
    with pytest.raises(ImproperlyConfigured, match="TSDB_ROLLUPS"):
        tsdb.configure()


def test_the_dummy_backend_warns_outside_tests(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("PYTEST_VERSION")
    with caplog.at_level(logging.WARNING, logger="tsdb.dummy"):
        DummyTSDB()
    assert "DummyTSDB is configured" in caplog.text


def test_the_dummy_backend_stores_nothing_but_reads_the_right_shape() -> None:
    backend = DummyTSDB()
    now = datetime.now(UTC)
    backend.incr(TSDBModel.project, 1, now, count=5)
    result = backend.get_range(TSDBModel.project, [1, 2], now.timestamp() - 86399, now)
    assert [len(series) for series in result.values()] == [24, 24]
    assert {count for series in result.values() for _, count in series} == {0}


def test_redis_cluster_true_builds_a_redis_tsdb_on_a_cluster_client(
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    redis_cluster: RedisClusterNodes,
    tsdb_prefix: str,
) -> None:
    configured = settings_from_env(
        monkeypatch, REDIS_CLUSTER="True", REDIS_URL=redis_cluster.url, TSDB_PREFIX=tsdb_prefix
    )
    settings.TSDB_BACKEND = configured["TSDB_BACKEND"]
    settings.TSDB_OPTIONS = configured["TSDB_OPTIONS"]

    backend = tsdb.get_backend()

    assert isinstance(backend, RedisTSDB)
    assert isinstance(backend.client, RedisCluster)
    now = datetime.now(UTC)
    backend.incr_multi([(TSDBModel.project, key, now, 2) for key in range(50)])
    assert backend.get_sums(TSDBModel.project, list(range(50)), now, now) == dict.fromkeys(
        range(50), 2
    )
    backend.flush()


def test_redis_cluster_is_off_by_default(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    configured = settings_from_env(monkeypatch, REDIS_URL="redis://127.0.0.1:6379/0")
    settings.TSDB_BACKEND = configured["TSDB_BACKEND"]
    settings.TSDB_OPTIONS = configured["TSDB_OPTIONS"]

    backend = tsdb.get_backend()

    assert configured["REDIS_CLUSTER"] is False
    assert isinstance(backend, RedisTSDB)
    assert isinstance(backend.client, redis.Redis)
    assert not isinstance(backend.client, RedisCluster)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REDIS_CLUSTER": "True"}, "REDIS_CLUSTER=True needs REDIS_URL"),
        (
            {"REDIS_CLUSTER": "True", "REDIS_URL": "redis://127.0.0.1:7000/3"},
            "a Redis Cluster has only database 0",
        ),
        (
            {"REDIS_CLUSTER": "True", "REDIS_URL": "unix:///run/redis.sock"},
            "no unix sockets",
        ),
        ({"REDIS_CLUSTER": "sometimes", "REDIS_URL": "redis://127.0.0.1:7000/0"}, "True or False"),
    ],
)
def test_it_refuses_a_redis_cluster_setting_that_cannot_work(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        settings_from_env(monkeypatch, **env)


def test_it_refuses_cluster_options_naming_a_database_other_than_0(settings: Any) -> None:
    settings.TSDB_BACKEND = "tsdb.redis.RedisTSDB"
    settings.TSDB_OPTIONS = {"url": "redis://:s3cret@127.0.0.1:7000/2", "cluster": True}
    with pytest.raises(ImproperlyConfigured, match="only database 0") as raised:
        tsdb.configure()
    assert "s3cret" not in str(raised.value)
