"""Redis plumbing shared by ``RedisTSDB`` and ingest's quota store (``ingest.store``).

- ``client_options``: connection options that fail fast and never resend a command (a resent
  HINCRBY or quota take after a lost reply would count twice).
- ``LazyRedisClient``: the client for a URL, one Redis server or any node of a Redis Cluster;
  a cluster client connects when it is built, so it is built on first use (a cluster that is
  down at startup does not stop the server).
- ``unavailable_on_redis_errors``: which failures are an outage (``TSDBUnavailable``, a 503)
  and which are a bug in the caller (re-raised as they are).
- ``ClusterBatch``: commands for a Redis Cluster sent one batch per node, all written before
  any reply is read; only commands the cluster refused unexecuted are sent again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, PipelineCommand, RedisCluster
from redis.exceptions import (
    AskError,
    BusyLoadingError,
    ClusterError,
    InvalidResponse,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from .base import TSDBUnavailable

__all__ = [
    "ClusterBatch",
    "LazyRedisClient",
    "client_options",
    "is_unavailable",
    "unavailable_on_redis_errors",
]

# Replies meaning "the server is there but cannot serve us now" rather than "bad command".
UNAVAILABLE_REPLIES = ("LOADING", "MISCONF", "OOM", "READONLY", "MASTERDOWN", "CLUSTERDOWN")
# redis-py strips the code of the replies it knows from the message and names it by class
# (MasterDownError and ClusterDownError are ClusterErrors).
UNAVAILABLE_ERRORS = (BusyLoadingError, OutOfMemoryError, ReadOnlyError, TryAgainError)


def client_options(
    *, socket_connect_timeout: float = 1.0, socket_timeout: float = 5.0, **options: Any
) -> dict[str, Any]:
    """Options for a redis-py client that fails fast and never resends a command; ``options``
    (e.g. ``decode_responses=True``) are added."""
    return {
        "socket_connect_timeout": socket_connect_timeout,
        "socket_timeout": socket_timeout,
        # No blind retries: a command resent after a lost reply may be applied twice. On a
        # cluster this is the client-level retry; its node connections never retry.
        "retry": Retry(NoBackoff(), 0),
        **options,
    }


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means Redis cannot serve right now: unreachable, timed out, loading, a
    read-only replica, out of memory, a cluster down or resharding. Any other error reply
    (WRONGTYPE, NOSCRIPT, a syntax error, ...) is a bug in the caller or in what the database
    holds, not an outage."""
    if isinstance(
        exc,
        RedisConnectionError | RedisTimeoutError | InvalidResponse | OSError | ClusterError,
    ):
        # RedisConnectionError includes MaxConnectionsError (a pool is exhausted);
        # ClusterError includes ClusterDownError and MasterDownError.
        return True
    if isinstance(exc, RedisClusterException):
        # Not a RedisError: SlotNotCoveredError, "Redis Cluster cannot be connected", ...
        return True
    if isinstance(exc, ResponseError):
        code = getattr(exc, "status_code", None) or str(exc).split(" ", 1)[0].upper()
        return (
            isinstance(exc, UNAVAILABLE_ERRORS)
            or code in UNAVAILABLE_REPLIES
            or "TRYAGAIN" in str(exc)
        )
    return False


@contextmanager
def unavailable_on_redis_errors() -> Iterator[None]:
    """Raise ``TSDBUnavailable`` for a failure ``is_unavailable`` calls an outage; let every
    other Redis error through unchanged."""
    try:
        yield
    except (RedisError, RedisClusterException, OSError) as exc:
        if not is_unavailable(exc):
            raise
        if isinstance(exc, ResponseError):
            raise TSDBUnavailable(f"Redis cannot serve the request: {exc}") from exc
        raise TSDBUnavailable(f"Redis is unavailable: {exc}") from exc


