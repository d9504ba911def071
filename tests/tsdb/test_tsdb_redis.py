"""RedisTSDB specifics: the stored layout, expiry, round trips and failure behaviour."""

from __future__ import annotations

import socket
import time
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from tsdb.base import TSDBModel, TSDBUnavailable
from tsdb.redis import RedisTSDB

M = TSDBModel
Batches = list[list[tuple[Any, ...]]]


def names(batch: list[tuple[Any, ...]]) -> list[str]:
    return [str(args[0]).upper() for args in batch]


def test_it_stores_one_hash_per_model_rollup_bucket_and_vnode(
    tsdb_prefix: str, raw_redis: redis.Redis
) -> None:
    backend = RedisTSDB(prefix=tsdb_prefix, vnodes=1)
    now = int(time.time())
    backend.incr(M.project_total_received, 42, now, count=3)
    backend.incr(M.project_total_received, "abc", now)

    expected = {
        f"{tsdb_prefix}100:10:{now // 10 * 10}:0",
        f"{tsdb_prefix}100:60:{now // 60 * 60}:0",
        f"{tsdb_prefix}100:3600:{now // 3600 * 3600}:0",
    }
    assert set(raw_redis.scan_iter(match=f"{tsdb_prefix}*")) == expected
    for key in expected:
        assert raw_redis.hgetall(key) == {"42": "3", "abc": "1"}
    backend.close()


def test_it_spreads_keys_over_vnodes_by_crc32(
    redis_tsdb: RedisTSDB, tsdb_prefix: str, raw_redis: redis.Redis
) -> None:
    now = int(time.time())
    redis_tsdb.incr(M.organization_total_received, 7, now)

    vnode = zlib.crc32(b"7") % 64
    key = f"{tsdb_prefix}200:3600:{now // 3600 * 3600}:{vnode}"
    assert raw_redis.hgetall(key) == {"7": "1"}


def test_it_expires_each_bucket_at_bucket_plus_rollup_times_samples(
    redis_tsdb: RedisTSDB, tsdb_prefix: str, raw_redis: redis.Redis
) -> None:
    now = int(time.time())
    redis_tsdb.incr(M.key_total_rejected, 5, now)

    for rollup, samples in ((10, 360), (60, 720), (3600, 2160)):
        bucket = now // rollup * rollup
        key = redis_tsdb.make_key(M.key_total_rejected, rollup, bucket, redis_tsdb.vnode("5"))
        assert raw_redis.expiretime(key) == bucket + rollup * samples


def test_incr_multi_is_one_round_trip_with_one_expireat_per_hash(
    counting_tsdb: RedisTSDB, sent_batches: Batches
) -> None:
    now = int(time.time())
    items = [
        (model, key)
        for model in (M.project_total_received, M.organization_total_received, M.key_total_received)
        for key in range(1, 21)
    ]
    two_minutes_ago = (now - 120) // 60 * 60  # both items in the same bucket of every rollup
    items += [(M.project, 1, two_minutes_ago, 2), (M.project, 1, two_minutes_ago + 9, 3)]

    counting_tsdb.incr_multi(items, timestamp=now)

    assert len(sent_batches) == 1
    commands = sent_batches[0]
    hincrbys = [args for args in commands if str(args[0]).upper() == "HINCRBY"]
    expireats = [args for args in commands if str(args[0]).upper() == "EXPIREAT"]
    assert len(hincrbys) == 3 * 20 * 3 + 3  # the two "project" items share every bucket
    hashes = {args[1] for args in hincrbys}
    assert sorted(args[1] for args in expireats) == sorted(hashes)
    for _, key, at in expireats:
        rollup, bucket = (int(part) for part in str(key).split(":")[-3:-1])
        assert int(at) == bucket + rollup * dict(counting_tsdb.rollups)[rollup]
    assert names(commands) == ["HINCRBY"] * len(hincrbys) + ["EXPIREAT"] * len(expireats)


def test_get_range_is_one_round_trip_of_one_hmget_per_hash(
    counting_tsdb: RedisTSDB, sent_batches: Batches
) -> None:
    now = datetime.now(UTC)
    keys = list(range(1000))
    counting_tsdb.incr_multi([(M.project_total_received, key) for key in keys], now)
    sent_batches.clear()

    result = counting_tsdb.get_range(
        M.project_total_received, keys, now - timedelta(seconds=86399), now
    )

    assert len(sent_batches) == 1
    assert set(names(sent_batches[0])) == {"HMGET"}
    vnodes = {counting_tsdb.vnode(str(key)) for key in keys}
    assert len(sent_batches[0]) == 24 * len(vnodes)
    assert all(series[-1][1] == 1 and len(series) == 24 for series in result.values())


