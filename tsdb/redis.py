"""RedisTSDB: counters in Redis strings of 64-bit integers, one string per (model, rollup, block
of buckets, counted key); each write batch is one Lua script that refuses to run late."""

from __future__ import annotations

import hashlib
import math
import sys
import time
from array import array
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Final

from redis.cluster import RedisCluster
from redis.exceptions import NoScriptError, ResponseError

from .base import BaseTSDB, TSDBUnavailable, WritePlan
from .redisclient import ClusterBatch, LazyRedisClient, unavailable_on_redis_errors
from .redisclient import client_options as no_retry_options

__all__ = ["WRITE_SCRIPT", "RedisTSDB", "block_buckets"]


def block_buckets(rollup: int) -> int:
    """Counters per string for buckets of ``rollup`` seconds (a kept rollup, or 86400 for the
    daily summary): 31 below a minute (10 s: 310 s a string), 15 below an hour (1 min: 15
    minutes a string), 63 from an hour up (63 hours, 63 days). Part of the stored layout:
    changing it misreads what is stored.

    Each size fills one allocation of Redis' allocator (jemalloc) with the string header:
    31 x 8 + 4 = 252 of 256 bytes, 15 x 8 + 4 = 124 of 128, 63 x 8 + 6 = 510 of 512. Short
    strings for the fine rollups, because their data is mostly sparse (a project seen once an
    hour has one count in each of 12 one-minute strings a day, whatever their length, and
    each string also costs Redis about 150 bytes of key, expiry and table entries) and short
    lived, and their reads are short windows (an hour at 10 s: 12 or 13 strings; 12 hours at
    1 min: 48 or 49). Measured with ``bench/redis_memory.py`` (see ``bench/README.md``)."""
    if rollup < 60:
        return 31
    if rollup < 3600:
        return 15
    return 63


_PACKED_BUCKETS: Final = 4096  # RedisTSDB._bucket_args: buckets kept packed per process
_COUNTER: Final = 8  # bytes per counter: a big-endian signed 64-bit integer (BITFIELD i64)
_LITTLE_ENDIAN: Final = sys.byteorder == "little"

# KEYS: one string per counter (a string may be named more than once).
# ARGV[1]: deadline, epoch microseconds by the client's clock, or 0 for none. Then per
# counter: its offset ("#7"), the string's EXPIREAT, the length of the whole string (its
# rollup's block_buckets x 8 bytes), the count. Returns {1} when applied, {0, <Redis time
# in us>} when it arrived after the deadline (nothing applied), or the first error reply
# (every other counter applied). One BITFIELD per counter; only a bucket's first count
# checks whether its string is new (no TTL yet), and only a new string is padded to its whole
# length (SET of exactly that many bytes: grown by BITFIELD it would take twice the memory)
# and given its EXPIREAT.
WRITE_SCRIPT: Final = """
local deadline = tonumber(ARGV[1])
if deadline > 0 then
  local now = redis.call('TIME')
  local at = tonumber(now[1]) * 1000000 + tonumber(now[2])
  if at > deadline then return {0, at} end
end
local failed = false
for i = 1, #KEYS do
  local key, j = KEYS[i], 4 * i - 2
  -- The count goes to BITFIELD as the string it came as: a Lua number would be formatted
  -- back into a string on every call (a sixth of the script's time).
  local reply = redis.pcall('BITFIELD', key, 'INCRBY', 'i64', ARGV[j], ARGV[j + 3])
  if reply['err'] then
    if not failed then
      failed = reply['err'] .. ' (counter ' .. i .. ' of ' .. #KEYS .. ' in one write: '
        .. key .. ' ' .. ARGV[j] .. ' +' .. ARGV[j + 3] .. ')'
    end
  elseif reply[1] == tonumber(ARGV[j + 3]) and redis.call('TTL', key) == -1 then
    local value = redis.call('GET', key)
    local size = tonumber(ARGV[j + 2])
    if #value < size then
      redis.call('SET', key, value .. string.rep('\\0', size - #value))
    end
    redis.call('EXPIREAT', key, ARGV[j + 1])
  end
end
if failed then return redis.error_reply(failed) end
return {1}
"""
WRITE_SHA: Final = hashlib.sha1(WRITE_SCRIPT.encode()).hexdigest()

