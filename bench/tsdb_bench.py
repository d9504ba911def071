"""Benchmark RedisTSDB against raw redis-py pipelines sending the same commands, and against
the commands the previous layout (one hash per bucket and vnode) needed for the same read.

    .venv/bin/python bench/tsdb_bench.py [--url redis://127.0.0.1:6379/0] [--seconds 2]

Each case runs the TSDB call and its baselines in alternating rounds within one run, and
reports operations per second and the ratio TSDB / baseline:

- "raw": the same Redis commands the TSDB sends, built beforehand and sent as one raw
  ``pipeline(transaction=False)``, replies left as bytes (what the TSDB adds on top of the
  round trip: planning, packing, turning bytes into ints and series);
- "old layout": the commands the previous layout needed for the same answer (HINCRBY +
  EXPIREAT per bucket hash; one HMGET per bucket and vnode), on data stored that way, sent
  the same raw way: how much cheaper the new layout is, replies not even converted.

Then, in-process, where the time of one long read goes. Keys live under fresh
``bench:tsdb:<random>:`` prefixes, deleted at the end. Runtime about 2 minutes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from tsdb.base import IncrItem, TSDBModel
from tsdb.redis import _EVALSHA, RedisTSDB

M = TSDBModel
HOUR = 3600
DAY = 86400
ROUNDS = 5
VNODES = 64  # the previous layout's default


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
    calls = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        fn()
        calls += 1
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - started)


def compare(calls: list[Callable[[], object]], seconds: float) -> list[float]:
    """Median rate of each call over ROUNDS alternating rounds (warm-up first)."""
    for call in calls:
        call()
    rates: list[list[float]] = [[] for _ in calls]
    for _ in range(ROUNDS):
        for call, found in zip(calls, rates, strict=True):
            found.append(rate(call, seconds / ROUNDS))
    return [statistics.median(found) for found in rates]


def num(value: float) -> str:
    """A rate with 2 or 3 significant digits: 4,651, 48.2, 0.71 (nan: "-")."""
    if value != value:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def sent_by(backend: RedisTSDB, call: Callable[[], object]) -> list[tuple[bytes, ...]]:
    """The commands ``call`` makes ``backend`` send, as argument tuples (RESP arrays of bulk
    strings parsed back)."""
    sent: list[bytes] = []
    original = backend._round_trip

    def record(commands: list[bytes]) -> list[Any]:
        sent.extend(commands)
        return original(commands)

    backend._round_trip = record  # type: ignore[method-assign]
    try:
        call()
    finally:
        del backend._round_trip
    return [tuple(command.split(b"\r\n")[2:-1:2]) for command in sent]


def raw_pipeline(client: redis.Redis, commands: list[tuple[Any, ...]]) -> Callable[[], object]:
    def run() -> object:
        pipe = client.pipeline(transaction=False)
        for args in commands:
            pipe.execute_command(*args)
        return pipe.execute()

    return run


def old_key(prefix: str, model: int, rollup: int, bucket: int, field: str) -> str:
    """The previous layout: one hash per (model, rollup, bucket, vnode)."""
    return f"{prefix}{model}:{rollup}:{bucket}:{zlib.crc32(field.encode()) % VNODES}"


def old_write(
    prefix: str, rollups: tuple[tuple[int, int], ...], counts: list[tuple[int, str, int, int]]
) -> list[tuple[Any, ...]]:
    """The previous layout's commands for ``(model, field, timestamp, count)`` counts."""
    writes: list[tuple[Any, ...]] = []
    expiries: dict[str, int] = {}
    now = int(time.time())
    for model, field, ts, count in counts:
        for rollup, samples in rollups:
            bucket = ts // rollup * rollup
            if bucket + rollup * samples <= now:
                continue
            name = old_key(prefix, model, rollup, bucket, field)
            writes.append(("HINCRBY", name, field, count))
            expiries[name] = bucket + rollup * samples
    return writes + [("EXPIREAT", name, at) for name, at in expiries.items()]


def old_reads(
    prefix: str, model: int, rollup: int, buckets: list[int], keys: list[str]
) -> list[tuple[Any, ...]]:
    """The previous layout's HMGETs for ``keys`` over ``buckets`` of ``rollup``."""
    by_vnode: dict[int, list[str]] = {}
    for key in keys:
        by_vnode.setdefault(zlib.crc32(key.encode()) % VNODES, []).append(key)
    return [
        ("HMGET", f"{prefix}{model}:{rollup}:{bucket}:{vnode}", *fields)
        for bucket in buckets
        for vnode, fields in by_vnode.items()
    ]


def new_reads(
    backend: RedisTSDB, model: int, rollup: int, buckets: list[int], keys: list[str]
) -> list[tuple[Any, ...]]:
    """The GETRANGEs RedisTSDB sends for ``keys`` over contiguous ``buckets``."""
    segments = backend._segments(rollup, buckets)
    return [
        ("GETRANGE", backend.make_key(model, rollup, block, key), 8 * i, 8 * j + 7)
        for key in keys
        for block, i, j in segments
    ]


