"""API abuse limits: DRF throttling per token and per client address, counted in Redis.

``ApiRateThrottle`` (REST_FRAMEWORK's only throttle class) counts every API request that passed
authentication and permissions twice, in fixed windows: once for its credentials (the token, or
the logged-in user of an admin session) and once for the client's address (``REMOTE_ADDR``, or
the nearest untrusted ``X-Forwarded-For`` hop behind ``INGEST_TRUSTED_PROXIES``). Either count
over its limit refuses the request with 429, ``Retry-After`` (seconds until the window ends)
and ``{"detail": ...}``; a refused request still counts.

- Cost: both counters in one Redis round trip (INCR and EXPIRE of each, pipelined; on a Redis
  Cluster one batch per node, all written before any reply is read).
- Redis unavailable (refused, timed out, loading): the request is let through unthrottled,
  with one warning in the log, and Redis is not asked again for ``RETRY_AFTER_FAILURE``
  seconds, so an outage costs at most one short timeout (``SOCKET_TIMEOUT``) per process and
  period. Abuse limits must not take the directory endpoints down with Redis.
- Without ``REDIS_URL`` (the embedded one-process server) the counters live in this process.

Limits are ``settings.API_RATE_LIMIT_TOKEN`` and ``settings.API_RATE_LIMIT_ADDRESS``, each
``(requests, seconds)`` or None for no limit (``API_RATE_LIMIT_TOKEN=1200/60``; ``off``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.signals import setting_changed
from redis.exceptions import RedisClusterException, RedisError
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from ingest.services import sender_ip
from organizations.models import ApiToken, OrgAuthToken
from tsdb.base import TSDBUnavailable
from tsdb.redisclient import ClusterBatch, LazyRedisClient, client_options, is_unavailable

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)

SOCKET_TIMEOUT = 0.5
RETRY_AFTER_FAILURE = 5.0
Limit = tuple[int, int]  # (requests, seconds), read by statsapi.env.env_rate


class Counters:
    """Fixed-window counters: ``hit`` adds one to each key for its window and returns each new
    count (None when the counts cannot be had)."""

    def hit(self, keys: list[tuple[str, int]]) -> list[int] | None:
        raise NotImplementedError


class RedisCounters(Counters):
    def __init__(self, url: str, *, cluster: bool) -> None:
        self.cluster = cluster
        self._connector = LazyRedisClient(
            url,
            cluster=cluster,
            options=client_options(
                socket_connect_timeout=SOCKET_TIMEOUT, socket_timeout=SOCKET_TIMEOUT
            ),
        )
        self._skip_until = 0.0

    def hit(self, keys: list[tuple[str, int]]) -> list[int] | None:
        if time.monotonic() < self._skip_until:
            return None
        try:
            client = self._connector.client
            batch: Any = (
                ClusterBatch(client) if self.cluster else client.pipeline(transaction=False)
            )
            for key, ttl in keys:
                if self.cluster:
                    batch.execute_command("INCR", key, key=key)
                    batch.execute_command("EXPIRE", key, ttl, key=key)
                else:
                    batch.execute_command("INCR", key)
                    batch.execute_command("EXPIRE", key, ttl)
            replies = batch.execute()
        except (RedisError, RedisClusterException, OSError, TSDBUnavailable) as exc:
            self._skip_until = time.monotonic() + RETRY_AFTER_FAILURE
            if is_unavailable(exc) or isinstance(exc, TSDBUnavailable):
                logger.warning(
                    "API rate limits not applied for %.0f s: Redis is unavailable: %s",
                    RETRY_AFTER_FAILURE,
                    exc,
                )
            else:  # an error reply no correct command gets: a bug, or another writer
                logger.exception("API rate limits not applied: unexpected Redis reply")
            return None
        return [int(reply) for reply in replies[::2]]

    def close(self) -> None:
        self._connector.close()


class InMemoryCounters(Counters):
    """This process's counters (the embedded server runs one process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}

    def hit(self, keys: list[tuple[str, int]]) -> list[int] | None:
        now = time.monotonic()
        counts = []
        with self._lock:
            if len(self._counts) > 10000:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            for key, ttl in keys:
                count, expires = self._counts.get(key, (0, now + ttl))
                if expires <= now:
                    count, expires = 0, now + ttl
                self._counts[key] = (count + 1, expires)
                counts.append(count + 1)
        return counts


_lock = threading.Lock()
_counters: dict[tuple[str, bool], Counters] = {}


def get_counters() -> Counters:
    url = settings.REDIS_URL or ""
    cluster = bool(getattr(settings, "REDIS_CLUSTER", False))
    counters = _counters.get((url, cluster))
    if counters is None:
        with _lock:
            counters = _counters.get((url, cluster))
            if counters is None:
                counters = RedisCounters(url, cluster=cluster) if url else InMemoryCounters()
                _counters[(url, cluster)] = counters
    return counters


def _reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in ("REDIS_URL", "REDIS_CLUSTER"):
        with _lock:
            for counters in _counters.values():
                if isinstance(counters, RedisCounters):
                    counters.close()
            _counters.clear()


setting_changed.connect(_reset_on_setting_change, dispatch_uid="statsapi.throttling.reset")


def credentials_key(request: Request) -> str | None:
    """Who the request acts as: its token, else its logged-in user, else None."""
    auth = request.auth
    if isinstance(auth, ApiToken):
        return f"u{auth.pk}"
    if isinstance(auth, OrgAuthToken):
        return f"o{auth.pk}"
    user = request.user
    if user is not None and user.is_authenticated:
        return f"s{user.pk}"
    return None


class ApiRateThrottle(BaseThrottle):
    """Per-token and per-address limits (see the module docstring)."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        limits: list[tuple[str, Limit]] = []
        token_limit: Limit | None = settings.API_RATE_LIMIT_TOKEN
        address_limit: Limit | None = settings.API_RATE_LIMIT_ADDRESS
        who = credentials_key(request) if token_limit else None
        if who is not None and token_limit is not None:
            limits.append((f"t:{who}", token_limit))
        address = sender_ip(request.META) if address_limit else None
        if address is not None and address_limit is not None:
            limits.append((f"a:{address}", address_limit))
        if not limits:
            return True
        now = time.time()
        keys = []
        for name, (_, seconds) in limits:
            window = int(now // seconds)
            keys.append((f"{settings.QUOTAS_PREFIX}api:{name}:{seconds}:{window}", seconds + 1))
        counts = get_counters().hit(keys)
        if counts is None:
            return True
        for (_, (requests, seconds)), count in zip(limits, counts, strict=True):
            if count > requests:
                wait = max(1, int(seconds - now % seconds + 0.999))
                raise exceptions.Throttled(
                    wait=wait,
                    detail=(
                        "You are attempting to use this endpoint too frequently. "
                        f"Limit is {requests} requests in {seconds} seconds"
                    ),
                )
        return True
