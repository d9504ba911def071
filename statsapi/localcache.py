"""A process-local cache with one time-to-live, for values read on every request.

``LocalCache.get_or_load(key, load)`` returns the value stored under ``key`` while it is
younger than the TTL, else calls ``load()`` and stores its result (None included, so a miss is
cached as well as a hit). Values are kept as they are, not copied: store immutable values, or
hand out copies. ``clear()`` forgets everything at once; a ``load()`` that was running while
``clear()`` was called does not store its (possibly stale) result.

Why not Django's cache framework: its local-memory backend pickles every value on ``get`` and
``set`` (tens of microseconds per model instance, several per request), and any shared backend
costs a network round trip. What a value may lag behind the database is the TTL: each process
reads it again at most TTL seconds after it first read it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar, cast

from statsapi import metrics

T = TypeVar("T")


class LocalCache:
    """A dict of ``key -> (deadline, value)``; thread-safe, bounded by ``max_entries`` (when
    full, it is emptied rather than scanned for the oldest entries)."""

    def __init__(
        self,
        ttl: Callable[[], float],
        max_entries: int = 100_000,
        metrics_name: str | None = None,
    ) -> None:
        """``ttl()`` gives the time-to-live in seconds when a value is stored (0: no caching);
        a callable, so that a changed setting takes effect without a restart. With a
        ``metrics_name``, every lookup is counted as a hit or a miss under that ``cache`` label
        of ``statsapi_cache_requests_total``."""
        self._ttl = ttl
        self._max_entries = max_entries
        self._metrics_name = metrics_name
        self._entries: dict[Hashable, tuple[float, object]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def get_or_load(self, key: Hashable, load: Callable[[], T]) -> T:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            if self._metrics_name is not None:
                metrics.cache_lookup(self._metrics_name, hit=True)
            return cast(T, entry[1])
        if self._metrics_name is not None:
            metrics.cache_lookup(self._metrics_name, hit=False)
        generation = self._generation
        value = load()
        ttl = self._ttl()
        if ttl > 0:
            with self._lock:
                if generation == self._generation:
                    if len(self._entries) >= self._max_entries:
                        self._entries.clear()
                    self._entries[key] = (now + ttl, value)
        return value

    def clear(self) -> None:
        """Forget every value (in this process); loads under way do not store theirs."""
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