_BULK = b"$%d\r\n%b\r\n"
_EVALSHA = _BULK % (7, b"EVALSHA") + _BULK % (40, WRITE_SHA.encode())
_EVAL = _BULK % (4, b"EVAL") + _BULK % (len(WRITE_SCRIPT.encode()), WRITE_SCRIPT.encode())
# GETRANGE <head + key> <start> <end>: the name's length, its two parts, the packed range.
_GETRANGE_HEAD = b"*4\r\n$8\r\nGETRANGE\r\n$%d\r\n%b%b\r\n%b"


def _reply_reader(connection: Any) -> Any:
    """A function reading the next reply on ``connection``: its protocol parser's, when it
    has the one redis-py 8 gives it (an error reply is returned, not raised), else the
    connection's own ``read_response``. The parser skips, per reply, the connection's
    wrapping (formatting the address for an error message that is never raised, the health
    check stamp). Socket failures still reach ``_round_trip``, which disconnects, and
    ``unavailable_on_redis_errors``."""
    parser = getattr(connection, "_parser", None)
    read = getattr(parser, "read_response", None)
    return read if callable(read) else connection.read_response


class LateWrite(TSDBUnavailable):
    """Redis received a write after its deadline and did not apply it."""


class RedisTSDB(BaseTSDB):
    """Counters in Redis strings, one block of buckets to a string: 31 buckets at 10 s, 15 at
    1 min, 63 at 1 h and in the daily summary (``block_buckets``).

    Layout (``prefix`` defaults to ``ts:``)::

        key     {prefix}{model}:{rollup}:{block}:{{key}}     a string of n x 8 bytes
                   model   TSDBModel integer, e.g. 100 (project_total_received)
                   rollup  kept rollup in seconds: 10, 60, 3600; 86400 for the daily
                           summary (``BaseTSDB``: whole days for 1d reads)
                   block   start of the block, epoch seconds, a multiple of rollup x n
                   {key}   str(key) in braces: the Redis Cluster hash tag
        n       counters per string, ``block_buckets(rollup)``: 31 for 10 s (310 s a
                string), 15 for 1 min (15 minutes), 63 for 1 h (63 hours) and 1 day (63 days)
        value   counter i (bucket block + i x rollup) at bytes 8i..8i+7, a big-endian signed
                64-bit integer (BITFIELD INCRBY i64 #i); a missing string or byte is 0
        TTL     EXPIREAT block + (n - 1) x rollup + retention: when its last bucket expires
                (retention: rollup x samples; for the daily summary, the coarsest rollup's)

        ts:100:3600:1795348800:{42}   project 42's received, 1795348800 .. +62 h, hourly
        ts:100:60:1795356000:{42}     the same by the minute, 1795356000 .. +14 min
        ts:100:10:1795355700:{42}     the same at 10 s, 1795355700 .. +300 s

    Reading one series over N buckets costs one GETRANGE per block it spans (90 days of
    hourly buckets: 35 commands; at 1d, from the daily summary: 2 or 3; an hour at 10 s: 12
    or 13; 12 hours at 1 min: 48 or 49), all in one round trip, whatever the number of
    series and spans; a GETRANGE asks for exactly the bytes of the buckets wanted. A bucket
    older than its retention is never read, although the string holding it lives on until the
    block's last bucket expires: the read starts at the oldest bucket still kept at that
    moment (base maths), and a write to an expired bucket is never sent. Replies are bytes
    turned into ints by ``array`` in C: no per-point Python work.

    The hash tag puts every string of one counted key (all its models, rollups and blocks)
    in one Redis Cluster slot; different keys spread over the slots. (A prefix holding a
    ``{...}`` hash tag of its own puts everything in one slot.)

    Writes: every batch is one Lua script (EVALSHA; a server that lacks it answers NOSCRIPT
    without running anything, and the call is sent again as EVAL). The script first compares
    Redis' ``TIME`` with a deadline the client sends: the moment it sent the write plus its
    socket timeout. A write Redis runs after that moment (it was frozen, or the write sat in
    a buffer while the client gave up and answered 503) is dropped, not applied late. Then,
    per counter, ``BITFIELD INCRBY``; a new string is then padded to all its n counters at
    once (so it never grows) and given its ``EXPIREAT``. A script runs
    as a unit: a write is applied whole or not at all (an error reply, e.g. WRONGTYPE under
    our prefix, skips only that counter and is raised after the others were applied).

    So a write the client gave up on is counted only if Redis ran it before the deadline and
    its reply was lost (the connection broke after Redis received it, or the reply arrived
    after the client stopped waiting, which the deadline leaves a margin of about a
    millisecond for: ``bench/tsdb_deadline_bench.py``), or if the script itself ran longer
    than the socket timeout (a write of hundreds of thousands of counters, never ingest's).
    The deadline is compared across two clocks: if Redis' clock is behind this host's by S
    seconds, writes up to S seconds late are still applied; if it is ahead by S, writes that
    took longer than ``socket_timeout - S`` to arrive are dropped, and with S beyond the
    socket timeout every write is dropped and raises ``LateWrite`` (a TSDBUnavailable naming
    the skew). Keep clocks synchronised (NTP). A client given without a socket timeout sends
    no deadline.

    On a single Redis a batch is packed here (RESP) and written at once on a pooled
    connection, then every reply is read, error replies included, so the connection goes back
    clean; a connection that failed mid-way is disconnected, never reused.

    Redis Cluster: ``cluster=True`` with ``url`` naming any one node (database 0) builds a
    ``redis.cluster.RedisCluster`` that discovers the others; a ``RedisCluster`` can also be
    passed as ``client``. A write is one script per slot it touches (a script's keys must
    share a slot), a read one GETRANGE per string; both go as one batch per node, all written
    before any reply is read: one round trip per node, in parallel (only commands the cluster
    refuses unexecuted while slots migrate, MOVED/ASK/TRYAGAIN, are resent one by one).
    ``validate`` asks every primary for ``cluster_state:ok``; ``flush`` scans every primary.
    The cluster client connects on first use, so a cluster that is down at startup raises
    TSDBUnavailable on use rather than stopping the server. A call that fails on one node may
    have been applied on the others.

    Writes are not retried: BITFIELD INCRBY is not idempotent, and a blind resend after a
    lost reply would count twice. A failure raises TSDBUnavailable instead. Counters are
    binary, so a client given with ``decode_responses=True`` is refused.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str = "ts:",
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
        ``close()``). ``client_options`` are passed on to the client built from ``url``.
        ``socket_timeout`` also bounds how late a write may reach Redis (see the class)."""
        super().__init__(rollups, **kwargs)
        if not isinstance(prefix, str):
            raise ValueError(f"prefix must be a string, not {prefix!r}")
        if not isinstance(cluster, bool):
            raise ValueError(f"cluster must be True or False, not {cluster!r}")
        self.prefix = prefix
        # Counters per string, per kept rollup and the daily summary (``block_buckets``).
        self.blocks: dict[int, int] = {r: block_buckets(r) for r in self._retention}
        self._packed: dict[tuple[int, int, int], tuple[bytes, bytes]] = {}
        self.cluster = cluster or isinstance(client, RedisCluster)
        self._given_client: Any = client
        self._connector: LazyRedisClient | None = None
        self._encode: Any = None
        self._timeout: float | None = None
        if client is None:
            options = no_retry_options(
                socket_connect_timeout=socket_connect_timeout, socket_timeout=socket_timeout
            )
            options.update(client_options or {})
            if options.get("decode_responses"):
                raise ValueError(_BINARY)
            self._connector = LazyRedisClient(url, cluster=cluster, options=options)
        elif self._connection_options(client).get("decode_responses"):
            raise ValueError(_BINARY)

    @property
    def client(self) -> Any:
        """The redis-py client; a cluster client is built (and connected) on first use."""
        if self._connector is None:
            return self._given_client
        return self._connector.client

    @staticmethod
    def _connection_options(client: Any) -> dict[str, Any]:
        if isinstance(client, RedisCluster):
            options: dict[str, Any] = client.nodes_manager.connection_kwargs
            return options
        options = client.connection_pool.connection_kwargs
        return options

    def make_key(self, model: int, rollup: int, block: int, key: str) -> str:
        """The name of the string holding ``key``'s counters of ``model`` in the block of
        kept ``rollup`` starting at ``block`` (``block_of``). Every key is built here."""
        return f"{self.prefix}{int(model)}:{rollup}:{block}:{{{key}}}"

    def block_of(self, rollup: int, bucket: int) -> tuple[int, int]:
        """(start of the block holding ``bucket`` of kept ``rollup`` (or the daily summary),
        epoch seconds, a multiple of ``rollup`` x its ``blocks``; the index of the bucket's
        counter in it)."""
        index = bucket // rollup
        offset = index % self.blocks[rollup]
        return (index - offset) * rollup, offset

    def block_expires_at(self, rollup: int, block: int) -> int:
        """The EXPIREAT of the string of the block starting at ``block``: when its last
        bucket expires."""
        return block + (self.blocks[rollup] - 1) * rollup + self._retention[rollup]

    def _encoder(self) -> Any:
        """``str -> bytes`` with the client's encoding (what redis-py would send)."""
        encode = self._encode
        if encode is None:
            options = self._connection_options(self.client)
            encoding = options.get("encoding", "utf-8")
            errors = options.get("encoding_errors", "strict")
            encode = self._encode = lambda text: text.encode(encoding, errors)
        return encode

    def _deadline(self) -> int:
        """The deadline to send with a write: now plus the socket timeout, in epoch
        microseconds by this host's clock; 0 (none) without a socket timeout."""
        timeout = self._timeout
        if timeout is None:
            timeout = self._connection_options(self.client).get("socket_timeout") or 0.0
            self._timeout = timeout = float(timeout)
        if not timeout:
            return 0
        return math.floor((time.time() + timeout) * 1_000_000)

    # -- one round trip on a single Redis -----------------------------------------------------

    def _round_trip(self, commands: list[bytes]) -> list[Any]:
        """Send packed ``commands`` in one write on one pooled connection (single Redis only),
        then read one reply per command: one round trip, nothing resent. Error replies are
        returned in place (every reply is read, so the connection goes back to the pool
        clean). Any other failure (connection lost, timeout, interrupt) disconnects the
        connection before it goes back to the pool, replies unread; Redis errors are mapped
        as ``unavailable_on_redis_errors`` maps them."""
        pool = self.client.connection_pool
        with unavailable_on_redis_errors():
            connection = pool.get_connection()
            try:
                connection.send_packed_command((b"".join(commands),))
                read = _reply_reader(connection)
                replies: list[Any] = []
                append = replies.append
                for _ in range(len(commands)):
                    try:
                        append(read())
                    except ResponseError as exc:
                        append(exc)
            except BaseException:
                connection.disconnect()
                raise
            finally:
                pool.release(connection)
        return replies

    # -- writes --------------------------------------------------------------------------------

    def _bucket_args(self, model: int, rollup: int, bucket: int) -> tuple[bytes, bytes]:
        """The packed (RESP) start of the names of ``model``'s strings in the block holding
        ``bucket`` (everything but the braced key), and the packed arguments every counter of
        that bucket shares (offset, EXPIREAT, string length). Kept per process for the
        buckets written lately: one ingest write names 32 counters, most of them in buckets
        the previous writes named too."""
        cached = self._packed.get((model, rollup, bucket))
        if cached is not None:
            return cached
        block, index = self.block_of(rollup, bucket)
        head = self._encoder()(self.make_key(model, rollup, block, "")[:-2])
        offset = b"#%d" % index
        expires = b"%d" % self.block_expires_at(rollup, block)
        size = b"%d" % (self.blocks[rollup] * _COUNTER)
        shared = (
            _BULK % (len(offset), offset)
            + _BULK % (len(expires), expires)
            + _BULK % (len(size), size)
        )
        if len(self._packed) >= _PACKED_BUCKETS:
            self._packed.clear()
        self._packed[(model, rollup, bucket)] = head, shared
        return head, shared

    def _scripts(self, plan: WritePlan) -> list[tuple[str, list[bytes], list[bytes]]]:
        """The plan as scripts to run: (routing key, keys, arguments), encoded; four
        arguments per key (counter offset, EXPIREAT, string length, count). On a single Redis
        one script, never split (its deadline must hold for the whole write), keys and
        arguments packed (RESP) already, each counter's four in one piece; on a cluster one
        script per slot, not packed."""
        if self.cluster:
            return self._cluster_scripts(plan)
        encode, bucket_args = self._encoder(), self._bucket_args
        braced: dict[str, bytes] = {}
        keys: list[bytes] = []
        args: list[bytes] = []
        for (model, rollup, bucket), fields in plan.items():
            head, shared = bucket_args(int(model), rollup, bucket)
            for field, count in fields.items():
                name = braced.get(field)
                if name is None:
                    name = braced[field] = encode(f"{{{field}}}")
                keys.append(b"$%d\r\n%b%b\r\n" % (len(head) + len(name), head, name))
                value = b"%d" % count
                args.append(shared + _BULK % (len(value), value))
        return [("", keys, args)] if keys else []

    def _cluster_scripts(self, plan: WritePlan) -> list[tuple[str, list[bytes], list[bytes]]]:
        """``_scripts`` on a cluster: one script per slot, keys and arguments not packed."""
        encode, make_key, block_of = self._encoder(), self.make_key, self.block_of
        expires_at = self.block_expires_at
        sizes = {rollup: b"%d" % (n * _COUNTER) for rollup, n in self.blocks.items()}
        groups: dict[Any, tuple[list[bytes], list[bytes]]] = {}
        slot_of: dict[str, Any] = {}
        keyslot = self.client.keyslot
        for (model, rollup, bucket), fields in plan.items():
            model = int(model)  # the same digits, formatted faster than an IntEnum
            block, index = block_of(rollup, bucket)
            offset = b"#%d" % index
            expires = b"%d" % expires_at(rollup, block)
            size = sizes[rollup]
            for field, count in fields.items():
                key = make_key(model, rollup, block, field)
                group_id = slot_of.get(field)
                if group_id is None:
                    group_id = slot_of[field] = keyslot(key)
                group = groups.get(group_id)
                if group is None:
                    group = groups[group_id] = ([], [])
                group[0].append(encode(key))
                group[1].extend((offset, expires, size, b"%d" % count))
        return [(keys[0].decode(), keys, args) for keys, args in groups.values()]

    @staticmethod
    def _pack_script(head: bytes, deadline: int, keys: list[bytes], args: list[bytes]) -> bytes:
        """``head`` (``EVALSHA sha`` or ``EVAL script``, packed) with the write's keys, its
        deadline and the counters' arguments (packed by ``_scripts``), as RESP."""
        numkeys = b"%d" % len(keys)
        deadline_arg = b"%d" % deadline
        return b"".join(
            [
                b"*%d\r\n" % (4 + 5 * len(keys)),
                head,
                _BULK % (len(numkeys), numkeys),
                *keys,
                _BULK % (len(deadline_arg), deadline_arg),
                *args,
            ]
        )

    def _write(self, plan: WritePlan) -> None:
        scripts = self._scripts(plan)
        if self.cluster:
            self._write_cluster(scripts)
            return
        deadline = self._deadline()
        replies = self._round_trip(
            [self._pack_script(_EVALSHA, deadline, keys, args) for _, keys, args in scripts]
        )
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            # Refused unexecuted: sending them again as EVAL cannot count twice.
            deadline = self._deadline()
            again = self._round_trip(
                [self._pack_script(_EVAL, deadline, *scripts[i][1:]) for i in missing]
            )
            for index, reply in zip(missing, again, strict=True):
                replies[index] = reply
        self._check_write_replies(replies)

    def _write_cluster(self, scripts: list[tuple[str, list[bytes], list[bytes]]]) -> None:
        with unavailable_on_redis_errors():
            replies = self._send_scripts(scripts, "EVALSHA", WRITE_SHA)
            missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if missing:
                again = self._send_scripts([scripts[i] for i in missing], "EVAL", WRITE_SCRIPT)
                for index, reply in zip(missing, again, strict=True):
                    replies[index] = reply
        self._check_write_replies(replies)

    def _send_scripts(
        self, scripts: list[tuple[str, list[bytes], list[bytes]]], command: str, script: str
    ) -> list[Any]:
        """One batch per node: each script to the node of its keys' slot."""
        batch = ClusterBatch(self.client)
        deadline = self._deadline()
        for key, keys, args in scripts:
            batch.execute_command(command, script, len(keys), *keys, deadline, *args, key=key)
        return batch.execute(raise_on_error=False)

    @staticmethod
    def _check_write_replies(replies: list[Any]) -> None:
        """Raise the first error reply (mapped as ``unavailable_on_redis_errors`` maps it),
        or LateWrite if a script arrived after its deadline."""
        for reply in replies:
            if isinstance(reply, Exception):
                with unavailable_on_redis_errors():
                    raise reply
        for reply in replies:
            if not reply or int(reply[0]) != 1:
                late_us = int(reply[1]) if reply and len(reply) > 1 else 0
                raise LateWrite(
                    "Redis did not apply the write: it ran it after its deadline (Redis time "
                    f"{late_us / 1e6:.6f}), when the client had stopped waiting. If this "
                    "happens while Redis answers quickly, the clocks of this host and Redis "
                    "differ by more than the socket timeout: synchronise them (NTP)."
                )

    # -- reads ---------------------------------------------------------------------------------

    def _segments(self, rollup: int, buckets: list[int]) -> list[tuple[int, int, int]]:
        """The contiguous ``buckets`` as (block start, first index, last index) per block."""
        first, last = buckets[0] // rollup, buckets[-1] // rollup
        size = self.blocks[rollup]
        segments = []
        index = first
        while index <= last:
            block = index - index % size
            end = min(last, block + size - 1)
            segments.append((block * rollup, index - block, end - block))
            index = end + 1
        return segments

    def _read(
        self, model: int, rollup: int, buckets: list[int], fields: list[str]
    ) -> list[list[int]]:
        return self._read_multi([model], rollup, buckets, fields)[0]

    def _read_multi(
        self, models: list[int], rollup: int, buckets: list[int], fields: list[str]
    ) -> list[list[list[int]]]:
        return self._read_spans(models, [(rollup, buckets)], fields)[0]

    def _read_spans(
        self, models: list[int], spans: list[tuple[int, list[int]]], fields: list[str]
    ) -> list[list[list[list[int]]]]:
        """Every span's, model's and key's GETRANGEs in one round trip (on a cluster: one
        batch per node), each span's turned into ints in one go. Commands are listed model by
        model, key by key, block by block; a string's name is spelled out only on a cluster
        or for an error message (``_name_at``)."""
        plans = []  # per span: (rollup, segments, [(first byte, last byte)])
        for rollup, buckets in spans:
            segments = self._segments(rollup, buckets)
            plans.append(
                (rollup, segments, [(i * _COUNTER, (j + 1) * _COUNTER - 1) for _, i, j in segments])
            )
        if self.cluster:
            replies = self._getrange_cluster(models, plans, fields)
        else:
            replies = self._round_trip(self._getrange_commands(models, plans, fields))
        results = []
        offset = 0
        for (rollup, segments, ranges), (_, buckets) in zip(plans, spans, strict=True):
            count = len(models) * len(fields) * len(segments)
            results.append(
                self._rows(
                    replies[offset : offset + count],
                    [end + 1 - start for start, end in ranges],
                    len(models),
                    len(fields),
                    len(buckets),
                    partial(self._name_at, models, rollup, segments, fields),
                )
            )
            offset += count
        return results

    def _name_at(
        self,
        models: list[int],
        rollup: int,
        segments: list[tuple[int, int, int]],
        fields: list[str],
        n: int,
    ) -> str:
        """The name of the ``n``-th string of one span's reads (model, key, block order)."""
        per_model = len(fields) * len(segments)
        model, rest = divmod(n, per_model)
        field, block = divmod(rest, len(segments))
        return self.make_key(models[model], rollup, segments[block][0], fields[field])

    def _getrange_commands(
        self,
        models: list[int],
        plans: list[tuple[int, list[tuple[int, int, int]], list[tuple[int, int]]]],
        fields: list[str],
    ) -> list[bytes]:
        """The GETRANGEs of every span, packed (RESP): each string's name as ``make_key``
        spells it, built from its encoded parts (the block's prefix, the key) rather than
        formatted and encoded one by one."""
        encode = self._encoder()
        encoded = [encode(f"{{{field}}}") for field in fields]
        commands: list[bytes] = []
        append = commands.append
        for rollup, segments, ranges in plans:
            tails = [_BULK % (len(a), a) + _BULK % (len(b), b) for a, b in (
                (b"%d" % start, b"%d" % end) for start, end in ranges
            )]  # fmt: skip
            for model in models:
                heads = [
                    encode(self.make_key(model, rollup, block, "")[:-2]) for block, _, _ in segments
                ]
                pairs = list(zip(heads, tails, strict=True))
                for field in encoded:
                    for head, tail in pairs:
                        append(_GETRANGE_HEAD % (len(head) + len(field), head, field, tail))
        return commands

    def _getrange_cluster(
        self,
        models: list[int],
        plans: list[tuple[int, list[tuple[int, int, int]], list[tuple[int, int]]]],
        fields: list[str],
    ) -> list[Any]:
        batch = ClusterBatch(self.client)
        make_key = self.make_key
        for rollup, segments, ranges in plans:
            for model in models:
                for field in fields:
                    for (block, _, _), (start, end) in zip(segments, ranges, strict=True):
                        name = make_key(model, rollup, block, field)
                        batch.execute_command("GETRANGE", name, start, end, key=name)
        with unavailable_on_redis_errors():
            replies: list[Any] = batch.execute(raise_on_error=False)
        return replies

    @staticmethod
    def _rows(
        replies: list[Any],
        sizes: list[int],
        models: int,
        fields: int,
        points: int,
        name_at: Callable[[int], str],
    ) -> list[list[list[int]]]:
        """GETRANGE replies (model by model, key by key, block by block) as one row of ints
        per key, one block of rows per model: the bytes are joined and converted in C. A
        missing string reads as b"", a shorter one as its bytes: zeros after (padded only
        when the joined bytes fall short). An error reply is raised, naming its string."""
        try:
            data = b"".join(replies)
        except TypeError:
            data = None
        blocks = len(sizes)
        if data is None or len(data) != sum(sizes) * models * fields:
            for n, reply in enumerate(replies):
                if isinstance(reply, ResponseError):
                    reply.args = (
                        f"{reply.args[0] if reply.args else reply} (GETRANGE {name_at(n)})",
                    )
                    with unavailable_on_redis_errors():
                        raise reply
            data = b"".join(
                reply if len(reply) == sizes[n % blocks] else reply.ljust(sizes[n % blocks], b"\0")
                for n, reply in enumerate(replies)
            )
        values = array("q", data)
        if _LITTLE_ENDIAN:
            values.byteswap()
        flat = values.tolist()
        return [
            [flat[(m * fields + f) * points : (m * fields + f + 1) * points] for f in range(fields)]
            for m in range(models)
        ]

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
            if self.cluster:
                pipe: Any = ClusterBatch(self.client)
            else:
                pipe = self.client.pipeline(transaction=False)
            for n, key in enumerate(self.client.scan_iter(match=pattern, count=1000), 1):
                pipe.execute_command("UNLINK", key)
                if n % 1000 == 0:
                    pipe.execute()
            pipe.execute()

    def close(self) -> None:
        if self._connector is not None:
            self._connector.close()


_BINARY = "RedisTSDB stores binary counters: use a client with decode_responses=False (the default)"
