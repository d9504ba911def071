"""InMemoryTSDB: the embedded store for a single-process server, demos and tests."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Final

from .base import BaseTSDB, WritePlan

__all__ = ["InMemoryTSDB"]

BLOCK_BUCKETS: Final = 64


class InMemoryTSDB(BaseTSDB):
    """Counters in lists of 64 buckets, ``(model, rollup, block, str(key)) -> [count, ...]``,
    behind one lock (the daily summary too, as rollup 86400): the layout of the Redis
    backend, so a series over N buckets is read as N / 64 list slices, not N lookups.

    A block is dropped when its last bucket expires (``block + 63 x rollup + rollup x
    samples``), swept at most once per finest rollup interval, on a write; a bucket past
    retention in a block still held is never read (reads start at the oldest bucket kept).
    The data lives in this process only; run one worker with it.
    """

    def __init__(self, rollups: Sequence[tuple[int, int]] | None = None, **kwargs: Any) -> None:
        super().__init__(rollups, **kwargs)
        self._data: dict[tuple[int, int, int, str], list[int]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0

    def _write(self, plan: WritePlan) -> None:
        now = self.now()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            data = self._data
            for (model, rollup, bucket), fields in plan.items():
                index = bucket // rollup
                offset = index % BLOCK_BUCKETS
                block = (index - offset) * rollup
                model = int(model)
                for field, count in fields.items():
                    counters = data.get((model, rollup, block, field))
                    if counters is None:
                        counters = data[(model, rollup, block, field)] = [0] * BLOCK_BUCKETS
                    counters[offset] += count

    def _sweep(self, now: int) -> None:
        retention = self._retention
        tail = BLOCK_BUCKETS - 1
        expired = [key for key in self._data if key[2] + tail * key[1] + retention[key[1]] <= now]
        for key in expired:
            del self._data[key]
        self._next_sweep = now + self.rollups[0][0]

    def _read(
        self, model: int, rollup: int, buckets: list[int], fields: list[str]
    ) -> list[list[int]]:
        first, last = buckets[0] // rollup, buckets[-1] // rollup
        segments = []
        index = first
        while index <= last:
            start = index - index % BLOCK_BUCKETS
            end = min(last, start + BLOCK_BUCKETS - 1)
            segments.append((start * rollup, index - start, end - start + 1))
            index = end + 1
        rows = []
        model = int(model)
        with self._lock:
            data = self._data
            for field in fields:
                row: list[int] = []
                for block, begin, end in segments:
                    counters = data.get((model, rollup, block, field))
                    row += [0] * (end - begin) if counters is None else counters[begin:end]
                rows.append(row)
        return rows

    def stored_blocks(self) -> int:
        """How many (model, rollup, block, key) lists are held in memory, expired ones not
        yet swept included."""
        with self._lock:
            return len(self._data)

    def validate(self) -> None:
        """Always healthy: the data is in this process."""

    def flush(self) -> None:
        """Forget every count."""
        with self._lock:
            self._data.clear()
