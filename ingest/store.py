"""Ingest's own shared state: quota counters and the per-organization outcome key sets.

``RedisIngestStore`` layout (``prefix`` is ``settings.QUOTAS_PREFIX``)::

    {prefix}k:{key_id}:{window}:{window_start}    quota counter of a DSN key (string)
    {prefix}o:{org_id}:{window}:{window_start}    quota counter of an organization (string)
                                                  both EXPIREAT the window's end
    {prefix}outcomes:{org_id}                     set of outcome keys seen in the organization
                                                  (tsdb.base.outcome_key), EXPIRE past the
                                                  longest TSDB retention

A quota is taken with a one-key script (check, then INCRBY and EXPIREAT, atomically), so a
refused event never uses quota and every command touches a single key (Redis Cluster safe).
``exchange`` sends every quota check and set addition of a request in one pipeline: one round
trip. With ``REDIS_URL`` empty (the embedded server) ``InMemoryIngestStore`` keeps the same
state, with the same semantics, in this process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.core.signals import setting_changed
from redis.backoff import NoBackoff
from redis.retry import Retry

from tsdb.base import TSDBUnavailable

# KEYS[1] counter; ARGV limit, amount, expire-at. Returns {granted 0/1, count after}.
TAKE_QUOTA_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[2])
if current + amount > tonumber(ARGV[1]) then return {0, current} end
current = redis.call('INCRBY', KEYS[1], amount)
redis.call('EXPIREAT', KEYS[1], ARGV[3])
return {1, current}
"""


@dataclass(frozen=True, slots=True)
class QuotaTake:
    """Take ``amount`` from counter ``name`` if that keeps it within ``limit``."""

    name: str
    limit: int
    amount: int
    expire_at: int


@contextmanager
def unavailable_on_redis_errors() -> Iterator[None]:
    try:
        yield
    except (redis.RedisError, OSError) as exc:
        raise TSDBUnavailable(f"Redis is unavailable: {exc}") from exc


class BaseIngestStore:
    def exchange(
        self, takes: list[QuotaTake], members: dict[str, list[str]], members_ttl: int
    ) -> list[bool]:
        """Apply every take (in order, each atomically) and add ``members`` to their sets
        (set name -> members), all at once. Returns one granted flag per take."""
        raise NotImplementedError

    def give_back(self, takes: list[QuotaTake]) -> None:
        """Return quota taken by ``takes`` (an event refused later, or not counted)."""
        raise NotImplementedError

    def set_members(self, name: str) -> set[str]:
        raise NotImplementedError


class RedisIngestStore(BaseIngestStore):
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(
            url,
            socket_connect_timeout=1.0,
            socket_timeout=5.0,
            # Not retried: a resent INCRBY after a lost reply would take quota twice.
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )

    def exchange(
        self, takes: list[QuotaTake], members: dict[str, list[str]], members_ttl: int
    ) -> list[bool]:
        pipe = self.client.pipeline(transaction=False)
        for take in takes:
            pipe.execute_command(
                "EVAL", TAKE_QUOTA_SCRIPT, 1, take.name, take.limit, take.amount, take.expire_at
            )
        for name, values in members.items():
            pipe.execute_command("SADD", name, *values)
            pipe.execute_command("EXPIRE", name, members_ttl)
        with unavailable_on_redis_errors():
            replies = pipe.execute()
        return [bool(reply[0]) for reply in replies[: len(takes)]]

    def give_back(self, takes: list[QuotaTake]) -> None:
        if not takes:
            return
        pipe = self.client.pipeline(transaction=False)
        for take in takes:
            pipe.execute_command("DECRBY", take.name, take.amount)
        with unavailable_on_redis_errors():
            pipe.execute()

    def set_members(self, name: str) -> set[str]:
        with unavailable_on_redis_errors():
            return set(self.client.smembers(name))

    def close(self) -> None:
        self.client.close()


class InMemoryIngestStore(BaseIngestStore):
    """The same state in this process (one worker only), behind one lock."""

    def __init__(self) -> None:
        self._counters: dict[str, tuple[int, int]] = {}  # name -> (count, expire_at)
        self._sets: dict[str, tuple[set[str], float]] = {}
        self._lock = threading.Lock()

    def exchange(
        self, takes: list[QuotaTake], members: dict[str, list[str]], members_ttl: int
    ) -> list[bool]:
        now = time.time()
        granted = []
        with self._lock:
            for take in takes:
                current, expire_at = self._counters.get(take.name, (0, 0))
                if expire_at <= now:
                    current = 0
                if current + take.amount > take.limit:
                    granted.append(False)
                    continue
                self._counters[take.name] = (current + take.amount, take.expire_at)
                granted.append(True)
            for name, values in members.items():
                stored = self._sets.get(name)
                values_set = stored[0] if stored and stored[1] > now else set()
                values_set.update(values)
                self._sets[name] = (values_set, now + members_ttl)
            if len(self._counters) > 10_000:
                self._counters = {k: v for k, v in self._counters.items() if v[1] > now}
        return granted

    def give_back(self, takes: list[QuotaTake]) -> None:
        with self._lock:
            for take in takes:
                current, expire_at = self._counters.get(take.name, (0, 0))
                self._counters[take.name] = (max(0, current - take.amount), expire_at)

    def set_members(self, name: str) -> set[str]:
        with self._lock:
            stored = self._sets.get(name)
            return set(stored[0]) if stored and stored[1] > time.time() else set()


_lock = threading.Lock()
_stores: dict[str, BaseIngestStore] = {}


def get_store() -> BaseIngestStore:
    """The store for ``settings.REDIS_URL`` (in memory when it is empty), built once."""
    url = settings.REDIS_URL or ""
    store = _stores.get(url)
    if store is None:
        with _lock:
            store = _stores.get(url)
            if store is None:
                store = RedisIngestStore(url) if url else InMemoryIngestStore()
                _stores[url] = store
    return store


def _reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "REDIS_URL":
        with _lock:
            for store in _stores.values():
                if isinstance(store, RedisIngestStore):
                    store.close()
            _stores.clear()


setting_changed.connect(_reset_on_setting_change, dispatch_uid="ingest.store.setting_changed")
