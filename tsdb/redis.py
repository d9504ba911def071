"""RedisTSDB: counters in Redis hashes, one hash per (model, rollup, bucket, vnode)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from .base import BaseTSDB, TSDBUnavailable, WritePlan

__all__ = ["RedisTSDB"]

# Replies meaning "the server is there but cannot serve us now" rather than "bad command".
_UNAVAILABLE_REPLIES = ("LOADING", "MISCONF", "OOM", "READONLY", "MASTERDOWN", "CLUSTERDOWN")


@contextmanager
def _unavailable_on_redis_errors() -> Iterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, InvalidResponse, OSError) as exc:
        raise TSDBUnavailable(f"Redis is unavailable: {exc}") from exc
    except ResponseError as exc:
        if str(exc).split(" ", 1)[0].upper() in _UNAVAILABLE_REPLIES or "TRYAGAIN" in str(exc):
            raise TSDBUnavailable(f"Redis cannot serve the request: {exc}") from exc
        raise


class RedisTSDB(BaseTSDB):
    """Counters in Redis hashes.

    Layout (``prefix`` defaults to ``ts:``)::

        key    {prefix}{model}:{rollup}:{bucket}:{vnode}     a hash
                  model   TSDBModel integer, e.g. 100 (project_total_received)
                  rollup  kept rollup in seconds: 10, 60, 3600
                  bucket  bucket start, epoch seconds, a multiple of rollup
                  vnode   crc32(field) % vnodes
        field  str(key), e.g. the project id "42"
        value  the count (HINCRBY)
        TTL    EXPIREAT bucket + rollup * samples

        ts:100:3600:1536526800:17 = {"42": "7125", "1337": "3"}

    Vnodes split a bucket's keys over several small hashes: each stays in Redis's compact
    listpack encoding, and on Redis Cluster the hashes of one bucket spread over the slots.
    Every command touches a single key and no transaction is used, so a cluster client
    (``redis.RedisCluster``) can be passed as ``client``. ``incr_multi`` is one pipeline round
    trip (HINCRBY per field, then one EXPIREAT per hash); ``get_range`` is one round trip
    (one HMGET per hash).

    Writes are not retried: HINCRBY is not idempotent, and a blind resend after a lost reply
    would count twice. A failure raises TSDBUnavailable instead.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str = "ts:",
        vnodes: int = 64,
        rollups: Sequence[tuple[int, int]] | None = None,
        *,
        client: Any = None,
        socket_connect_timeout: float = 1.0,
        socket_timeout: float = 5.0,
        client_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(rollups, **kwargs)
        if isinstance(vnodes, bool) or not isinstance(vnodes, int) or vnodes < 1:
            raise ValueError(f"vnodes must be a positive integer, not {vnodes!r}")
        if not isinstance(prefix, str):
            raise ValueError(f"prefix must be a string, not {prefix!r}")
        self.prefix = prefix
        self.vnodes = vnodes
        self._owns_client = client is None
        if client is None:
            options: dict[str, Any] = {
                "socket_connect_timeout": socket_connect_timeout,
                "socket_timeout": socket_timeout,
                "retry": Retry(NoBackoff(), 0),
            }
            options.update(client_options or {})
            client = redis.Redis.from_url(url, **options)
        self.client: Any = client

    def make_key(self, model: int, rollup: int, bucket: int, vnode: int) -> str:
        """The name of the hash holding ``model``'s fields of ``vnode`` in ``bucket``."""
        return f"{self.prefix}{model}:{rollup}:{bucket}:{vnode}"

    def vnode(self, field: str) -> int:
        """The vnode of a field: stable across processes and Python versions."""
        return zlib.crc32(field.encode()) % self.vnodes

    def _write(self, plan: WritePlan) -> None:
        make_key, vnode, retention = self.make_key, self.vnode, self._retention
        pipe = self.client.pipeline(transaction=False)
        send = pipe.execute_command
        expiries: dict[str, int] = {}
        for (model, rollup, bucket), fields in plan.items():
            expires_at = bucket + retention[rollup]
            for field, count in fields.items():
                key = make_key(model, rollup, bucket, vnode(field))
                send("HINCRBY", key, field, count)
                expiries[key] = expires_at
        # After the HINCRBYs: EXPIREAT on a hash that does not exist yet would do nothing.
        for key, expires_at in expiries.items():
            send("EXPIREAT", key, expires_at)
        with _unavailable_on_redis_errors():
            pipe.execute()

    def _read(
        self, model: int, rollup: int, buckets: list[int], fields: list[str]
    ) -> list[list[int]]:
        by_vnode: dict[int, list[int]] = {}
        for index, field in enumerate(fields):
            by_vnode.setdefault(self.vnode(field), []).append(index)
        groups = [[fields[i] for i in indexes] for indexes in by_vnode.values()]
        vnodes = list(by_vnode)
        make_key = self.make_key
        pipe = self.client.pipeline(transaction=False)
        send = pipe.execute_command
        for bucket in buckets:
            for vnode, names in zip(vnodes, groups, strict=True):
                send("HMGET", make_key(model, rollup, bucket, vnode), *names)
        with _unavailable_on_redis_errors():
            replies = pipe.execute()
        # Replies come bucket by bucket, fields in vnode order: chain each bucket's replies
        # into one column, transpose in C, then put the rows back in the callers' order.
        per_bucket = len(groups)
        columns = [
            list(chain.from_iterable(replies[i : i + per_bucket]))
            for i in range(0, len(replies), per_bucket)
        ]
        order = list(chain.from_iterable(by_vnode.values()))
        rows: list[list[int]] = [[] for _ in fields]
        for index, values in zip(order, zip(*columns, strict=True), strict=True):
            if None in values:
                rows[index] = [0 if value is None else int(value) for value in values]
            else:
                rows[index] = list(map(int, values))
        return rows

    def validate(self) -> None:
        """PING Redis; TSDBUnavailable if it does not answer."""
        with _unavailable_on_redis_errors():
            self.client.ping()

    def flush(self) -> None:
        """Delete every key under this backend's prefix (SCAN + UNLINK, never FLUSHDB)."""
        if not self.prefix:
            raise ValueError("refusing to flush a RedisTSDB without a prefix")
        pattern = "".join(f"[{c}]" if c in "*?[]\\" else c for c in self.prefix) + "*"
        with _unavailable_on_redis_errors():
            pipe = self.client.pipeline(transaction=False)
            for n, key in enumerate(self.client.scan_iter(match=pattern, count=1000), 1):
                pipe.unlink(key)
                if n % 1000 == 0:
                    pipe.execute()
            pipe.execute()

    def close(self) -> None:
        if self._owns_client:
            self.client.close()
