"""Rollup maths shared by every backend: optimal rollup, series, limits (plus properties)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsdb.base import MAX_POINTS, BaseTSDB, TSDBLimitExceeded, TSDBModel
from tsdb.inmemory import InMemoryTSDB

# A fixed "now", mid-bucket for every rollup: 2024-03-10 12:34:56.5 UTC.
NOW = datetime(2024, 3, 10, 12, 34, 56, 500000, tzinfo=UTC)
DAY = 86400


@pytest.fixture
def maths() -> BaseTSDB:
    return InMemoryTSDB()


def optimal(backend: BaseTSDB, span: timedelta, ago: timedelta = timedelta(0)) -> int:
    end = NOW - ago
    return backend.get_optimal_rollup(end - span, end, now=NOW)


def test_it_picks_ten_seconds_for_the_last_50_minutes(maths: BaseTSDB) -> None:
    assert optimal(maths, timedelta(minutes=50)) == 10


def test_it_picks_ten_seconds_up_to_the_last_360_buckets(maths: BaseTSDB) -> None:
    assert optimal(maths, timedelta(seconds=3599)) == 10


def test_it_picks_one_minute_for_exactly_the_last_hour(maths: BaseTSDB) -> None:
    # The 361st 10-s bucket has already expired.
    assert optimal(maths, timedelta(hours=1)) == 60


def test_it_picks_one_minute_for_the_last_two_hours(maths: BaseTSDB) -> None:
    assert optimal(maths, timedelta(hours=2)) == 60


def test_it_picks_one_minute_up_to_the_last_720_buckets(maths: BaseTSDB) -> None:
    assert optimal(maths, timedelta(seconds=719 * 60 + 59)) == 60
    assert optimal(maths, timedelta(hours=12)) == 3600


def test_it_picks_one_hour_for_the_default_day(maths: BaseTSDB) -> None:
    assert optimal(maths, timedelta(seconds=DAY - 1)) == 3600


def test_it_skips_rollups_that_no_longer_keep_an_old_window(maths: BaseTSDB) -> None:
    # Short windows in the past: the span alone would pick 10 s, retention says otherwise.
    assert optimal(maths, timedelta(minutes=5), ago=timedelta(minutes=30)) == 10
    assert optimal(maths, timedelta(minutes=5), ago=timedelta(minutes=58)) == 60
    assert optimal(maths, timedelta(minutes=5), ago=timedelta(hours=2)) == 60
    assert optimal(maths, timedelta(minutes=5), ago=timedelta(hours=13)) == 3600
    assert optimal(maths, timedelta(minutes=5), ago=timedelta(days=200)) == 3600


def test_it_picks_the_coarsest_rollup_for_long_windows(maths: BaseTSDB) -> None:
    assert optimal(maths, timedelta(days=7, seconds=1)) == 3600
    assert optimal(maths, timedelta(days=30)) == 3600
    assert optimal(maths, timedelta(hours=MAX_POINTS - 1)) == 3600


def test_it_picks_days_then_weeks_past_the_point_cap(maths: BaseTSDB) -> None:
    assert optimal(maths, timedelta(hours=MAX_POINTS)) == DAY
    assert optimal(maths, timedelta(days=MAX_POINTS - 1)) == DAY
    assert optimal(maths, timedelta(days=MAX_POINTS)) == 7 * DAY
    assert optimal(maths, timedelta(weeks=MAX_POINTS - 1)) == 7 * DAY
    assert optimal(maths, timedelta(weeks=MAX_POINTS)) == 14 * DAY


def test_it_walks_the_series_back_from_end(maths: BaseTSDB) -> None:
    end = datetime(2024, 3, 10, 12, 34, 56, tzinfo=UTC)
    series = maths.get_series(end - timedelta(seconds=DAY - 1), end, 3600)

    assert len(series) == 24
    assert series[-1] == int(datetime(2024, 3, 10, 12, tzinfo=UTC).timestamp())
    assert series[0] == int(datetime(2024, 3, 9, 13, tzinfo=UTC).timestamp())


def test_it_counts_points_with_sub_second_precision(maths: BaseTSDB) -> None:
    # floor((end - start) / r) + 1 on the real values, not on truncated seconds.
    assert len(maths.get_series(0.9, 10.1, 10)) == 1
    assert len(maths.get_series(0.9, 10.9, 10)) == 2
    assert len(maths.get_series(1421092384.822244, 1421092384.822244 + 86399, 3600)) == 24


def test_it_refuses_reading_too_many_stored_buckets() -> None:
    backend = InMemoryTSDB(rollups=[(1, 200_000)])
    end = datetime.now(UTC)
    with pytest.raises(TSDBLimitExceeded, match=r"100,000 stored buckets.*coarser resolution"):
        backend.check_limits(end - timedelta(days=2), end, 30)
    # Outside the retention nothing is read, so an old window is fine.
    old_end = end - timedelta(days=10)
    backend.check_limits(old_end - timedelta(days=2), old_end, 30)


def test_it_names_the_point_limit_and_a_resolution_that_fits(maths: BaseTSDB) -> None:
    with pytest.raises(TSDBLimitExceeded) as excinfo:
        maths.check_limits(NOW - timedelta(days=30), NOW, 60, now=NOW)
    assert "43,201 points" in str(excinfo.value)
    assert "limit of 10,000" in str(excinfo.value)
    assert "e.g. 1d" in str(excinfo.value)


resolutions = st.sampled_from([10, 60, 3600]).flatmap(
    lambda r: st.integers(min_value=1, max_value=48).map(lambda n: r * n)
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@given(
    start_us=st.integers(0, 4_000_000_000 * 10**6),
    resolution=resolutions,
    span_us=st.integers(0, 3000 * 3600 * 10**6),
)
@settings(max_examples=300, deadline=None)
def test_series_are_aligned_ascending_gapless_and_end_in_the_last_bucket(
    start_us: int, resolution: int, span_us: int
) -> None:
    backend = InMemoryTSDB()
    span_us = span_us % (resolution * 5000 * 10**6)  # stay under the point cap
    start = EPOCH + timedelta(microseconds=start_us)
    end = start + timedelta(microseconds=span_us)
    series = backend.get_series(start, end, resolution)

    end_s = (start_us + span_us) / 10**6
    assert all(ts % resolution == 0 for ts in series)
    assert all(b - a == resolution for a, b in itertools.pairwise(series))
    assert series[-1] <= end_s < series[-1] + resolution
    assert len(series) == span_us // (resolution * 10**6) + 1


@given(
    span=st.integers(0, 400 * DAY),
    ago=st.integers(0, 200 * DAY),
    now=st.integers(1_000_000_000, 3_000_000_000),
)
@settings(max_examples=300, deadline=None)
def test_the_optimal_rollup_keeps_every_bucket_it_returns(span: int, ago: int, now: int) -> None:
    backend = InMemoryTSDB()
    end = now - ago
    rollup = backend.get_optimal_rollup(end - span, end, now=now)
    series = backend.get_series(end - span, end, rollup)
    kept = [r for r, _ in backend.rollups]

    assert len(series) <= MAX_POINTS
    if rollup in kept[:-1]:
        assert series[0] >= backend.oldest_kept_bucket(rollup, now)
    for finer in kept[: kept.index(rollup) if rollup in kept else len(kept)]:
        finer_series = backend.get_series(end - span, end, finer)
        assert (
            finer_series[0] < backend.oldest_kept_bucket(finer, now)
            or len(finer_series) > MAX_POINTS
        )


@given(
    offsets=st.lists(st.tuples(st.integers(0, 11 * 3600), st.integers(1, 5)), max_size=30),
    multiple=st.sampled_from([2, 3, 5, 15, 30, 60, 120]),
)
@settings(max_examples=100, deadline=None)
def test_a_derived_resolution_sums_its_finer_buckets(
    offsets: list[tuple[int, int]], multiple: int
) -> None:
    now = 1_700_000_000
    backend = InMemoryTSDB(clock=lambda: now)
    for offset, count in offsets:
        backend.incr(TSDBModel.project, 1, now - offset, count)
    resolution = 60 * multiple
    start = now - 11 * 3600

    derived = backend.get_range(TSDBModel.project, [1], start, now, rollup=resolution)[1]
    minutes = backend.get_range(
        TSDBModel.project, [1], derived[0][0], derived[-1][0] + resolution - 1, rollup=60
    )[1]

    expected: dict[int, int] = {}
    for ts, count in minutes:
        bucket = ts // resolution * resolution
        expected[bucket] = expected.get(bucket, 0) + count
    assert derived == sorted(expected.items())
    # The series walks back from ``now``: its first bucket may start after ``start``.
    in_window = sum(c for offset, c in offsets if now - offset >= derived[0][0])
    assert sum(c for _, c in derived) == in_window
