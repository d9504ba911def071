"""InMemoryTSDB specifics: expired buckets leave memory."""

from __future__ import annotations

from tsdb.base import TSDBModel
from tsdb.inmemory import InMemoryTSDB


def test_it_forgets_buckets_once_they_expire() -> None:
    clock = [1_700_000_000.0]
    backend = InMemoryTSDB(clock=lambda: clock[0])
    backend.incr(TSDBModel.project, 1, count=3)
    assert backend.stored_buckets() == 3

    clock[0] += 3600 + 10  # the 10 s bucket has expired, the minute and hour ones have not
    assert backend.get_sums(TSDBModel.project, [1], clock[0] - 7200, clock[0], rollup=10) == {1: 0}
    assert backend.get_sums(TSDBModel.project, [1], clock[0] - 7200, clock[0], rollup=60) == {1: 3}

    backend.incr(TSDBModel.project, 2)
    assert backend.stored_buckets() == 2 + 3  # old 10 s bucket swept, 3 new ones

    clock[0] += 90 * 86400
    backend.incr(TSDBModel.project, 3)
    assert backend.stored_buckets() == 3
