"""`get_range_multi`: several models, the same keys and window, read at once. Run against
every backend (in-memory, Redis, Redis Cluster)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tsdb.base import MAX_POINTS, BaseTSDB, TSDBLimitExceeded, TSDBModel
from tsdb.redis import RedisTSDB

M = TSDBModel
HOUR = 3600
DAY = 86400
KEY_MODELS = [M.key_total_received, M.key_total_rejected, M.key_total_blacklisted]


def utcnow() -> datetime:
    # Never in the future: windows "ending now" must not reach past the real clock.
    return datetime.now(UTC).replace(microsecond=0)


def counts(series: list[tuple[int, int]]) -> list[int]:
    return [count for _, count in series]


def test_it_returns_each_models_series_as_get_range_does(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    tsdb_backend.incr_multi(
        [
            (M.key_total_received, 7, now, 10),
            (M.key_total_received, 7, now - timedelta(hours=2), 4),
            (M.key_total_rejected, 7, now, 3),
            (M.key_total_blacklisted, 8, now, 2),
            (M.project_total_received, 7, now, 99),
        ]
    )
    start = now - timedelta(seconds=DAY - 1)

    result = tsdb_backend.get_range_multi(KEY_MODELS, [7, 8], start, now)

    assert list(result) == KEY_MODELS
    for model in KEY_MODELS:
        assert result[model] == tsdb_backend.get_range(model, [7, 8], start, now)
    assert sum(counts(result[M.key_total_received][7])) == 14
    assert counts(result[M.key_total_received][7])[-3] == 4
    assert sum(counts(result[M.key_total_rejected][7])) == 3
    assert counts(result[M.key_total_rejected][8]) == [0] * 24
    assert sum(counts(result[M.key_total_blacklisted][8])) == 2
    assert counts(result[M.key_total_blacklisted][7]) == [0] * 24


def test_it_gives_every_series_the_same_timestamps(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    tsdb_backend.incr(M.project_total_rejected, 1, now - timedelta(minutes=30), count=5)
    start = now - timedelta(hours=2)

    result = tsdb_backend.get_range_multi(
        [M.project_total_received, M.project_total_rejected], [1, 2], start, now
    )

    rollup = tsdb_backend.get_optimal_rollup(start, now)
    expected = tsdb_backend.get_series(start, now, rollup)
    for by_key in result.values():
        for series in by_key.values():
            assert [ts for ts, _ in series] == expected
    assert sum(counts(result[M.project_total_rejected][1])) == 5


def test_it_sums_a_coarser_resolution_for_every_model(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    this_hour = tsdb_backend.normalize_to_epoch(now, HOUR)
    earlier = datetime.fromtimestamp(this_hour - HOUR, UTC)
    tsdb_backend.incr_multi(
        [
            (M.key_total_received, 3, earlier, 6),
            (M.key_total_received, 3, now, 1),
            (M.key_total_rejected, 3, earlier, 2),
        ]
    )
    start = now - timedelta(days=1)

    result = tsdb_backend.get_range_multi(KEY_MODELS, [3], start, now, rollup=DAY)

    expected_ts = tsdb_backend.get_series(start, now, DAY)
    received = result[M.key_total_received][3]
    rejected = result[M.key_total_rejected][3]
    assert [ts for ts, _ in received] == expected_ts
    assert sum(counts(received)) == 7
    assert sum(counts(rejected)) == 2
    assert counts(result[M.key_total_blacklisted][3]) == [0] * len(expected_ts)


def test_it_reads_zeros_before_retention_for_every_model(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    tsdb_backend.incr_multi([(M.key_total_received, 5, now, 2), (M.key_total_rejected, 5, now, 1)])
    # 10-second buckets are kept for an hour: the first hour of this window reads as 0.
    start = now - timedelta(hours=2)

    result = tsdb_backend.get_range_multi(KEY_MODELS, [5], start, now, rollup=10)

    points = len(tsdb_backend.get_series(start, now, 10))
    for model, total in zip(KEY_MODELS, (2, 1, 0), strict=True):
        series = counts(result[model][5])
        assert len(series) == points
        assert sum(series) == total
        assert series[: points // 2 - 1] == [0] * (points // 2 - 1)


def test_it_keys_results_by_the_objects_passed_in(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    key = "42:error:accepted:"
    tsdb_backend.incr_multi(
        [(M.outcome_quantity, key, now, 9), (M.outcome_times_seen, key, now, 3)]
    )

    result = tsdb_backend.get_range_multi(
        [M.outcome_quantity, M.outcome_times_seen], [key], now, now, rollup=60
    )

    assert result[M.outcome_quantity] == {key: [(tsdb_backend.normalize_to_epoch(now, 60), 9)]}
    assert result[M.outcome_times_seen] == {key: [(tsdb_backend.normalize_to_epoch(now, 60), 3)]}


def test_it_answers_each_model_once_and_nothing_without_keys(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    tsdb_backend.incr(M.key_total_received, 1, now, count=4)
    start = now - timedelta(hours=1)

    repeated = tsdb_backend.get_range_multi(
        [M.key_total_received, M.key_total_received], [1, 1], start, now, rollup=HOUR
    )
    no_keys = tsdb_backend.get_range_multi(KEY_MODELS, [], start, now, rollup=HOUR)
    no_models = tsdb_backend.get_range_multi([], [1], start, now, rollup=HOUR)

    assert list(repeated) == [M.key_total_received]
    assert list(repeated[M.key_total_received]) == [1]
    assert sum(counts(repeated[M.key_total_received][1])) == 4
    assert no_keys == {model: {} for model in KEY_MODELS}
    assert no_models == {}


def test_it_refuses_what_get_range_refuses(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()

    with pytest.raises(ValueError, match="start must be before or equal to end"):
        tsdb_backend.get_range_multi(KEY_MODELS, [1], now, now - timedelta(seconds=1))
    with pytest.raises(ValueError, match="Invalid rollup"):
        tsdb_backend.get_range_multi(KEY_MODELS, [1], now - timedelta(hours=1), now, rollup=7)
    with pytest.raises(TSDBLimitExceeded, match=f"{MAX_POINTS:,} points"):
        tsdb_backend.get_range_multi(
            KEY_MODELS, [1], now - timedelta(seconds=10 * MAX_POINTS), now, rollup=10
        )
    with pytest.raises(ValueError, match="is not a valid TSDBModel"):
        tsdb_backend.get_range_multi([M.key_total_received, 9999], [1], now, now)  # type: ignore[list-item]


Batches = list[list[tuple[Any, ...]]]


def test_it_reads_every_model_in_one_round_trip_on_redis(
    counting_tsdb: RedisTSDB, sent_batches: Batches
) -> None:
    now = utcnow()
    keys = [1, 2, 3]
    counting_tsdb.incr_multi([(model, key) for model in KEY_MODELS for key in keys], now)
    sent_batches.clear()

    result = counting_tsdb.get_range_multi(
        KEY_MODELS, keys, now - timedelta(seconds=DAY - 1), now, rollup=HOUR
    )

    assert sum(counts(result[M.key_total_rejected][2])) == 1
    # One round trip for all the models: one GETRANGE per model, key and block of buckets,
    # every string asked for exactly once.
    assert len(sent_batches) == 1
    commands = [command for batch in sent_batches for command in batch]
    assert {command[0] for command in commands} == {"GETRANGE"}
    series = counting_tsdb.get_series(now - timedelta(seconds=DAY - 1), now, HOUR)
    blocks = {counting_tsdb.block_of(HOUR, bucket)[0] for bucket in series}
    assert len(commands) == len(KEY_MODELS) * len(keys) * len(blocks)
    assert len({command[1] for command in commands}) == len(commands)


@pytest.mark.parametrize("rollup", [10, 60, HOUR, DAY, 2 * HOUR])
def test_get_columns_holds_get_range_multis_numbers_in_columns(
    tsdb_backend: BaseTSDB, rollup: int
) -> None:
    now = utcnow()
    tsdb_backend.incr_multi(
        [
            (M.key_total_received, 7, now, 10),
            (M.key_total_received, 7, now - timedelta(seconds=rollup), 4),
            (M.key_total_rejected, 8, now - timedelta(seconds=3 * rollup), 3),
        ]
    )
    start = now - timedelta(seconds=5 * rollup)

    columns = tsdb_backend.get_columns(KEY_MODELS, [7, 8], start, now, rollup=rollup)
    pairs = tsdb_backend.get_range_multi(KEY_MODELS, [7, 8], start, now, rollup=rollup)

    assert columns.timestamps == tsdb_backend.get_series(start, now, rollup)
    assert list(columns.counts) == KEY_MODELS
    for model in KEY_MODELS:
        assert list(columns.counts[model]) == [7, 8]
        for key in (7, 8):
            got = list(zip(columns.timestamps, columns.counts[model][key], strict=True))
            assert got == pairs[model][key]
    assert columns.counts[M.key_total_received][7][-2:] == [4, 10]
    assert sum(columns.counts[M.key_total_rejected][8]) == 3