def test_get_sums_is_one_round_trip(counting_tsdb: RedisTSDB, sent_batches: Batches) -> None:
    now = datetime.now(UTC)
    counting_tsdb.get_sums(M.project, [1, 2, 3], now - timedelta(days=7), now, rollup=86400)
    assert len(sent_batches) == 1


def test_it_never_reads_buckets_older_than_the_rollup_keeps(
    counting_tsdb: RedisTSDB, sent_batches: Batches
) -> None:
    now = datetime.now(UTC)

    # Two hours at 10 s: 721 points, of which only the last 360 buckets still exist.
    result = counting_tsdb.get_range(M.project, [1], now - timedelta(hours=2), now, rollup=10)
    assert len(result[1]) == 721
    assert len(sent_batches[0]) == 360

    sent_batches.clear()
    old = now - timedelta(days=100)
    result = counting_tsdb.get_range(M.project, [1], old - timedelta(days=1), old, rollup=3600)
    assert len(result[1]) == 25
    assert sent_batches == []


def test_it_does_not_store_buckets_that_are_already_expired(
    redis_tsdb: RedisTSDB, tsdb_prefix: str, raw_redis: redis.Redis
) -> None:
    two_hours_ago = int(time.time()) - 7200
    redis_tsdb.incr(M.project, 1, two_hours_ago)

    rollups = {int(key.split(":")[-3]) for key in raw_redis.scan_iter(match=f"{tsdb_prefix}*")}
    assert rollups == {60, 3600}


def test_flush_deletes_only_its_own_prefix(
    redis_tsdb: RedisTSDB, tsdb_prefix: str, raw_redis: redis.Redis
) -> None:
    neighbour = f"{tsdb_prefix[:-1]}x:unrelated"
    raw_redis.set(neighbour, "keep me", ex=60)
    try:
        redis_tsdb.incr(M.project, 1)
        redis_tsdb.flush()
        assert list(raw_redis.scan_iter(match=f"{tsdb_prefix}*")) == []
        assert raw_redis.get(neighbour) == "keep me"
    finally:
        raw_redis.delete(neighbour)


def test_it_uses_the_client_it_is_given(tsdb_prefix: str) -> None:
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    backend = RedisTSDB(prefix=tsdb_prefix, client=client)
    backend.incr(M.project, 1)
    backend.close()  # not its client: must stay usable
    assert client.ping()
    client.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.incr(M.project, 1),
        lambda b: b.get_range(
            M.project, [1], datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC)
        ),
        lambda b: b.validate(),
    ],
    ids=["incr", "get_range", "validate"],
)
def test_it_raises_tsdb_unavailable_fast_when_redis_is_down(call: Any) -> None:
    # Port 1 on localhost refuses connections: nothing listens there.
    backend = RedisTSDB(url="redis://127.0.0.1:1/0", prefix="test:tsdb:down:")
    started = time.monotonic()
    with pytest.raises(TSDBUnavailable, match="Redis is unavailable"):
        call(backend)
    assert time.monotonic() - started < 2
    backend.close()


def test_it_gives_up_on_a_redis_that_never_answers() -> None:
    # A socket that accepts connections but never replies: a hung or overloaded server.
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        backend = RedisTSDB(url=f"redis://127.0.0.1:{port}/0", socket_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(TSDBUnavailable):
            backend.incr(M.project, 1)
        assert time.monotonic() - started < 1.5
        backend.close()


def test_it_connects_with_a_short_timeout_and_no_blind_retries() -> None:
    backend = RedisTSDB(url="redis://127.0.0.1:6379/0")
    options = backend.client.connection_pool.connection_kwargs
    assert options["socket_connect_timeout"] == 1.0
    # A resent HINCRBY after a lost reply would count twice.
    assert options["retry"].get_retries() == 0
    backend.close()


def test_it_refuses_a_bad_vnode_count() -> None:
    with pytest.raises(ValueError, match="vnodes"):
        RedisTSDB(vnodes=0)


def test_it_flushes_a_prefix_holding_glob_characters(
    tsdb_prefix: str, raw_redis: redis.Redis, redis_tsdb: RedisTSDB
) -> None:
    prefix = tsdb_prefix + "odd]*\\[?:"
    backend = RedisTSDB(client=redis_tsdb.client, prefix=prefix)
    # Would match "odd]*\\[?:*" read as a glob, but is not under the prefix.
    neighbour = tsdb_prefix + "odd]x\\[y:keep"
    try:
        backend.incr(TSDBModel.project_total_received, 1)
        raw_redis.set(neighbour, 1)
        assert len(list(raw_redis.scan_iter(match=tsdb_prefix + "*"))) > 1

        backend.flush()

        assert list(raw_redis.scan_iter(match=tsdb_prefix + "*")) == [neighbour]
    finally:
        raw_redis.delete(neighbour)
