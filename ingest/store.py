"""Ingest's own shared state: quota counters (and, in the same round trip, the registrations
of outcome combinations that ``usage.registry`` keeps).

``RedisIngestStore`` layout (``prefix`` is ``settings.QUOTAS_PREFIX``)::

    {prefix}k:{key_id}:{window}:{window_start}    quota counter of a DSN key (string)
    {prefix}o:{org_id}:{window}:{window_start}    quota counter of an organization (string)
                                                  both EXPIREAT the window's end

A quota is taken with a one-key script (check, then INCRBY and EXPIREAT, atomically), so a
refused event never uses quota; quota is given back with another one-key script. Scripts are
called by their SHA1 (EVALSHA); a server that does not hold a script (restarted, SCRIPT FLUSH,
a cluster node that never ran it) answers NOSCRIPT without running anything, and those commands
alone are sent again as EVAL, which runs the script and leaves it cached there. Every command
names exactly one key (EVALSHA with one declared key, SADD, EXPIRE, SMEMBERS), so each runs on
whichever Redis Cluster node owns that key's slot. ``exchange`` sends every quota take of a
request, and the registry commands it is given (``usage.registry.BaseRegistry.add_commands``),
in one batch: one round trip on a single Redis.

Redis Cluster (``settings.REDIS_CLUSTER``): ``REDIS_URL`` names one node; the cluster client is
built on first use (a cluster down at startup does not stop the server). A batch is split per
node and written to every node before any reply is read: one round trip per node touched, in
parallel, so about one round-trip time. A request touches the nodes of its key's counter, its
organization's counter (when those quotas are set) and, only the first time a process sees an
outcome combination, its organization's outcome set: at most three nodes, usually one or two.
Nothing is resent after a connection error or timeout (a resent take could use quota twice);
only commands the cluster refused unexecuted (MOVED, ASK, TRYAGAIN while slots migrate) are
sent again, one by one (``tsdb.redisclient.ClusterBatch``, shared with the TSDB).

Failures are classified as the TSDB classifies them (``tsdb.redisclient``): Redis unreachable,
timed out, loading, read-only, out of memory or a cluster down raise TSDBUnavailable (an
outage: a 503); any other error reply (WRONGTYPE, a script error) is a bug or a foreign key
under our prefix and is raised as the ``redis.RedisError`` it is (the ingest view logs it with
its traceback and still answers 503, see ``ingest.views``).

With ``REDIS_URL`` empty (the embedded server) ``InMemoryIngestStore`` keeps the same state,
with the same semantics, in this process.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from redis.exceptions import NoScriptError

from tsdb.redisclient import (
    ClusterBatch,
    LazyRedisClient,
    client_options,
    unavailable_on_redis_errors,
)
from usage.registry import Command

# KEYS[1] counter; ARGV limit, amount, expire-at. Returns {granted 0/1, count after}.
TAKE_QUOTA_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[2])
if current + amount > tonumber(ARGV[1]) then return {0, current} end
current = redis.call('INCRBY', KEYS[1], amount)
redis.call('EXPIREAT', KEYS[1], ARGV[3])
return {1, current}
"""

