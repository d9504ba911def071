"""RedisTSDB specifics: the stored layout, expiry, round trips and failure behaviour."""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from tsdb.base import TSDBModel, TSDBUnavailable
from tsdb.redis import WRITE_SHA, RedisTSDB

TSDB_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

M = TSDBModel
# Counters per string, per rollup (the daily summary's too): the stored layout.
LAYOUT = {10: 31, 60: 15, 3600: 63, 86400: 63}
Batches = list[list[tuple[Any, ...]]]


def names(batch: list[tuple[Any, ...]]) -> list[str]:
    return [str(args[0]).upper() for args in batch]


def counters(raw: redis.Redis, key: str) -> list[int]:
    """The counters of a stored block, as ints."""
    data = raw.get(key)
    assert isinstance(data, bytes), key
    assert len(data) % 8 == 0, key
    return list(struct.unpack(f">{len(data) // 8}q", data))


@pytest.fixture
def binary_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(TSDB_REDIS_URL)
    yield client
    client.close()


def script_counters(command: tuple[Any, ...]) -> list[tuple[str, int, int, int, int]]:
    """An EVALSHA of the write script as (key, counter index, count, expire-at, string
    length) per counter."""
    assert command[0] == "EVALSHA"
    assert command[1] == WRITE_SHA
    numkeys = int(command[2])
    keys = command[3 : 3 + numkeys]
    args = command[3 + numkeys + 1 :]
    assert len(args) == 4 * numkeys
    return [
        (
            key,
            int(args[4 * i].lstrip("#")),
            int(args[4 * i + 3]),
            int(args[4 * i + 1]),
            int(args[4 * i + 2]),
        )
        for i, key in enumerate(keys)
    ]


def test_it_stores_one_string_of_counters_per_model_rollup_block_and_key(
    redis_tsdb: RedisTSDB, tsdb_prefix: str, binary_redis: redis.Redis
) -> None:
    now = int(time.time())
    now -= 60 if now % 3600 < 60 else 0  # a minute ago: the same hour (and day) as now
    redis_tsdb.incr(M.project_total_received, 42, now, count=3)
    redis_tsdb.incr(M.project_total_received, "a:b", now)
    redis_tsdb.incr(M.project_total_received, 42, now - 60, count=2)

    for rollup, size in LAYOUT.items():
        index = now // rollup
        block = (index - index % size) * rollup
        for key in ("42", "a:b"):
            name = f"{tsdb_prefix}100:{rollup}:{block}:{{{key}}}"
            assert name == redis_tsdb.make_key(M.project_total_received, rollup, block, key)
        stored = counters(binary_redis, f"{tsdb_prefix}100:{rollup}:{block}:{{42}}")
        assert stored[index % size] == (5 if rollup >= 3600 else 3)
        other = counters(binary_redis, f"{tsdb_prefix}100:{rollup}:{block}:{{a:b}}")
        assert other[index % size] == 1
    minute_ago = redis_tsdb.make_key(
        M.project_total_received, 60, redis_tsdb.block_of(60, now - 60)[0], "42"
    )
    assert counters(binary_redis, minute_ago)[redis_tsdb.block_of(60, now - 60)[1]] == 2
    # Every kept rollup and the daily summary: one string per block holding a count.
    expected = {
        redis_tsdb.make_key(
            M.project_total_received, rollup, redis_tsdb.block_of(rollup, ts)[0], key
        )
        for rollup in (10, 60, 3600, 86400)
        for key, ts in (("42", now), ("a:b", now), ("42", now - 60))
    }
    found = {key.decode() for key in binary_redis.scan_iter(match=f"{tsdb_prefix}*")}
    assert found == expected
    # Every string is made all its counters long at once (it never grows and reallocates):
    # 15 for the 10 s and 1 min rollups, 63 for hours and days.
    lengths = {key: binary_redis.strlen(key) for key in found}
    rollup_of = {key: int(key[len(tsdb_prefix) :].split(":")[1]) for key in found}
    assert lengths == {key: 8 * LAYOUT[rollup_of[key]] for key in found}
    assert set(lengths.values()) == {248, 120, 504}


def test_it_expires_each_block_when_its_last_bucket_expires(
    redis_tsdb: RedisTSDB, binary_redis: redis.Redis
) -> None:
    now = int(time.time())
    redis_tsdb.incr(M.key_total_rejected, 5, now)

    # The daily summary's blocks expire when their last day's first hour does.
    for rollup, samples in ((10, 360), (60, 720), (3600, 2160), (86400, 90)):
        size = LAYOUT[rollup]
        block, _ = redis_tsdb.block_of(rollup, now)
        key = redis_tsdb.make_key(M.key_total_rejected, rollup, block, "5")
        assert block % (rollup * size) == 0
        assert block <= now < block + rollup * size
        assert binary_redis.expiretime(key) == block + (size - 1) * rollup + rollup * samples


