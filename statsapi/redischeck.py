"""Is the Redis we are given safe for counters? Its eviction policy and persistence, per node.

The counts live in Redis. Two settings decide whether Redis keeps them:

- ``maxmemory-policy``: anything but ``noeviction`` lets Redis delete keys when it reaches
  ``maxmemory``. Every TSDB key has a TTL, so even the ``volatile-*`` policies would drop
  counters, silently. With ``noeviction`` a full Redis refuses writes instead (ingest answers
  503). An evicting policy fails the readiness check (``/_health/?full``).
- persistence (``appendonly``, ``appendfsync``, ``save``): without AOF a crash loses every count
  since the last RDB snapshot, and with neither AOF nor snapshots a restart loses them all.
  That is worth one warning at startup, not a failed readiness check (some operators accept it
  on purpose, e.g. a cache-only test deployment).

The settings are read with ``CONFIG GET``; where CONFIG is disabled or not permitted (managed
Redis services, renamed commands, ACLs) from ``INFO memory`` (``maxmemory_policy``) and ``INFO
persistence`` (``aof_enabled``), which cannot tell whether RDB snapshots are scheduled. On a
Redis Cluster every primary is read. Nodes are named by ``host:port``, never by URL (which may
hold a password).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from redis.exceptions import ResponseError

from tsdb.base import TSDBUnavailable
from tsdb.redisclient import LazyRedisClient, client_options, unavailable_on_redis_errors

__all__ = [
    "NodeSettings",
    "RedisReport",
    "inspect_configured_redis",
    "inspect_redis",
    "log_startup_report",
    "redis_targets",
]

logger = logging.getLogger(__name__)

SAFE_POLICY = "noeviction"
# Where the settings came from.
FROM_CONFIG = "CONFIG GET"
FROM_INFO = "INFO"
# Set in the environment once the startup report was logged in this process tree (the gunicorn
# configuration logs it from the first worker only; see gunicorn.conf.py).
REPORTED_ENV = "STATSAPI_REDIS_REPORT_BY_GUNICORN"


@dataclass(frozen=True)
class NodeSettings:
    """What one Redis server (or cluster primary) says of its eviction policy and persistence.
    ``None``: could not be read."""

    node: str
    policy: str | None
    appendonly: bool | None
    appendfsync: str | None
    save: str | None
    source: str

    @property
    def evicting(self) -> bool:
        return self.policy is not None and self.policy != SAFE_POLICY

    def problem(self) -> str | None:
        """Why this node fails readiness: an evicting policy."""
        if not self.evicting:
            return None
        return (
            f"Redis {self.node} has maxmemory-policy {self.policy}: it deletes counters when "
            f"memory runs out. Set maxmemory-policy {SAFE_POLICY} (a full Redis then refuses "
            "writes, which ingest answers with 503)."
        )

    def warning(self) -> str | None:
        """What a crash or restart of this node would lose, when that is more than about one
        second of counts; None with AOF and an fsync at least every second."""
        fix = "set appendonly yes and appendfsync everysec, as docker-compose.yml does"
        if self.appendonly is None and self.policy is None:
            return (
                f"Redis {self.node}: neither CONFIG GET nor INFO could be read, so its eviction "
                f"policy and persistence are unknown: make sure maxmemory-policy is "
                f"{SAFE_POLICY} and {fix}."
            )
        if self.appendonly is None:
            return f"Redis {self.node}: whether AOF is on could not be read; {fix}."
        if self.appendonly:
            if self.appendfsync == "no":
                return (
                    f"Redis {self.node} has appendfsync no: a crash of its host loses the "
                    "counts the operating system had not yet written (typically up to 30 "
                    "seconds); set appendfsync everysec."
                )
            return None
        if self.save is None:
            return (
                f"Redis {self.node} has AOF off (appendonly no, read from INFO persistence; "
                "whether RDB snapshots are scheduled cannot be read without CONFIG): a crash "
                f"loses the counts since the last snapshot, if any. Unless the provider "
                f"persists it otherwise, {fix}."
            )
        if not self.save.strip():
            return (
                f"Redis {self.node} persists nothing (appendonly no, no save points): a "
                f"restart or crash loses every count, quota window and outcome. {fix[0].upper()}"
                f"{fix[1:]}."
            )
        return (
            f"Redis {self.node} only writes RDB snapshots (save {self.save}), AOF is off: a "
            f"crash loses the counts written since the last snapshot; {fix}."
        )


@dataclass(frozen=True)
class RedisReport:
    nodes: tuple[NodeSettings, ...]

    @property
    def problems(self) -> list[str]:
        return [problem for node in self.nodes if (problem := node.problem())]

    @property
    def warnings(self) -> list[str]:
        return [warning for node in self.nodes if (warning := node.warning())]


def _node_name(client: Any) -> str:
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _config_get(client: Any, name: str) -> str | None:
    reply = client.config_get(name)
    value = reply.get(name, reply.get(name.encode())) if isinstance(reply, dict) else None
    return None if value is None else _text(value)


def read_node(client: Any, name: str) -> NodeSettings:
    """The settings of the one server ``client`` talks to. Raises a redis-py error when the
    server cannot be reached (the caller decides what that means)."""
    try:
        policy = _config_get(client, "maxmemory-policy")
        appendonly = _config_get(client, "appendonly")
        return NodeSettings(
            node=name,
            policy=policy,
            appendonly=None if appendonly is None else appendonly == "yes",
            appendfsync=_config_get(client, "appendfsync"),
            save=_config_get(client, "save"),
            source=FROM_CONFIG,
        )
    except ResponseError as exc:
        # CONFIG renamed away ("unknown command"), refused by an ACL (NOPERM), or disabled by a
        # managed service: INFO says less, but enough for the policy and AOF.
        logger.debug("redis check: CONFIG GET refused by %s (%s); reading INFO", name, exc)
    policy = aof = None
    try:
        memory = client.info("memory")
        policy = memory.get("maxmemory_policy")
    except ResponseError:
        pass
    try:
        persistence = client.info("persistence")
        aof = persistence.get("aof_enabled")
    except ResponseError:
        pass
    return NodeSettings(
        node=name,
        policy=None if policy is None else _text(policy),
        appendonly=None if aof is None else str(aof) == "1",
        appendfsync=None,
        save=None,
        source=FROM_INFO,
    )


def _node_clients(connector: LazyRedisClient) -> Iterator[tuple[Any, str]]:
    client = connector.client
    if not connector.cluster:
        yield client, _node_name(client)
        return
    for node in client.get_primaries():
        yield node.redis_connection, node.name


def inspect_redis(url: str, *, cluster: bool = False) -> RedisReport:
    """Read every node's settings (every primary of a cluster). TSDBUnavailable when a node
    cannot be reached or cannot serve."""
    connector = LazyRedisClient(
        url, cluster=cluster, options=client_options(socket_timeout=2.0, decode_responses=True)
    )
    try:
        with unavailable_on_redis_errors():
            nodes = tuple(read_node(client, name) for client, name in _node_clients(connector))
    finally:
        connector.close()
    return RedisReport(nodes)


def redis_targets() -> list[tuple[str, bool]]:
    """The distinct Redis servers (URL, cluster) this process writes to: the TSDB's (when it is
    RedisTSDB) and the quota store's (``REDIS_URL``)."""
    targets: list[tuple[str, bool]] = []
    if settings.TSDB_BACKEND == "tsdb.redis.RedisTSDB":
        options = settings.TSDB_OPTIONS
        url = str(options.get("url") or "redis://127.0.0.1:6379/0")
        targets.append((url, bool(options.get("cluster", False))))
    if settings.REDIS_URL:
        quota = (settings.REDIS_URL, bool(getattr(settings, "REDIS_CLUSTER", False)))
        if quota not in targets:
            targets.append(quota)
    return targets


