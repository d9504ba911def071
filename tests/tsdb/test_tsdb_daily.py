"""The daily summary: reads at multiples of a day take whole days from it, and answer exactly
what summing the hourly buckets answers, also for the first, partly expired day. Run against
every backend (in-memory, Redis, Redis Cluster)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tsdb.base import BaseTSDB, TSDBModel

M = TSDBModel
HOUR = 3600
DAY = 86400


def at_noon(backend: BaseTSDB) -> datetime:
    """Move the backend's clock forward (never back: what Redis holds must not be expired by
    its own clock) to this or the next 12:xx UTC, so the oldest hour it keeps is 13:00 of a
    day 90 days ago: that day is partly expired. Returns its "now"."""
    shift = (12 - datetime.now(UTC).hour) % 24 * HOUR
    backend.clock = lambda: time.time() + shift
    return datetime.fromtimestamp(backend.now(), UTC)


def test_days_from_the_summary_equal_the_sums_of_their_hours(tsdb_backend: BaseTSDB) -> None:
    assert tsdb_backend.daily == DAY
    now = at_noon(tsdb_backend)
    oldest = tsdb_backend.oldest_kept_bucket(HOUR)
    assert oldest % DAY == 13 * HOUR
    stamps = [oldest + HOUR, oldest + 5 * HOUR, oldest + 30 * HOUR]
    stamps += [int((now - timedelta(days=d)).timestamp()) for d in (40, 3, 0)]
    for n, ts in enumerate(stamps, 1):
        tsdb_backend.incr_multi([(M.project, 1, ts, n), (M.project, 2, ts, 10 * n)])
    start = now - timedelta(days=91)
    hourly = tsdb_backend.get_range(M.project, [1, 2], start, now, rollup=HOUR)

    for rollup in (DAY, 2 * DAY, 7 * DAY):
        days = tsdb_backend.get_range(M.project, [1, 2], start, now, rollup=rollup)
        for key in (1, 2):
            expected = dict.fromkeys((ts for ts, _ in days[key]), 0)
            for ts, count in hourly[key]:
                expected[ts // rollup * rollup] += count
            assert days[key] == list(expected.items())
        assert sum(count for _, count in days[1]) == sum(range(1, len(stamps) + 1))
        sums = tsdb_backend.get_sums(M.project, [1, 2], start, now, rollup=rollup)
        assert sums == {1: 21, 2: 210}


def test_a_count_for_a_partly_expired_day_is_read_from_its_hours(tsdb_backend: BaseTSDB) -> None:
    # An hour still kept in a day whose first hours have expired: the day is no longer whole,
    # so the count goes to the hour only, and a daily read sums that day from its hours.
    now = at_noon(tsdb_backend)
    oldest = tsdb_backend.oldest_kept_bucket(HOUR)
    day = oldest // DAY * DAY
    tsdb_backend.incr(M.project, 3, day + DAY - HOUR, count=4)  # 23:00 of that day

    series = tsdb_backend.get_range(M.project, [3], now - timedelta(days=91), now, rollup=DAY)

    assert dict(series[3])[day] == 4
    assert sum(count for _, count in series[3]) == 4
