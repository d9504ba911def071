"""The contract every TSDB backend keeps, run against the in-memory and the Redis backend."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tsdb.base import MAX_POINTS, BaseTSDB, TSDBLimitExceeded, TSDBModel

M = TSDBModel
HOUR = 3600
DAY = 86400


def utcnow() -> datetime:
    # Never in the future: windows "ending now" must not reach past the real clock.
    return datetime.now(UTC).replace(microsecond=0)


def counts(series: list[tuple[int, int]]) -> list[int]:
    return [count for _, count in series]


def test_it_returns_what_was_incremented(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    tsdb_backend.incr(M.project_total_received, 42, now)
    tsdb_backend.incr(M.project_total_received, 42, now, count=4)
    tsdb_backend.incr(M.project_total_received, 42, now - timedelta(hours=3), count=2)

    result = tsdb_backend.get_range(
        M.project_total_received, [42], now - timedelta(seconds=DAY - 1), now
    )

    series = result[42]
    assert series[-1] == (tsdb_backend.normalize_to_epoch(now, HOUR), 5)
    assert series[-4] == (tsdb_backend.normalize_to_epoch(now - timedelta(hours=3), HOUR), 2)
    assert sum(counts(series)) == 7


def test_it_zero_fills_missing_buckets(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    tsdb_backend.incr(M.project_total_received, 1, now - timedelta(hours=5))

    result = tsdb_backend.get_range(
        M.project_total_received, [1, 2], now - timedelta(seconds=DAY - 1), now
    )

    assert [ts for ts, _ in result[1]] == [ts for ts, _ in result[2]]
    assert counts(result[2]) == [0] * 24
    assert counts(result[1]).count(0) == 23
    assert all(isinstance(ts, int) and isinstance(c, int) for ts, c in result[1])


def test_it_keeps_models_and_keys_apart(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    tsdb_backend.incr(M.project_total_received, 1, now, count=3)
    tsdb_backend.incr(M.project_total_rejected, 1, now, count=5)
    tsdb_backend.incr(M.organization_total_received, 1, now, count=7)
    tsdb_backend.incr(M.project_total_received, 2, now, count=11)

    def total(model: TSDBModel, key: int) -> int:
        return tsdb_backend.get_sums(model, [key], now - timedelta(minutes=1), now)[key]

    assert total(M.project_total_received, 1) == 3
    assert total(M.project_total_rejected, 1) == 5
    assert total(M.organization_total_received, 1) == 7
    assert total(M.project_total_received, 2) == 11
    assert total(M.key_total_received, 1) == 0


def test_it_keys_results_by_the_objects_passed_in(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    key = "42:error:accepted:"
    tsdb_backend.incr(M.outcome_quantity, key, now, count=9)
    tsdb_backend.incr(M.project, 7, now, count=2)

    assert tsdb_backend.get_sums(M.outcome_quantity, [key], now, now, rollup=60) == {key: 9}
    # Keys are stored as str(key): the int 7 and the string "7" are the same counter.
    sums = tsdb_backend.get_sums(M.project, [7, "7"], now, now, rollup=60)
    assert sums == {7: 2, "7": 2}


def test_it_reads_duplicate_keys_once(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    tsdb_backend.incr(M.project, 3, now)

    result = tsdb_backend.get_range(M.project, [3, 3, 3], now, now, rollup=10)

    assert result == {3: [(tsdb_backend.normalize_to_epoch(now, 10), 1)]}


def test_it_returns_24_points_for_the_default_day(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    result = tsdb_backend.get_range(M.project, [1], now - timedelta(seconds=DAY - 1), now)

    timestamps = [ts for ts, _ in result[1]]
    assert len(timestamps) == 24
    assert timestamps[-1] == tsdb_backend.normalize_to_epoch(now, HOUR)
    assert all(b - a == HOUR for a, b in itertools.pairwise(timestamps))


def test_it_returns_25_points_for_exactly_one_day_at_one_hour(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    result = tsdb_backend.get_range(M.project, [1], now - timedelta(days=1), now, rollup=HOUR)
    assert len(result[1]) == 25


def test_it_returns_361_points_for_exactly_one_hour_at_ten_seconds(
    tsdb_backend: BaseTSDB,
) -> None:
    now = utcnow()
    result = tsdb_backend.get_range(M.project, [1], now - timedelta(hours=1), now, rollup=10)
    assert len(result[1]) == 361


def test_it_returns_61_minutes_for_exactly_the_last_hour(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    result = tsdb_backend.get_range(M.project, [1], now - timedelta(hours=1), now)

    timestamps = [ts for ts, _ in result[1]]
    assert len(timestamps) == 61
    assert timestamps[1] - timestamps[0] == 60


def test_it_returns_one_point_when_start_equals_end(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    tsdb_backend.incr(M.project, 1, now, count=3)

    result = tsdb_backend.get_range(M.project, [1], now, now)

    assert result == {1: [(tsdb_backend.normalize_to_epoch(now, 10), 3)]}


def test_it_accepts_any_timezone_and_epoch_seconds(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    tokyo = now.astimezone(timezone(timedelta(hours=9)))
    tsdb_backend.incr(M.project, 1, tokyo, count=2)
    tsdb_backend.incr(M.project, 1, now.timestamp(), count=3)

    by_datetime = tsdb_backend.get_range(M.project, [1], now, now, rollup=60)
    by_epoch = tsdb_backend.get_range(M.project, [1], now.timestamp(), int(now.timestamp()), 60)

    assert by_datetime == by_epoch == {1: [(tsdb_backend.normalize_to_epoch(now, 60), 5)]}


def test_it_refuses_naive_datetimes(tsdb_backend: BaseTSDB) -> None:
    naive = datetime(2024, 1, 1, 12, 0)
    with pytest.raises(ValueError, match="naive"):
        tsdb_backend.incr(M.project, 1, naive)
    with pytest.raises(ValueError, match="naive"):
        tsdb_backend.get_range(M.project, [1], naive, naive)


def test_it_refuses_start_after_end(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    with pytest.raises(ValueError, match="start must be before or equal to end"):
        tsdb_backend.get_range(M.project, [1], now, now - timedelta(seconds=1))


@pytest.mark.parametrize("rollup", [7, 0, -10, 15, 25, 1])
def test_it_rejects_unknown_resolution(tsdb_backend: BaseTSDB, rollup: int) -> None:
    now = utcnow()
    with pytest.raises(ValueError, match="Invalid rollup"):
        tsdb_backend.get_range(M.project, [1], now - timedelta(hours=1), now, rollup=rollup)


def test_it_refuses_more_than_the_point_cap(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    with pytest.raises(TSDBLimitExceeded, match=r"10,000 points.*coarser resolution, e\.g\. 7d"):
        tsdb_backend.get_range(M.project, [1], datetime(1970, 1, 1, tzinfo=UTC), now, rollup=10)
    # Exactly at the cap is still answered.
    start = now - timedelta(seconds=10 * (MAX_POINTS - 1))
    assert len(tsdb_backend.get_range(M.project, [1], start, now, rollup=10)[1]) == MAX_POINTS


def test_it_sums_24_hours_into_one_day(tsdb_backend: BaseTSDB) -> None:
    yesterday = utcnow().replace(hour=0, minute=0, second=0) - timedelta(days=1)
    for hour in (0, 5, 23):
        tsdb_backend.incr(
            M.project, 1, yesterday + timedelta(hours=hour, minutes=59), count=hour + 1
        )

    # A window starting mid-day still gets the whole day: a derived bucket sums its span.
    noon = yesterday + timedelta(hours=12)
    daily = tsdb_backend.get_range(M.project, [1], noon, noon + timedelta(hours=1), rollup=DAY)
    hourly = tsdb_backend.get_range(
        M.project, [1], yesterday, yesterday + timedelta(hours=23), rollup=HOUR
    )

    assert daily == {1: [(int(yesterday.timestamp()), 1 + 6 + 24)]}
    assert len(hourly[1]) == 24
    assert daily[1][0][1] == sum(counts(hourly[1]))


def test_it_sums_five_minutes_from_one_minute_buckets(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    five = tsdb_backend.normalize_to_epoch(now - timedelta(minutes=30), 300)
    for minute in range(-1, 7):
        tsdb_backend.incr(M.project, 1, five + minute * 60 + 15, count=10 + minute)

    by_five = tsdb_backend.get_range(M.project, [1], five, five + 299, rollup=300)
    by_minute = tsdb_backend.get_range(M.project, [1], five, five + 299, rollup=60)

    assert len(by_minute[1]) == 5
    assert by_five == {1: [(five, sum(counts(by_minute[1])))]}
    assert by_five[1][0][1] == sum(10 + m for m in range(5))


def test_it_aligns_derived_buckets_to_the_epoch(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    result = tsdb_backend.get_range(M.project, [1], now - timedelta(days=3), now, rollup=DAY)

    timestamps = [ts for ts, _ in result[1]]
    assert len(timestamps) == 4
    assert all(
        datetime.fromtimestamp(ts, UTC).time().isoformat() == "00:00:00" for ts in timestamps
    )


def test_incr_multi_equals_repeated_incr(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    earlier = now - timedelta(minutes=7)
    tsdb_backend.incr_multi(
        [
            (M.project_total_received, 1),
            (M.project_total_received, 1),
            (M.project_total_rejected, 1, earlier, 4),
            (M.project_total_received, 1, earlier, None),
            (M.project, 1, None, 3),
        ],
        timestamp=now,
        count=2,
    )
    tsdb_backend.incr(M.project_total_received, 2, now, count=2)
    tsdb_backend.incr(M.project_total_received, 2, now, count=2)
    tsdb_backend.incr(M.project_total_rejected, 2, earlier, count=4)
    tsdb_backend.incr(M.project_total_received, 2, earlier, count=2)
    tsdb_backend.incr(M.project, 2, now, count=3)

    # Two hours back: a series holds only whole buckets, and in the first minutes of an hour
    # the bucket of ``earlier`` starts before a shorter window would.
    start = now - timedelta(hours=2)
    for model in (M.project_total_received, M.project_total_rejected, M.project):
        for rollup in (10, 60, HOUR):
            result = tsdb_backend.get_range(model, [1, 2], start, now, rollup=rollup)
            assert result[1] == result[2]
            assert sum(counts(result[1])) > 0


def test_get_sums_equals_the_sum_of_get_range(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    for minutes, count in ((0, 1), (3, 2), (65, 3), (600, 4), (3000, 5)):
        tsdb_backend.incr(M.project, 1, now - timedelta(minutes=minutes), count=count)
        tsdb_backend.incr(M.project, 2, now - timedelta(minutes=minutes), count=count * 10)

    start = now - timedelta(days=3)
    for rollup in (None, 60, 300, HOUR, 6 * HOUR, DAY):
        ranges = tsdb_backend.get_range(M.project, [1, 2], start, now, rollup=rollup)
        sums = tsdb_backend.get_sums(M.project, [1, 2], start, now, rollup=rollup)
        assert sums == {key: sum(counts(series)) for key, series in ranges.items()}
    assert tsdb_backend.get_sums(M.project, [1, 2], start, now, rollup=HOUR) == {1: 15, 2: 150}


def test_it_returns_zeros_for_buckets_older_than_the_rollup_keeps(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    two_hours_ago = now - timedelta(hours=2)
    tsdb_backend.incr(M.project, 1, two_hours_ago, count=5)

    # 10 s buckets last an hour: an explicit rollup=10 is honoured and reads zeros there.
    at_ten = tsdb_backend.get_range(
        M.project, [1], two_hours_ago - timedelta(minutes=1), two_hours_ago, rollup=10
    )
    at_minute = tsdb_backend.get_range(
        M.project, [1], two_hours_ago - timedelta(minutes=1), two_hours_ago, rollup=60
    )

    assert len(at_ten[1]) == 7
    assert counts(at_ten[1]) == [0] * 7
    assert sum(counts(at_minute[1])) == 5


def test_it_ignores_increments_of_zero(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    tsdb_backend.incr_multi([(M.project, 1, now, 0), (M.project, 1, now, 2)])
    assert tsdb_backend.get_sums(M.project, [1], now, now, rollup=10) == {1: 2}


def test_it_counts_exactly_under_concurrent_increments(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            barrier.wait()
            for _ in range(1000):
                tsdb_backend.incr(M.project_total_received, 99, now)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for rollup in (10, 60, HOUR):
        sums = tsdb_backend.get_sums(M.project_total_received, [99], now, now, rollup=rollup)
        assert sums == {99: 8000}


def test_flush_forgets_every_count(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    tsdb_backend.incr(M.project, 1, now)
    tsdb_backend.flush()
    assert tsdb_backend.get_sums(M.project, [1], now, now) == {1: 0}


def test_validate_passes_when_the_store_is_up(tsdb_backend: BaseTSDB) -> None:
    tsdb_backend.validate()


def test_it_returns_an_empty_dict_for_no_keys(tsdb_backend: BaseTSDB) -> None:
    now = utcnow()
    assert tsdb_backend.get_range(M.project, [], now - timedelta(hours=1), now) == {}
    assert tsdb_backend.get_sums(M.project, [], now - timedelta(hours=1), now) == {}