def inspect_configured_redis() -> RedisReport:
    """``inspect_redis`` over every configured Redis (``redis_targets``); an empty report when
    none is configured. TSDBUnavailable when one cannot be reached."""
    nodes: list[NodeSettings] = []
    for url, cluster in redis_targets():
        for node in inspect_redis(url, cluster=cluster).nodes:
            if node not in nodes:
                nodes.append(node)
    return RedisReport(tuple(nodes))


def log_startup_report() -> None:
    """Log, once, what the configured Redis risks: an ERROR per evicting node (readiness fails
    until it is fixed), one WARNING for everything persistence would lose. Never raises: a
    Redis that is down at startup is the readiness check's business."""
    if not redis_targets():
        return
    try:
        report = inspect_configured_redis()
    except TSDBUnavailable as exc:
        logger.warning(
            "Could not check the Redis configuration at startup (%s); /_health/?full checks "
            "it again.",
            exc,
        )
        return
    for problem in report.problems:
        logger.error("%s Readiness (/_health/?full) fails until then.", problem)
    warnings = report.warnings
    if warnings:
        logger.warning(
            "Counts are not durable: %s At most about one second of counts is lost on a Redis "
            "crash only with AOF and appendfsync everysec.",
            " ".join(warnings),
        )


def report_at_startup_unless_gunicorn_does() -> None:
    """Called when the WSGI/ASGI application is built: log the startup report, unless the
    gunicorn configuration logs it from its first worker (one report per server start, not
    one per worker)."""
    if os.environ.get(REPORTED_ENV) != "1":
        log_startup_report()