def check_cluster_url(url: str) -> None:
    """ValueError unless ``url`` can name a Redis Cluster node (redis:// or rediss://,
    database 0). The URL itself is not repeated: it may hold a password."""
    parts = urlsplit(url)
    database = parse_qs(parts.query).get("db", [parts.path.strip("/") or "0"])[0]
    if parts.scheme not in ("redis", "rediss") or database != "0":
        raise ValueError(
            "a Redis Cluster url is redis://host:port/0 or rediss://host:port/0 "
            "(a cluster has only database 0)"
        )


class LazyRedisClient:
    """The redis-py client for ``url``: a ``redis.Redis`` built at once (it connects on its
    first command), or with ``cluster=True`` a ``RedisCluster`` (``url`` names any one node)
    built, and connected, on first use of ``client``. ``options`` go to the client as they
    are; build them with ``client_options``."""

    def __init__(self, url: str, *, cluster: bool, options: dict[str, Any]) -> None:
        self.cluster = cluster
        self._client: Any = None
        self._lock = threading.Lock()
        self._url, self._options = url, options
        if cluster:
            check_cluster_url(url)
        else:
            self._client = redis.Redis.from_url(url, **options)

    @property
    def client(self) -> Any:
        """The client; TSDBUnavailable when a cluster cannot be reached to build it."""
        client = self._client
        if client is None:
            with self._lock, unavailable_on_redis_errors():
                if self._client is None:
                    self._client = RedisCluster.from_url(self._url, **self._options)
                client = self._client
        return client

    def close(self) -> None:
        """Close the client's connections, if it was built."""
        if self._client is not None:
            self._client.close()


class ClusterBatch:
    """Commands for a Redis Cluster, sent with redis-py's cluster pipeline: one batch per node,
    written to every node before any reply is read, so a call costs about one round trip
    however many nodes it touches.

    Unlike ``ClusterPipeline.execute()``, a command whose node failed or timed out is not
    resent one by one (the node may have applied it: a HINCRBY would count twice, and a hung
    node would cost a timeout per command); the error is raised. Only commands the cluster
    refused unexecuted (MOVED, ASK, TRYAGAIN, while slots migrate) are resent, through the
    client, which follows the redirection and refreshes its slot table.
    """

    __slots__ = ("client", "stack")

    def __init__(self, client: RedisCluster) -> None:
        self.client: Any = client
        self.stack: list[PipelineCommand] = []

    def execute_command(self, *args: Any, key: str | None = None) -> None:
        """Queue a command. ``key``: the one key it names, whose node (in the client's slot
        table) it is sent to; without it, redis-py finds the key in ``args``, which for a
        command with movable keys (EVAL, EVALSHA) costs a COMMAND GETKEYS round trip."""
        options: dict[str, Any] = {}
        if key is not None:
            node: ClusterNode = self.client.get_node_from_key(key)
            options["target_nodes"] = node
        command = PipelineCommand(args, options, len(self.stack))  # type: ignore[no-untyped-call]
        self.stack.append(command)

    def execute(self, *, raise_on_error: bool = True) -> list[Any]:
        """Send the queued commands; their replies in order. The first error reply is raised,
        or with ``raise_on_error=False`` left in place among the replies. A failed connection
        always raises (replies from other nodes are then lost)."""
        stack, self.stack = self.stack, []
        if not stack:
            return []
        replies: list[Any] = self.client.pipeline(transaction=False).send_cluster_commands(
            stack, raise_on_error=False, allow_redirections=False
        )
        refused = []
        for index, reply in enumerate(replies):
            if isinstance(reply, AskError | TryAgainError):  # AskError includes MovedError
                refused.append(index)
            elif isinstance(reply, Exception) and (raise_on_error or is_unavailable(reply)):
                raise reply
        for index in refused:
            try:
                replies[index] = self.client.execute_command(*stack[index].args)
            except ResponseError as exc:
                if raise_on_error or is_unavailable(exc):
                    raise
                replies[index] = exc
        return replies