def test_incr_multi_is_one_round_trip_of_one_script_with_a_deadline(
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

    sent_at = time.time()
    counting_tsdb.incr_multi(items, timestamp=now)

    assert len(sent_batches) == 1
    [command] = sent_batches[0]
    deadline_us = int(command[3 + int(command[2])])
    timeout = counting_tsdb.client.connection_pool.connection_kwargs["socket_timeout"]
    assert sent_at + timeout <= deadline_us / 1e6 <= time.time() + timeout
    written = script_counters(command)
    # 3 rollups and the daily summary; the two "project" items share every bucket.
    assert len(written) == 3 * 20 * 4 + 4
    retention = {**dict(counting_tsdb.rollups), 86400: 90}
    for key, index, _count, expire_at, length in written:
        rollup, block = (int(part) for part in key.split(":")[-3:-1])
        size = LAYOUT[rollup]
        assert 0 <= index < size
        assert length == 8 * size  # what a new string is padded to
        assert expire_at == block + (size - 1) * rollup + rollup * retention[rollup]
    project = [
        count for key, _, count, _, _ in written if key.startswith(f"{counting_tsdb.prefix}1:")
    ]
    assert project == [5, 5, 5, 5]


def test_get_range_is_one_round_trip_of_one_getrange_per_key_and_block(
    counting_tsdb: RedisTSDB, sent_batches: Batches
) -> None:
    now = datetime.now(UTC)
    keys = list(range(1000))
    counting_tsdb.incr_multi([(M.project_total_received, key) for key in keys], now)
    sent_batches.clear()
    start = now - timedelta(seconds=86399)

    result = counting_tsdb.get_range(M.project_total_received, keys, start, now)

    assert len(sent_batches) == 1
    assert set(names(sent_batches[0])) == {"GETRANGE"}
    blocks = {
        counting_tsdb.block_of(3600, ts)[0] for ts in counting_tsdb.get_series(start, now, 3600)
    }
    assert len(sent_batches[0]) == 1000 * len(blocks)
    assert all(series[-1][1] == 1 and len(series) == 24 for series in result.values())


def test_ninety_days_of_one_series_cost_one_command_per_63_buckets(
    counting_tsdb: RedisTSDB, sent_batches: Batches
) -> None:
    now = int(time.time())
    days = [now - 86400 * n for n in range(0, 89, 4)]
    counting_tsdb.incr_multi([(M.project, 7, ts, 2) for ts in days])
    sent_batches.clear()

    series = counting_tsdb.get_range(M.project, [7], now - 90 * 86400 + 3600, now, rollup=3600)
    daily = counting_tsdb.get_range(M.project, [7], now - 89 * 86400, now, rollup=86400)

    assert len(series[7]) == 2160
    assert sum(count for _, count in series[7]) == 2 * len(days)
    assert sum(count for _, count in daily[7]) == 2 * len(days)
    assert len(sent_batches) == 2
    for batch in sent_batches:
        assert set(names(batch)) == {"GETRANGE"}
    assert len(sent_batches[0]) in (35, 36)  # not 2,160
    # At 1d, whole days come from the daily summary (blocks of 63 days), the first, partly
    # expired day from its hours.
    assert len(sent_batches[1]) <= 2 + 1


@pytest.mark.parametrize(("rollup", "points"), [(10, 360), (60, 720)])
def test_fine_rollups_read_exactly_across_block_edges_in_few_commands(
    counting_tsdb: RedisTSDB, sent_batches: Batches, rollup: int, points: int
) -> None:
    # A different count in every bucket the rollup keeps (an hour at 10 s, 12 hours at
    # 1 min): strings of 31 or 15 buckets, each window below starts and ends anywhere.
    now = int(time.time())
    last = now // rollup * rollup
    buckets = [last - rollup * n for n in range(points)]
    counting_tsdb.incr_multi([(M.project, 3, ts, 1 + ts // rollup % 1000) for ts in buckets])
    expected = {ts: 1 + ts // rollup % 1000 for ts in buckets}

    for first, end in [
        (buckets[-1], now),  # all of it
        (buckets[20], buckets[3] + rollup - 1),
        (buckets[15], buckets[15] + rollup - 1),  # one bucket
        (buckets[44], buckets[30]),  # 15 buckets, whichever strings they are in
        (buckets[100], buckets[38]),  # 63 buckets
    ]:
        sent_batches.clear()
        series = counting_tsdb.get_range(M.project, [3], first, end, rollup=rollup, now=now)[3]
        assert series == [(ts, expected[ts]) for ts in range(first, end + 1, rollup)]
        [batch] = sent_batches
        assert len(batch) == len({counting_tsdb.block_of(rollup, ts)[0] for ts, _ in series})
        if first == buckets[-1]:
            # The whole retention: one GETRANGE per string (or one more when not aligned):
            # an hour at 10 s in 12 or 13, 12 hours at 1 min in 48 or 49.
            per_string = LAYOUT[rollup]
            assert len(batch) in (-(-points // per_string), -(-points // per_string) + 1)
    # Summed into coarser points (50 s, 5 min) whose buckets straddle block edges.
    coarse = counting_tsdb.get_range(M.project, [3], buckets[-1], now, 5 * rollup, now=now)[3]
    assert coarse == [
        (point, sum(expected.get(ts, 0) for ts in range(point, point + 5 * rollup, rollup)))
        for point, _ in coarse
    ]
    assert sum(count for _, count in coarse) > 0


def test_get_sums_is_one_round_trip(counting_tsdb: RedisTSDB, sent_batches: Batches) -> None:
    now = datetime.now(UTC)
    counting_tsdb.get_sums(M.project, [1, 2, 3], now - timedelta(days=7), now, rollup=86400)
    assert len(sent_batches) == 1


def test_it_never_reads_buckets_older_than_the_rollup_keeps(
    counting_tsdb: RedisTSDB, sent_batches: Batches
) -> None:
    now = datetime.now(UTC)

    # Two hours at 10 s: 721 points, of which only the last 360 buckets still exist. Their
    # blocks hold older buckets too: the GETRANGEs ask for exactly the 360 kept ones.
    result = counting_tsdb.get_range(M.project, [1], now - timedelta(hours=2), now, rollup=10)
    assert len(result[1]) == 721
    [batch] = sent_batches
    ranges = [(int(start), int(end)) for _, _, start, end in batch]
    assert sum((end + 1 - start) // 8 for start, end in ranges) == 360
    oldest_kept = counting_tsdb.oldest_kept_bucket(10)
    first_key = batch[0][1]
    assert int(first_key.split(":")[-2]) + ranges[0][0] // 8 * 10 in (oldest_kept, oldest_kept + 10)

    sent_batches.clear()
    old = now - timedelta(days=100)
    result = counting_tsdb.get_range(M.project, [1], old - timedelta(days=1), old, rollup=3600)
    assert len(result[1]) == 25
    assert sent_batches == []


def test_an_expired_bucket_in_a_block_still_stored_reads_zero(
    redis_tsdb: RedisTSDB, binary_redis: redis.Redis
) -> None:
    # A block of 31 x 10 s buckets outlives its first bucket by 300 s. At a moment when the
    # oldest kept bucket is the block's 8th, put a count in the 7th (past retention: it would
    # have been written an hour ago) and in the 8th.
    now = int(time.time()) // 10 * 10
    backend = RedisTSDB(client=redis_tsdb.client, prefix=redis_tsdb.prefix, clock=lambda: now)
    while backend.block_of(10, backend.oldest_kept_bucket(10))[1] != 7:
        now -= 10
    kept = backend.oldest_kept_bucket(10)
    expired = kept - 10
    block, index = backend.block_of(10, expired)
    assert backend.block_of(10, kept) == (block, index + 1)
    key = backend.make_key(M.project, 10, block, "1")
    data = bytearray(8 * 31)
    data[8 * index : 8 * index + 8] = (1000).to_bytes(8, "big")
    data[8 * index + 8 : 8 * index + 16] = (7).to_bytes(8, "big")
    binary_redis.set(key, bytes(data), ex=600)

    series = backend.get_range(M.project, [1], expired - 60, now, rollup=10)[1]

    counts = dict(series)
    assert counts[expired] == 0
    assert counts[kept] == 7
    assert sum(counts.values()) == 7
    # At 30 s, the bucket holding both reads only the kept one.
    assert sum(count for _, count in backend.get_range(M.project, [1], expired, now, 30)[1]) == 7


def test_it_does_not_store_buckets_that_are_already_expired(
    redis_tsdb: RedisTSDB, tsdb_prefix: str, raw_redis: redis.Redis
) -> None:
    two_hours_ago = int(time.time()) - 7200
    redis_tsdb.incr(M.project, 1, two_hours_ago)

    rollups = {int(key.split(":")[-3]) for key in raw_redis.scan_iter(match=f"{tsdb_prefix}*")}
    assert rollups == {60, 3600, 86400}


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


def test_it_refuses_a_client_that_decodes_replies() -> None:
    # Counters are binary: a client decoding replies as text would fail on every read.
    with pytest.raises(ValueError, match="decode_responses=False"):
        RedisTSDB(client_options={"decode_responses": True})
    client = redis.Redis.from_url(TSDB_REDIS_URL, decode_responses=True)
    with pytest.raises(ValueError, match="decode_responses=False"):
        RedisTSDB(client=client)
    client.close()


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
