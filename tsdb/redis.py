"""RedisTSDB: counters in Redis hashes, one hash per (model, rollup, bucket, vnode)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from itertools import chain
from typing import Any

from redis.cluster import RedisCluster
from redis.exceptions import ResponseError

from .base import BaseTSDB, TSDBUnavailable, WritePlan
from .redisclient import ClusterBatch, LazyRedisClient, unavailable_on_redis_errors
from .redisclient import client_options as no_retry_options

__all__ = ["RedisTSDB"]

# Commands in the Redis protocol (RESP), packed here rather than by redis-py: its per-command
# pipeline machinery costs more than the round trip itself for a small batch.
_HINCRBY = b"*4\r\n$7\r\nHINCRBY\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n"
_EXPIREAT = b"*3\r\n$8\r\nEXPIREAT\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n"
_HMGET = b"*%d\r\n$5\r\nHMGET\r\n$%d\r\n%b\r\n%b"
_BULK = b"$%d\r\n%b\r\n"


def _describe(command: bytes) -> str:
    """A packed command as words, for an error message (arguments holding CRLF come out
    split, which is good enough there)."""
    words = command.split(b"\r\n")[2::2]
    return " ".join(word.decode(errors="replace") for word in words)[:200]


def _reply_reader(connection: Any) -> Any:
    """A function reading the next reply on ``connection``: its protocol parser's, when it
    has the one redis-py 8 gives it (an error reply is returned, not raised), else the
    connection's own ``read_response``. The parser skips, per reply, the connection's
    wrapping (formatting the address for an error message that is never raised, the health
    check stamp): for 36 replies that wrapping cost more than reading them. Socket failures
    still reach ``_round_trip``, which disconnects, and ``unavailable_on_redis_errors``."""
    parser = getattr(connection, "_parser", None)
    read = getattr(parser, "read_response", None)
    return read if callable(read) else connection.read_response


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
    ``incr_multi`` is one round trip (HINCRBY per field, then one EXPIREAT per hash);
    ``get_range`` is one round trip (one HMGET per hash). On a single Redis the batch is packed
    here (RESP) and written at once on a pooled connection, then every reply is read, error
    replies included, so the connection goes back clean; a connection that failed mid-way is
    disconnected, never reused. redis-py's pipeline is not used there: for a small batch its
    per-command bookkeeping cost more than the round trip itself.

    Redis Cluster: ``cluster=True`` with ``url`` naming any one node (database 0) builds a
    ``redis.cluster.RedisCluster`` that discovers the others; a ``RedisCluster`` can also be
    passed as ``client``. Every command touches a single key and no transaction is used. On a
    cluster ``incr_multi`` and ``get_range`` send one batch per node touched, all batches
    written before any reply is read: one round trip per node, in parallel, never one per
    command (only commands the cluster refuses while slots migrate, MOVED/ASK/TRYAGAIN, are
    resent one by one). ``validate`` asks every primary for ``cluster_state:ok``; ``flush``
    scans every primary. The cluster client connects on first use, so a cluster that is down
    at startup raises TSDBUnavailable on use rather than stopping the server. A call that
    fails on one node may have been applied on the others (a pipeline is not atomic).

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
        cluster: bool = False,
        socket_connect_timeout: float = 1.0,
        socket_timeout: float = 5.0,
        client_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """``url``: the Redis server, or with ``cluster=True`` any one node of a Redis Cluster.
        ``client``: a ready ``redis.Redis`` or ``RedisCluster`` to use instead (not closed by
        ``close()``). ``client_options`` are passed on to the client built from ``url``."""
        super().__init__(rollups, **kwargs)
        if isinstance(vnodes, bool) or not isinstance(vnodes, int) or vnodes < 1:
            raise ValueError(f"vnodes must be a positive integer, not {vnodes!r}")
        if not isinstance(prefix, str):
            raise ValueError(f"prefix must be a string, not {prefix!r}")
        if not isinstance(cluster, bool):
            raise ValueError(f"cluster must be True or False, not {cluster!r}")
        self.prefix = prefix
        self.vnodes = vnodes
        self.cluster = cluster or isinstance(client, RedisCluster)
        self._given_client: Any = client
        self._connector: LazyRedisClient | None = None
        self._encode: Any = None
        if client is None:
            options = no_retry_options(
                socket_connect_timeout=socket_connect_timeout, socket_timeout=socket_timeout
            )
            options.update(client_options or {})
            self._connector = LazyRedisClient(url, cluster=cluster, options=options)

    @property
    def client(self) -> Any:
        """The redis-py client; a cluster client is built (and connected) on first use."""
        if self._connector is None:
            return self._given_client
        return self._connector.client

    def _pipeline(self) -> Any:
        """A non-transactional batch of single-key commands (``execute_command``, ``execute``)."""
        if self.cluster:
            return ClusterBatch(self.client)
        return self.client.pipeline(transaction=False)

    def make_key(self, model: int, rollup: int, bucket: int, vnode: int) -> str:
        """The name of the hash holding ``model``'s fields of ``vnode`` in ``bucket``."""
        return f"{self.prefix}{model}:{rollup}:{bucket}:{vnode}"

    def vnode(self, field: str) -> int:
        """The vnode of a field: stable across processes and Python versions."""
        return zlib.crc32(field.encode()) % self.vnodes

    def _encoder(self) -> Any:
        """``str -> bytes`` with the client's encoding (what redis-py would send)."""
        encode = self._encode
        if encode is None:
            options = self.client.connection_pool.connection_kwargs
            encoding = options.get("encoding", "utf-8")
            errors = options.get("encoding_errors", "strict")
            encode = self._encode = lambda text: text.encode(encoding, errors)
        return encode

    def _round_trip(self, commands: list[bytes]) -> list[Any]:
        """Send packed ``commands`` in one write on one pooled connection (single Redis only),
        then read one reply per command: one round trip, nothing resent.

        An error reply (WRONGTYPE, READONLY, ...) does not stop the reading: every reply is
        read, so the connection goes back to the pool clean, and then the first error is
        raised with the failing command named in its message (the other commands were
        applied). Any other failure (connection lost, timeout, interrupt) disconnects the
        connection before it goes back to the pool, replies unread. Redis errors are mapped
        as ``unavailable_on_redis_errors`` maps them."""
        pool = self.client.connection_pool
        with unavailable_on_redis_errors():
            connection = pool.get_connection()
            try:
                connection.send_packed_command((b"".join(commands),))
                read = _reply_reader(connection)
                replies: list[Any] = []
                append = replies.append
                failed: tuple[int, ResponseError] | None = None
                for index in range(len(commands)):
                    try:
                        reply = read()
                    except ResponseError as exc:
                        reply = exc
                    if failed is None and isinstance(reply, ResponseError):
                        failed = (index, reply)
                    append(reply)
            except BaseException:
                connection.disconnect()
                raise
            finally:
                pool.release(connection)
            if failed is not None:
                index, error = failed
                command = _describe(commands[index])
                error.args = (
                    f"{error.args[0] if error.args else error} (command {index + 1} of "
                    f"{len(commands)} in one batch: {command})",
                    *error.args[1:],
                )
                raise error
        return replies

    def _write(self, plan: WritePlan) -> None:
        if self.cluster:
            self._write_cluster(plan)
            return
        make_key, vnode, retention = self.make_key, self.vnode, self._retention
        encode = self._encoder()
        commands: list[bytes] = []
        append = commands.append
        expiries: dict[bytes, int] = {}
        for (model, rollup, bucket), fields in plan.items():
            expires_at = bucket + retention[rollup]
            model = int(model)  # the same digits, formatted faster than an IntEnum
            for field, count in fields.items():
                key = encode(make_key(model, rollup, bucket, vnode(field)))
                name = encode(field)
                value = b"%d" % count
                append(_HINCRBY % (len(key), key, len(name), name, len(value), value))
                expiries[key] = expires_at
        # After the HINCRBYs: EXPIREAT on a hash that does not exist yet would do nothing.
        for key, expires_at in expiries.items():
            value = b"%d" % expires_at
            append(_EXPIREAT % (len(key), key, len(value), value))
        self._round_trip(commands)

    def _write_cluster(self, plan: WritePlan) -> None:
        make_key, vnode, retention = self.make_key, self.vnode, self._retention
        pipe = ClusterBatch(self.client)
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
        with unavailable_on_redis_errors():
            pipe.execute()

    def _read(
        self, model: int, rollup: int, buckets: list[int], fields: list[str]
    ) -> list[list[int]]:
        return self._read_multi([model], rollup, buckets, fields)[0]

    def _read_multi(
        self, models: list[int], rollup: int, buckets: list[int], fields: list[str]
    ) -> list[list[list[int]]]:
        """Every model's HMGETs in one round trip (on a cluster: one batch per node)."""
        by_vnode: dict[int, list[int]] = {}
        for index, field in enumerate(fields):
            by_vnode.setdefault(self.vnode(field), []).append(index)
        if self.cluster:
            replies = self._hmget_cluster(models, rollup, buckets, fields, by_vnode)
        else:
            replies = self._round_trip(
                self._hmget_packed(models, rollup, buckets, fields, by_vnode)
            )
        per_model = len(buckets) * len(by_vnode)
        return [
            self._rows(replies[i * per_model : (i + 1) * per_model], by_vnode, len(fields))
            for i in range(len(models))
        ]

    def _hmget_packed(
        self,
        models: list[int],
        rollup: int,
        buckets: list[int],
        fields: list[str],
        by_vnode: dict[int, list[int]],
    ) -> list[bytes]:
        encode = self._encoder()
        # Each vnode's fields are packed once and repeated for every model and bucket.
        groups = []
        for indexes in by_vnode.values():
            names = [encode(fields[i]) for i in indexes]
            packed = b"".join([_BULK % (len(name), name) for name in names])
            groups.append((len(names) + 2, packed))
        vnodes = list(by_vnode)
        make_key = self.make_key
        commands: list[bytes] = []
        append = commands.append
        for model in models:
            for bucket in buckets:
                for vnode, (arity, packed) in zip(vnodes, groups, strict=True):
                    key = encode(make_key(model, rollup, bucket, vnode))
                    append(_HMGET % (arity, len(key), key, packed))
        return commands

    def _hmget_cluster(
        self,
        models: list[int],
        rollup: int,
        buckets: list[int],
        fields: list[str],
        by_vnode: dict[int, list[int]],
    ) -> list[Any]:
        groups = [[fields[i] for i in indexes] for indexes in by_vnode.values()]
        vnodes = list(by_vnode)
        make_key = self.make_key
        pipe = ClusterBatch(self.client)
        send = pipe.execute_command
        for model in models:
            for bucket in buckets:
                for vnode, names in zip(vnodes, groups, strict=True):
                    send("HMGET", make_key(model, rollup, bucket, vnode), *names)
        with unavailable_on_redis_errors():
            replies: list[Any] = pipe.execute()
        return replies

    @staticmethod
    def _rows(replies: list[Any], by_vnode: dict[int, list[int]], count: int) -> list[list[int]]:
        """HMGET replies (bucket by bucket, each vnode's fields in ``by_vnode`` order) as one
        row of ints per field, in the callers' field order."""
        # Chain each bucket's replies into one column, transpose in C, then put the rows back
        # in the callers' order.
        per_bucket = len(by_vnode)
        columns = [
            list(chain.from_iterable(replies[i : i + per_bucket]))
            for i in range(0, len(replies), per_bucket)
        ]
        order = list(chain.from_iterable(by_vnode.values()))
        rows: list[list[int]] = [[] for _ in range(count)]
        for index, values in zip(order, zip(*columns, strict=True), strict=True):
            if None in values:
                rows[index] = [0 if value is None else int(value) for value in values]
            else:
                rows[index] = list(map(int, values))
        return rows

    def validate(self) -> None:
        """PING Redis (on a cluster: CLUSTER INFO on every primary, each must report
        ``cluster_state:ok``); TSDBUnavailable if it does not answer or cannot serve."""
        with unavailable_on_redis_errors():
            if not self.cluster:
                self.client.ping()
                return
            infos = self.client.cluster_info(target_nodes=RedisCluster.PRIMARIES)
        if "cluster_state" in infos:  # a single primary answers with its info itself
            infos = {"the only primary": infos}
        for node, info in infos.items():
            if info.get("cluster_state") != "ok":
                state = info.get("cluster_state")
                raise TSDBUnavailable(
                    f"Redis Cluster is not serving: cluster_state:{state} on {node}"
                )

    def flush(self) -> None:
        """Delete every key under this backend's prefix (SCAN + UNLINK, never FLUSHDB; on a
        cluster, on every primary)."""
        if not self.prefix:
            raise ValueError("refusing to flush a RedisTSDB without a prefix")
        # Backslash-escape glob characters: "[c]" cannot escape "]" or "\\" themselves.
        pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in self.prefix) + "*"
        with unavailable_on_redis_errors():
            pipe = self._pipeline()
            for n, key in enumerate(self.client.scan_iter(match=pattern, count=1000), 1):
                pipe.execute_command("UNLINK", key)
                if n % 1000 == 0:
                    pipe.execute()
            pipe.execute()

    def close(self) -> None:
        if self._connector is not None:
            self._connector.close()
