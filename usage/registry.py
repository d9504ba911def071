"""Which outcome series exist: one small set per organization, so a query never scans keys.

Every (project, DSN key, category, outcome, reason) an organization has recorded an outcome
for is a member ``"<project_id>:<key_id>:<category>:<outcome>:<reason>"`` (reason empty when
none) of the set ``{QUOTAS_PREFIX}usage:{organization_id}`` in ``settings.REDIS_URL`` (a
Redis Cluster when ``settings.REDIS_CLUSTER``; in this process when the URL is empty). The set
expires a day after the longest TSDB retention past its last addition, so a combination is
listed while any of its counts can still be read.

Writers add a combination the first time their process sees it, and again hourly to renew
the expiry (``pending``/``mark_registered``). ``add_commands`` gives the Redis commands to send
in the writer's own batch (ingest sends them with its quota round trip), ``add`` sends them on
their own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

import tsdb
from tsdb.redisclient import LazyRedisClient, client_options, unavailable_on_redis_errors
from usage.catalogue import OutcomeKind

REGISTRATION_REFRESH_SECONDS = 3600

Command = tuple[str, tuple[Any, ...]]
"""``(key, command arguments)``: a Redis command naming only ``key``."""


@dataclass(frozen=True, order=True, slots=True)
class Combination:
    """A project's and DSN key's outcome series of one kind."""

    project_id: int
    key_id: int
    kind: OutcomeKind

    @property
    def member(self) -> str:
        kind = self.kind
        return f"{self.project_id}:{self.key_id}:{kind.category}:{kind.outcome}:{kind.reason or ''}"

    @classmethod
    def from_member(cls, member: str) -> Combination | None:
        """The combination a set member names; None for anything malformed."""
        parts = member.split(":")
        if len(parts) != 5 or not parts[0].isdigit() or not parts[1].isdigit():
            return None
        project_id, key_id, category, outcome, reason = parts
        return cls(int(project_id), int(key_id), OutcomeKind(category, outcome, reason or None))


def set_name(organization_id: int) -> str:
    """The Redis key of an organization's set."""
    return f"{settings.QUOTAS_PREFIX}usage:{int(organization_id)}"


def set_ttl() -> int:
    """Seconds the set outlives its last addition: the longest retention of the configured
    TSDB backend plus a day."""
    return max(seconds * samples for seconds, samples in tsdb.backend.rollups) + 86_400


class BaseRegistry:
    def members(self, organization_id: int) -> set[str]:
        raise NotImplementedError

    def add_commands(self, organization_id: int, members: list[str]) -> list[Command]:
        """Commands adding ``members`` to the organization's set (and renewing its expiry),
        for the caller to send to ``settings.REDIS_URL`` in its own batch. A registry kept in
        this process adds them at once and returns no command."""
        raise NotImplementedError

    def add(self, organization_id: int, members: list[str]) -> None:
        """Add ``members`` now, in a round trip of their own."""
        raise NotImplementedError


class RedisRegistry(BaseRegistry):
    def __init__(self, url: str, *, cluster: bool) -> None:
        self._connector = LazyRedisClient(
            url, cluster=cluster, options=client_options(decode_responses=True)
        )

    def members(self, organization_id: int) -> set[str]:
        client = self._connector.client
        with unavailable_on_redis_errors():
            return set(client.smembers(set_name(organization_id)))

    def add_commands(self, organization_id: int, members: list[str]) -> list[Command]:
        if not members:
            return []
        name = set_name(organization_id)
        return [(name, ("SADD", name, *members)), (name, ("EXPIRE", name, set_ttl()))]

    def add(self, organization_id: int, members: list[str]) -> None:
        commands = self.add_commands(organization_id, members)
        if not commands:
            return
        client = self._connector.client
        with unavailable_on_redis_errors():
            pipe = client.pipeline(transaction=False)
            for _, args in commands:
                pipe.execute_command(*args)
            pipe.execute()

    def close(self) -> None:
        self._connector.close()


class InMemoryRegistry(BaseRegistry):
    """The sets in this process (the embedded server), with the same expiry."""

    def __init__(self) -> None:
        self._sets: dict[str, tuple[set[str], float]] = {}
        self._lock = threading.Lock()

    def members(self, organization_id: int) -> set[str]:
        with self._lock:
            stored = self._sets.get(set_name(organization_id))
            return set(stored[0]) if stored and stored[1] > time.time() else set()

    def add_commands(self, organization_id: int, members: list[str]) -> list[Command]:
        self.add(organization_id, members)
        return []

    def add(self, organization_id: int, members: list[str]) -> None:
        if not members:
            return
        name, now, ttl = set_name(organization_id), time.time(), set_ttl()
        with self._lock:
            stored = self._sets.get(name)
            values = stored[0] if stored and stored[1] > now else set()
            values.update(members)
            self._sets[name] = (values, now + ttl)


_lock = threading.Lock()
_registries: dict[tuple[str, bool], BaseRegistry] = {}


def get_registry() -> BaseRegistry:
    """The registry of ``settings.REDIS_URL`` (in memory when it is empty), built once."""
    url = settings.REDIS_URL or ""
    cluster = bool(getattr(settings, "REDIS_CLUSTER", False))
    registry = _registries.get((url, cluster))
    if registry is None:
        with _lock:
            registry = _registries.get((url, cluster))
            if registry is None:
                registry = RedisRegistry(url, cluster=cluster) if url else InMemoryRegistry()
                _registries[(url, cluster)] = registry
    return registry


def _reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in ("REDIS_URL", "REDIS_CLUSTER"):
        with _lock:
            for registry in _registries.values():
                if isinstance(registry, RedisRegistry):
                    registry.close()
            _registries.clear()


setting_changed.connect(_reset_on_setting_change, dispatch_uid="usage.registry.setting_changed")


def combinations_get(*, organization_id: int) -> list[Combination]:
    """Every combination the organization has recorded an outcome for, sorted. Raises
    TSDBUnavailable when Redis cannot be reached."""
    found = (Combination.from_member(m) for m in get_registry().members(organization_id))
    return sorted(c for c in found if c is not None)


# -- which combinations this process has added lately ------------------------------------------

_registered: dict[tuple[str, str], float] = {}  # (set name, member) -> when to add it again
_registered_lock = threading.Lock()


def pending(organization_id: int, combinations: Iterable[Combination]) -> list[str]:
    """The members of ``combinations`` this process has not added within the last hour."""
    now, name = time.monotonic(), set_name(organization_id)
    members = {combination.member for combination in combinations}
    return sorted(member for member in members if _registered.get((name, member), 0.0) <= now)


def mark_registered(organization_id: int, members: Iterable[str]) -> None:
    expires, name = time.monotonic() + REGISTRATION_REFRESH_SECONDS, set_name(organization_id)
    with _registered_lock:
        if len(_registered) > 100_000:
            _registered.clear()
        for member in members:
            _registered[(name, member)] = expires


def forget_registrations() -> None:
    """Forget what this process added (tests start cold)."""
    with _registered_lock:
        _registered.clear()
