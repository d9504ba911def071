"""Benchmark RedisTSDB against raw redis-py pipelines sending the same commands.

    .venv/bin/python bench/tsdb_bench.py [--url redis://127.0.0.1:6379/0] [--seconds 2]

Each case runs the TSDB call and its baseline (the same Redis commands, built beforehand and
sent as one raw ``pipeline(transaction=False)``) in alternating rounds within one run, and
reports operations per second and the ratio TSDB / baseline. Keys live under a fresh
``bench:tsdb:<random>:`` prefix, deleted at the end. Runtime is about 4 x 2 x ``--seconds``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from tsdb.base import IncrItem, TSDBModel
from tsdb.redis import RedisTSDB

M = TSDBModel
HOUR = 3600
ROUNDS = 5


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


def compare(
    tsdb_call: Callable[[], object], raw_call: Callable[[], object], seconds: float
) -> tuple[float, float]:
    """Median rate of each over ROUNDS alternating rounds (warm-up first)."""
    tsdb_call()
    raw_call()
    tsdb_rates, raw_rates = [], []
    for _ in range(ROUNDS):
        raw_rates.append(rate(raw_call, seconds / ROUNDS))
        tsdb_rates.append(rate(tsdb_call, seconds / ROUNDS))
    return statistics.median(tsdb_rates), statistics.median(raw_rates)


def raw_pipeline(client: redis.Redis, commands: list[tuple[Any, ...]]) -> Callable[[], object]:
    def run() -> object:
        pipe = client.pipeline(transaction=False)
        for name, *args in commands:
            getattr(pipe, name)(*args)
        return pipe.execute()

    return run


def hmget_commands(
    backend: RedisTSDB, model: TSDBModel, buckets: list[int], keys: list[int]
) -> list[tuple[Any, ...]]:
    by_vnode: dict[int, list[str]] = {}
    for key in keys:
        by_vnode.setdefault(backend.vnode(str(key)), []).append(str(key))
    return [
        ("hmget", backend.make_key(model, HOUR, bucket, vnode), fields)
        for bucket in buckets
        for vnode, fields in by_vnode.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seconds", type=float, default=2.0, help="per case and side")
    args = parser.parse_args()

    prefix = f"bench:tsdb:{uuid.uuid4().hex[:12]}:"
    backend = RedisTSDB(url=args.url, prefix=prefix)
    client = redis.Redis.from_url(args.url)
    rows: list[tuple[str, float, float, float]] = []
    try:
        now = int(time.time())
        end = now // HOUR * HOUR + HOUR - 1

        # incr_multi: one event counted for its organization, project and DSN key.
        event: list[IncrItem] = [
            (M.organization_total_received, 1),
            (M.project_total_received, 10),
            (M.key_total_received, 100),
        ]
        writes: list[tuple[Any, ...]] = []
        expiries: list[tuple[Any, ...]] = []
        for model, key in ((200, "1"), (100, "10"), (300, "100")):
            for rollup, samples in backend.rollups:
                bucket = now // rollup * rollup
                name = backend.make_key(model, rollup, bucket, backend.vnode(key))
                writes.append(("hincrby", name, key, 1))
                expiries.append(("expireat", name, bucket + rollup * samples))
        tsdb_rate, raw_rate = compare(
            lambda: backend.incr_multi(event, timestamp=now),
            raw_pipeline(client, writes + expiries),
            args.seconds,
        )
        rows.append(("incr_multi, 1 event (3 models x 3 rollups)", tsdb_rate, raw_rate, 0.8))

        # Data for the reads: 1,000 projects x the last 24 hours, one project x 90 days.
        keys = list(range(1, 1001))
        day = [end - HOUR * n for n in range(24)]
        backend.incr_multi([(M.project_total_received, k, ts, 3) for k in keys for ts in day])
        quarter = [end - HOUR * n for n in range(2160)]
        backend.incr_multi([(M.project_total_rejected, 1, ts, 2) for ts in quarter])

        cases = [
            ("get_range, 1 key x 24 hourly buckets", M.project_total_received, [1], 24),
            ("get_range, 1 key x 2,160 hourly buckets", M.project_total_rejected, [1], 2160),
            ("get_range, 1,000 keys x 24 hourly buckets", M.project_total_received, keys, 24),
        ]
        for label, model, case_keys, points in cases:
            start = end - (points - 1) * HOUR
            result = backend.get_range(model, case_keys, start, end, rollup=HOUR)
            assert all(len(s) == points and s[-1][1] > 0 for s in result.values()), label
            buckets = list(range(start // HOUR * HOUR, end + 1, HOUR))
            tsdb_rate, raw_rate = compare(
                lambda m=model, k=case_keys, s=start: backend.get_range(m, k, s, end, HOUR),
                raw_pipeline(client, hmget_commands(backend, model, buckets, case_keys)),
                args.seconds,
            )
            rows.append((label, tsdb_rate, raw_rate, 0.7))
    finally:
        backend.flush()
        backend.close()
        client.close()

    print(f"redis-py {redis.__version__}, {ROUNDS} alternating rounds, median ops/s\n")
    print("| case | TSDB ops/s | raw pipeline ops/s | ratio | target |")
    print("|---|---:|---:|---:|---:|")
    for label, tsdb_rate, raw_rate, target in rows:
        ratio = tsdb_rate / raw_rate
        mark = "ok" if ratio >= target else "MISSED"
        print(
            f"| {label} | {tsdb_rate:,.0f} | {raw_rate:,.0f} | {ratio:.2f} | >= {target} {mark} |"
        )


if __name__ == "__main__":
    main()