# KEYS[1] counter; ARGV amount. A counter that expired meanwhile is left alone: DECRBY would
# make it again, negative and without an expiry.
GIVE_BACK_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('DECRBY', KEYS[1], ARGV[1])
"""

TAKE_QUOTA_SHA = hashlib.sha1(TAKE_QUOTA_SCRIPT.encode()).hexdigest()
GIVE_BACK_SHA = hashlib.sha1(GIVE_BACK_SCRIPT.encode()).hexdigest()
# What EVALSHA names -> what EVAL sends where the script is not cached.
_SCRIPTS = {TAKE_QUOTA_SHA: TAKE_QUOTA_SCRIPT, GIVE_BACK_SHA: GIVE_BACK_SCRIPT}


@dataclass(frozen=True, slots=True)
class QuotaTake:
    """Take ``amount`` from counter ``name`` if that keeps it within ``limit``."""

    name: str
    limit: int
    amount: int
    expire_at: int


class BaseIngestStore:
    def exchange(self, takes: list[QuotaTake], commands: list[Command]) -> list[bool]:
        """Apply every take (in order, each atomically) and send ``commands`` (Redis commands
        of one key each, for the same Redis), all at once. Returns one granted flag per take."""
        raise NotImplementedError

    def give_back(self, takes: list[QuotaTake]) -> None:
        """Return quota taken by ``takes`` (an event refused later, or not counted)."""
        raise NotImplementedError


class RedisIngestStore(BaseIngestStore):
    """The store in one Redis server, or with ``cluster=True`` in a Redis Cluster of which
    ``url`` names one node (see the module docstring)."""

    def __init__(self, url: str, *, cluster: bool = False) -> None:
        self.cluster = cluster
        # Fail fast, never resend: a resent take after a lost reply would use quota twice.
        self._connector = LazyRedisClient(
            url, cluster=cluster, options=client_options(decode_responses=True)
        )

    @property
    def client(self) -> Any:
        """The redis-py client; a cluster client is built (and connects) on first use."""
        return self._connector.client

    def _send_once(self, commands: list[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """Send ``(key, command)`` pairs in one batch (one per node on a cluster, each command
        sent to the node of its key); their replies in order, error replies in place."""
        client = self.client
        if not self.cluster:
            pipe = client.pipeline(transaction=False)
            for _, args in commands:
                pipe.execute_command(*args)
            return list(pipe.execute(raise_on_error=False))
        batch = ClusterBatch(client)
        for key, args in commands:
            batch.execute_command(*args, key=key)
        return batch.execute(raise_on_error=False)

    def _send(self, commands: list[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """Send ``(key, command)`` pairs, each command naming only that key: one round trip on
        a single Redis, one batch per node on a cluster, plus one more only for EVALSHAs a
        server answered NOSCRIPT (sent again as EVAL). Returns the replies in order; the first
        error reply raises (see the module docstring for which ones are TSDBUnavailable)."""
        with unavailable_on_redis_errors():
            replies = self._send_once(commands)
            for reply in replies:
                if isinstance(reply, Exception) and not isinstance(reply, NoScriptError):
                    raise reply
            missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if missing:
                # Refused unexecuted, so sending them again cannot take quota twice.
                again = []
                for index in missing:
                    key, (_, sha, *rest) = commands[index]
                    again.append((key, ("EVAL", _SCRIPTS[sha], *rest)))
                for index, reply in zip(missing, self._send_once(again), strict=True):
                    replies[index] = reply
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
            return replies

    def exchange(self, takes: list[QuotaTake], commands: list[Command]) -> list[bool]:
        batch: list[Command] = [
            (
                take.name,
                ("EVALSHA", TAKE_QUOTA_SHA, 1, take.name, take.limit, take.amount, take.expire_at),
            )
            for take in takes
        ]
        replies = self._send(batch + commands)
        return [bool(reply[0]) for reply in replies[: len(takes)]]

    def give_back(self, takes: list[QuotaTake]) -> None:
        if takes:
            self._send(
                [
                    (take.name, ("EVALSHA", GIVE_BACK_SHA, 1, take.name, take.amount))
                    for take in takes
                ]
            )

    def close(self) -> None:
        self._connector.close()


class InMemoryIngestStore(BaseIngestStore):
    """The same state in this process (one worker only), behind one lock."""

    def __init__(self) -> None:
        self._counters: dict[str, tuple[int, int]] = {}  # name -> (count, expire_at)
        self._lock = threading.Lock()

    def exchange(self, takes: list[QuotaTake], commands: list[Command]) -> list[bool]:
        if commands:
            raise ValueError("the in-memory store sends no Redis commands")
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
            if len(self._counters) > 10_000:
                self._counters = {k: v for k, v in self._counters.items() if v[1] > now}
        return granted

    def give_back(self, takes: list[QuotaTake]) -> None:
        with self._lock:
            for take in takes:
                current, expire_at = self._counters.get(take.name, (0, 0))
                self._counters[take.name] = (max(0, current - take.amount), expire_at)


_lock = threading.Lock()
_stores: dict[tuple[str, bool], BaseIngestStore] = {}


def get_store() -> BaseIngestStore:
    """The store for ``settings.REDIS_URL`` (a Redis Cluster when ``settings.REDIS_CLUSTER``;
    in memory when the URL is empty), built once."""
    url = settings.REDIS_URL or ""
    cluster = bool(getattr(settings, "REDIS_CLUSTER", False))
    store = _stores.get((url, cluster))
    if store is None:
        with _lock:
            store = _stores.get((url, cluster))
            if store is None:
                store = RedisIngestStore(url, cluster=cluster) if url else InMemoryIngestStore()
                _stores[(url, cluster)] = store
    return store


def _reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in ("REDIS_URL", "REDIS_CLUSTER"):
        with _lock:
            for store in _stores.values():
                if isinstance(store, RedisIngestStore):
                    store.close()
            _stores.clear()


setting_changed.connect(_reset_on_setting_change, dispatch_uid="ingest.store.setting_changed")