def memory(client: redis.Redis, prefix: str) -> int:
    """Bytes Redis reports (MEMORY USAGE) for every key under ``prefix``."""
    pipe = client.pipeline(transaction=False)
    for name in client.scan_iter(match=f"{prefix}*", count=1000):
        pipe.memory_usage(name, samples=0)
    return sum(size or 0 for size in pipe.execute())


def pipelined(client: redis.Redis, commands: list[tuple[Any, ...]], size: int = 10_000) -> None:
    for start in range(0, len(commands), size):
        raw_pipeline(client, commands[start : start + size])()


def print_table(rows: list[tuple[str, str, float, float, float, str]]) -> None:
    print(f"redis-py {redis.__version__}, {ROUNDS} alternating rounds, median ops/s\n")
    print(
        "| case | commands | TSDB ops/s | raw ops/s | ratio to raw | old layout ops/s "
        "| TSDB / old | target |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for label, commands, tsdb_rate, raw_rate, old_rate, target in rows:
        ratio = tsdb_rate / raw_rate
        floor = float(target.split()[1])
        mark = "ok" if ratio >= floor else "MISSED"
        print(
            f"| {label} | {commands} | {num(tsdb_rate)} | {num(raw_rate)} | {ratio:.2f} | "
            f"{num(old_rate)} | {num(tsdb_rate / old_rate)}x | {target} {mark} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seconds", type=float, default=2.0, help="per case and side")
    args = parser.parse_args()

    run_id = uuid.uuid4().hex[:12]
    prefix, old = f"bench:tsdb:{run_id}:", f"bench:tsdb:{run_id}:old:"
    backend = RedisTSDB(url=args.url, prefix=prefix)
    client = redis.Redis.from_url(args.url)
    rows: list[tuple[str, str, float, float, float, str]] = []
    profile: list[str] = []
    try:
        now = int(time.time())
        end = now // HOUR * HOUR + HOUR - 1

        # incr_multi: one event counted for its organization, project and DSN key.
        event: list[IncrItem] = [
            (M.organization_total_received, 1),
            (M.project_total_received, 10),
            (M.key_total_received, 100),
        ]
        [(_, keys, script_args)] = backend._scripts(backend._plan_writes(event, now, 1))
        packed = backend._pack_script(_EVALSHA, 0, keys, script_args)
        evalsha = tuple(packed.split(b"\r\n")[2:-1:2])  # the same command, for redis-py
        counts = [(200, "1", now, 1), (100, "10", now, 1), (300, "100", now, 1)]
        tsdb_rate, raw_rate, old_rate = compare(
            [
                lambda: backend.incr_multi(event, timestamp=now),
                raw_pipeline(client, [evalsha]),
                raw_pipeline(client, old_write(old, backend.rollups, counts)),
            ],
            args.seconds,
        )
        rows.append(
            (
                "incr_multi, 1 event (3 models x 3 rollups)",
                "1 EVALSHA (old: 9 HINCRBY + 9 EXPIREAT)",
                tsdb_rate,
                raw_rate,
                old_rate,
                ">= 0.8 raw",
            )
        )

        # Data for the reads: 1,000 projects x the last 24 hours; 500 series x 90 days (the
        # stats_v2 case: 50 projects x 10 outcome combinations), hourly, in both layouts.
        projects = [str(k) for k in range(1, 1001)]
        day = [end - HOUR * n for n in range(24)]
        for start in range(0, len(projects), 100):
            chunk = projects[start : start + 100]
            backend.incr_multi([(M.project_total_received, k, ts, 3) for k in chunk for ts in day])
        pipelined(
            client,
            old_write(old, backend.rollups, [(100, k, ts, 3) for k in projects for ts in day]),
        )
        profile.append(
            "Redis memory (MEMORY USAGE of every key) of 1,000 projects x 24 hourly counts of "
            "one model, with the last hour's 10 s and 1 min buckets: "
            f"{memory(client, f'{prefix}100:') / 1024:,.0f} KiB "
            f"(of which the daily summary {memory(client, f'{prefix}100:86400:') / 1024:,.0f} "
            f"KiB); previous layout {memory(client, f'{old}100:') / 1024:,.0f} KiB"
        )
        series = [f"{p}:error:accepted:{n}" for p in range(1, 51) for n in range(10)]
        quarter = [end - HOUR * n for n in range(2160)]
        # One series per call (4,320 counters: a short script), so the shared Redis is not
        # blocked for long. The previous layout gets the first series only (its 500-key
        # baseline would send 138,240 HMGETs per read).
        for key in series:
            backend.incr_multi([(M.outcome_quantity, key, ts, 1 + ts % 5) for ts in quarter])
        pipelined(
            client,
            old_write(old, backend.rollups, [(500, series[0], ts, 1 + ts % 5) for ts in quarter]),
        )

        # The fine rollups, read as the stats pages read them: the last hour at 10 s and the
        # last 12 hours at 1 min, a count in every bucket (one key; its own end: now).
        fine_end = int(time.time())
        fine = [fine_end - 10 * n for n in range(360)] + [fine_end - 60 * n for n in range(720)]
        backend.incr_multi([(M.project, "fine", ts, 1) for ts in fine])
        pipelined(client, old_write(old, backend.rollups, [(1, "fine", ts, 1) for ts in fine]))

        # (label, model, keys, points, rollup, source rollup, end)
        P, Q, H = M.project_total_received, M.outcome_quantity, HOUR
        cases = [
            ("1 key x 24 hourly points", P, projects[:1], 24, H, H, end),
            ("1 key x 1 h at 10 s (360 points)", M.project, ["fine"], 360, 10, 10, fine_end),
            ("1 key x 12 h at 1 min (720 points)", M.project, ["fine"], 720, 60, 60, fine_end),
            ("1 key x 2,160 hourly points (90 days)", Q, series[:1], 2160, H, H, end),
            ("1 key x 90 days at 1d (from 2,160 hourly)", Q, series[:1], 90, DAY, H, end),
            ("1,000 keys x 24 hourly points", P, projects, 24, H, H, end),
            ("500 keys x 90 days at 1d (from hourly)", Q, series, 90, DAY, H, end),
            ("500 keys x 2,160 hourly points", Q, series, 2160, H, H, end),
        ]  # fmt: skip
        for label, model, case_keys, points, rollup, source, case_end in cases:
            start = case_end - points * rollup + 1
            result = backend.get_range(model, case_keys, start, case_end, rollup=rollup)
            assert all(s[-1][1] > 0 for s in result.values()), label
            buckets = list(range(start // source * source, case_end + 1, source))
            new_commands = sent_by(
                backend,
                lambda m=model, k=case_keys, s=start, r=rollup, e=case_end: backend.get_range(
                    m, k, s, e, r
                ),
            )
            old_commands = old_reads(old, model, source, buckets, case_keys)
            calls = [
                lambda m=model, k=case_keys, s=start, r=rollup, e=case_end: backend.get_range(
                    m, k, s, e, r
                ),
                raw_pipeline(client, new_commands),
            ]
            if len(case_keys) * len(buckets) <= 24_000:  # the previous layout: 1 key, or 1,000 x 24
                calls.append(raw_pipeline(client, old_commands))
            rates = compare(calls, args.seconds)
            tsdb_rate, raw_rate = rates[:2]
            old_rate = rates[2] if len(rates) > 2 else float("nan")
            rows.append(
                (
                    f"get_range, {label}",
                    f"{len(new_commands):,} GETRANGE (old: {len(old_commands):,} HMGET)",
                    tsdb_rate,
                    raw_rate,
                    old_rate,
                    ">= 0.7 raw",
                )
            )
            if len(case_keys) > 1:
                # The same read in columns (no (ts, count) pair per point): what the stats
                # endpoints call.
                columns_rate, raw_rate = compare(
                    [
                        lambda m=model, k=case_keys, s=start, r=rollup, e=case_end: (
                            backend.get_columns([m], k, s, e, r)
                        ),
                        raw_pipeline(client, new_commands),
                    ],
                    args.seconds,
                )
                rows.append(
                    (
                        f"get_columns, {label}",
                        f"{len(new_commands):,} GETRANGE",
                        columns_rate,
                        raw_rate,
                        float("nan"),
                        ">= 0.7 raw",
                    )
                )

        print_table(rows)

        # In-process: one key over 2,161 hourly points, the Redis round trip alone (the
        # backend's own packed GETRANGEs, replies read) against the whole get_range.
        start = end - 2160 * HOUR
        buckets = list(range(start // HOUR * HOUR, end + 1, HOUR))
        packed: list[bytes] = []
        original = backend._round_trip
        backend._round_trip = lambda commands: packed.extend(commands) or original(commands)  # type: ignore[method-assign]
        backend.get_range(M.outcome_quantity, series[:1], start, end, HOUR)
        del backend._round_trip
        canned = backend._round_trip(packed)
        offline = RedisTSDB(url=args.url, prefix=prefix)
        offline._round_trip = lambda commands: list(canned)  # type: ignore[method-assign]
        assert offline.get_range(M.outcome_quantity, series[:1], start, end, HOUR) == (
            backend.get_range(M.outcome_quantity, series[:1], start, end, HOUR)
        )
        round_trip, python = compare(
            [
                lambda: backend._round_trip(packed),
                lambda: offline.get_range(M.outcome_quantity, series[:1], start, end, HOUR),
            ],
            args.seconds,
        )
        profile.append(
            f"1 key x 2,161 hourly points: the Redis read ({len(packed)} GETRANGE sent, "
            f"replies read) {1e6 / round_trip:,.0f} us; everything get_range does besides "
            f"(window maths, packing the commands, bytes to ints, the 2,161 (ts, count) "
            f"pairs), measured on the same replies without Redis: {1e6 / python:,.0f} us"
        )
    finally:
        backend.flush()
        backend.close()
        old_backend = RedisTSDB(url=args.url, prefix=old)
        old_backend.flush()
        old_backend.close()
        client.close()

    print()
    for line in profile:
        print(line)


if __name__ == "__main__":
    main()
