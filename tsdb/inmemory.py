"""InMemoryTSDB: the embedded store for a single-process server, demos and tests."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from .base import BaseTSDB, WritePlan

__all__ = ["InMemoryTSDB"]


class InMemoryTSDB(BaseTSDB):
    """Counters in a dict, ``(model, rollup, bucket) -> {str(key): count}``, behind one lock.

    Buckets expire exactly as in Redis (``bucket + rollup * samples``): expired buckets read
    as 0 and are swept from memory at most once per finest rollup interval, on a write.
    The data lives in this process only; run one worker with it.
    """

    def __init__(self, rollups: Sequence[tuple[int, int]] | None = None, **kwargs: Any) -> None:
        super().__init__(rollups, **kwargs)
        self._data: dict[tuple[int, int, int], dict[str, int]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0

    def _write(self, plan: WritePlan) -> None:
        now = self.now()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            data = self._data
            for hash_key, fields in plan.items():
                stored = data.get(hash_key)
                if stored is None:
                    data[hash_key] = dict(fields)
                    continue
                for field, count in fields.items():
                    stored[field] = stored.get(field, 0) + count

    def _sweep(self, now: int) -> None:
        retention = self._retention
        expired = [key for key in self._data if key[2] + retention[key[1]] <= now]
        for key in expired:
            del self._data[key]
        self._next_sweep = now + self.rollups[0][0]

    def _read(
        self, model: int, rollup: int, buckets: list[int], fields: list[str]
    ) -> list[list[int]]:
        now = self.now()
        alive_after = now - self._retention[rollup]
        rows = [[0] * len(buckets) for _ in fields]
        with self._lock:
            for column, bucket in enumerate(buckets):
                stored = self._data.get((model, rollup, bucket))
                if stored is None or bucket <= alive_after:
                    continue
                for row, field in zip(rows, fields, strict=True):
                    row[column] = stored.get(field, 0)
        return rows

    def stored_buckets(self) -> int:
        """How many (model, rollup, bucket) hashes are held in memory, expired or not yet
        swept included."""
        with self._lock:
            return len(self._data)

    def validate(self) -> None:
        """Always healthy: the data is in this process."""

    def flush(self) -> None:
        """Forget every count."""
        with self._lock:
            self._data.clear()
