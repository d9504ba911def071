"""InMemoryTSDB specifics: a block leaves memory when its last bucket expires, and a bucket
past retention in a block still held is never read."""

from __future__ import annotations

from tsdb.base import TSDBModel
from tsdb.inmemory import BLOCK_BUCKETS, InMemoryTSDB

# 2023-11-13 12:00 UTC: a block of every rollup starts here (64 hours divide it, so 64
# minutes and 640 seconds do too).
T0 = 3600 * BLOCK_BUCKETS * 7_378


def test_it_forgets_a_block_once_its_last_bucket_expires() -> None:
    clock = [float(T0)]
    backend = InMemoryTSDB(clock=lambda: clock[0])
    backend.incr(TSDBModel.project, 1, count=3)
    assert backend.stored_blocks() == 4  # one block per rollup and the daily summary

    # An hour and 10 s later the first 10 s bucket has expired: it reads 0 although its
    # block (63 more buckets) is still held; the minute and the hour still count it.
    clock[0] += 3600 + 10
    assert backend.get_sums(TSDBModel.project, [1], T0 - 60, clock[0], rollup=10) == {1: 0}
    assert backend.get_sums(TSDBModel.project, [1], T0 - 60, clock[0], rollup=60) == {1: 3}
    backend.incr(TSDBModel.project, 2)
    assert backend.stored_blocks() == 4 + 4  # nothing swept: the 10 s block lives on

    # Past the block's last bucket (63 x 10 s later) it is swept on the next write.
    clock[0] = T0 + 10 * (BLOCK_BUCKETS - 1) + 3600
    backend.incr(TSDBModel.project, 3)
    assert backend.get_sums(TSDBModel.project, [1], T0, clock[0], rollup=60) == {1: 3}
    assert backend.stored_blocks() == 4 + 4 + 4 - 1

    clock[0] += 160 * 86400  # past 90 days + the 63 days of a daily block
    backend.incr(TSDBModel.project, 4)
    assert backend.stored_blocks() == 4
