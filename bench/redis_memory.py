"""How much Redis memory (and disk) the counts take, for sizing a deployment.

    .venv/bin/python bench/redis_memory.py [--scenario sparse dense steady ...]
                                           [--projects 100 400] [--blocks 10=15,60=15]

Every scenario runs on a throwaway redis-server of its own, started with the arguments
docker-compose.yml gives the `redis` service (AOF, fsync every second, noeviction) on a free
loopback port in a temporary directory, and reports INFO `used_memory` after writing above
what it was before.

- ``sparse``: 1,000 projects (one DSN key each, ten per organization), each with one accepted
  error event an hour for the last 24 hours, each project at its own second of the hour,
  written as ingest writes them (``usage.writer.UsageWriter`` items, one ``incr_multi`` per
  event): what most real projects look like. Also the same counts of one model alone
  (``project_total_received``), comparable with figures of one model.
- ``dense``: ``memory_per_1000_projects``: 1,000 projects with an event in every bucket any
  rollup keeps for a day, and what one more day of hourly buckets adds.
- ``steady`` (slow: minutes per size): ``--projects`` projects as a fully busy deployment
  holds them at steady state, an event in every bucket each rollup keeps (every 10 s of the
  last hour, every minute of the last 12 hours, every hour of the last 90 days), with the
  AOF's size after a rewrite.

``--blocks ROLLUP=N,...`` stores N counters per string for those rollups instead of
``tsdb.redis.block_buckets``: for choosing the layout only (a RedisTSDB reading strings
written with other sizes misreads them).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import redis
from compose_redis import RedisProcess, compose_redis_args

from tsdb.base import DEFAULT_ROLLUPS, IncrItem, TSDBModel
from tsdb.redis import RedisTSDB
from usage.writer import KeyIdentity, UsageWriter

M = TSDBModel
ROLLUPS = DEFAULT_ROLLUPS
HOUR = 3600
DAY = 86_400


def event_items(project: int, timestamp: float, organization: int | None = None) -> list[IncrItem]:
    """What ingest writes for one accepted error event (``usage.writer.UsageWriter``) of
    ``project`` (its DSN key has the same id), in ``organization`` (default: ten projects to
    an organization)."""
    organization = 1 + project // 10 if organization is None else organization
    writer = UsageWriter(
        KeyIdentity(organization_id=organization, project_id=project, key_id=project)
    )
    writer.error_accepted("error", timestamp)
    return writer.tsdb_items(timestamp)


def used_memory(url: str) -> int:
    """INFO memory ``used_memory`` of the Redis at ``url``."""
    client = redis.Redis.from_url(url)
    try:
        return int(client.info("memory")["used_memory"])
    finally:
        client.close()


def key_count(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return int(client.dbsize())
    finally:
        client.close()


def backend_for(url: str, rollups: Any, blocks: dict[int, int] | None = None) -> RedisTSDB:
    """A RedisTSDB on ``url`` (prefix ``ts:``), with ``blocks`` overriding its block sizes."""
    backend = RedisTSDB(url=url, prefix="ts:", rollups=rollups)
    if blocks:
        unknown = set(blocks) - set(backend.blocks)
        if unknown:
            raise SystemExit(f"--blocks names rollups not stored: {sorted(unknown)}")
        backend.blocks.update(blocks)
    return backend


def settings_rollups() -> Any:
    """TSDB_ROLLUPS of the Django settings in use, else the default (statsapi's)."""
    from django.conf import settings

    return settings.TSDB_ROLLUPS if settings.configured else DEFAULT_ROLLUPS


@contextmanager
def throwaway_redis() -> Iterator[tuple[str, Path]]:
    """(URL, directory) of a redis-server of our own, run as docker-compose.yml runs it."""
    with tempfile.TemporaryDirectory(prefix="statsapi-redis-memory-") as tmp:
        server = RedisProcess(compose_redis_args(), Path(tmp)).start()
        try:
            yield server.url, Path(tmp)
        finally:
            server.stop()


def sparse_memory(
    url: str, projects: int = 1000, *, one_model: bool = False, blocks: dict[int, int] | None = None
) -> dict[str, int]:
    """Redis memory of ``projects`` projects each with one accepted error event an hour for
    the last 24 hours (project p's events 37p seconds, modulo an hour, plus 0 to 23 hours
    old: one in the 10 s rollup's hour, 12 in the minutes' 12 hours), one ``incr_multi`` per
    event as ingest sends them; ``one_model``: only their ``project_total_received``."""
    backend = backend_for(url, settings_rollups(), blocks)
    try:
        now = int(time.time())
        before = used_memory(url)
        for hours in range(23, -1, -1):
            for project in range(1, projects + 1):
                ts = now - hours * HOUR - 37 * project % HOUR
                if one_model:
                    backend.incr_multi([(M.project_total_received, project, ts, 1)])
                else:
                    backend.incr_multi(event_items(project, ts))
        return {"used": used_memory(url) - before, "keys": key_count(url), "projects": projects}
    finally:
        backend.close()


def memory_per_1000_projects(url: str, blocks: dict[int, int] | None = None) -> dict[str, int]:
    """Redis memory (INFO used_memory before and after, on a Redis holding nothing else) of
    what ingest writes (``usage.writer.UsageWriter``) for 1,000 projects of one organization,
    each with one DSN key and one accepted error event in every bucket any rollup keeps for a
    day: the organization, project and key totals, the `generated` series and the outcome
    series of the key and the organization, in every rollup still kept. `day` is that day;
    `next_day` is one more day of hourly buckets (what each further day of retention adds).
    Rollups: the Django settings' TSDB_ROLLUPS when configured, else the default."""
    rollups = settings_rollups()
    backend = backend_for(url, rollups, blocks)
    projects = range(1_000_000, 1_001_000)

    def items(ts: int) -> list[IncrItem]:
        return [item for pk in projects for item in event_items(pk, ts, organization=1)]

    now = int(time.time())
    kept = dict(rollups)
    before = used_memory(url)
    # Every bucket of a day that a rollup still keeps: 10 s for its retention, then 1 min,
    # then 1 h (one write per bucket of the finest rollup that holds it writes every rollup).
    timestamps = sorted(
        {now - age for age in range(0, 10 * kept[10], 10)}
        | {now - age for age in range(0, min(DAY, 60 * kept[60]), 60)}
        | {now - age for age in range(0, DAY, HOUR)}
    )
    try:
        for ts in timestamps:
            backend.incr_multi(items(ts))
        day = used_memory(url)
        for ts in range(now - 2 * DAY + HOUR, now - DAY + 1, HOUR):
            backend.incr_multi(items(ts))
        next_day = used_memory(url)
    finally:
        backend.close()
    return {"day": day - before, "next_day": next_day - day, "writes": len(timestamps)}


def fill(backend: RedisTSDB, projects: int) -> None:
    now = time.time()
    for seconds, samples in ROLLUPS:
        start = (int(now) // seconds - samples + 1) * seconds
        for bucket in range(samples):
            timestamp = start + bucket * seconds + seconds / 2
            items = [item for p in range(1, projects + 1) for item in event_items(p, timestamp)]
            backend.incr_multi(items)


def wait_for_rewrites(client: redis.Redis) -> None:
    while True:
        info = client.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return
        time.sleep(0.2)


def rewrite_aof(client: redis.Redis) -> None:
    """Rewrite the AOF (after any rewrite Redis started on its own) and wait for it."""
    wait_for_rewrites(client)
    client.bgrewriteaof()
    wait_for_rewrites(client)


def steady_memory(projects: int, blocks: dict[int, int] | None = None) -> dict[str, float]:
    """The ``steady`` scenario for ``projects`` projects, on a Redis of its own."""
    with throwaway_redis() as (url, directory):
        client = redis.Redis.from_url(url)
        try:
            empty = int(client.info("memory")["used_memory"])
            backend = backend_for(url, ROLLUPS, blocks)
            fill(backend, projects)
            used = int(client.info("memory")["used_memory"]) - empty
            keys = int(client.dbsize())
            rewrite_aof(client)
            aof = sum(f.stat().st_size for f in (directory / "appendonlydir").iterdir())
            backend.close()
        finally:
            client.close()
    return {"projects": projects, "keys": keys, "used": used, "aof": aof}


def parse_blocks(value: str) -> dict[int, int]:
    try:
        pairs = [part.split("=") for part in value.split(",") if part]
        return {int(rollup): int(size) for rollup, size in pairs}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected ROLLUP=N,... (e.g. 10=15,60=15), not {value!r}"
        ) from None


def mib(value: float) -> str:
    return f"{value / 2**20:,.2f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario", nargs="+", choices=["sparse", "dense", "steady"], default=["sparse", "dense"]
    )
    parser.add_argument("--projects", type=int, nargs="+", default=[100, 400], help="steady")
    parser.add_argument("--blocks", type=parse_blocks, default=None, help="e.g. 10=15,60=15")
    args = parser.parse_args()
    blocks = args.blocks
    if blocks:
        print(f"block sizes overridden: {blocks}")
    if "sparse" in args.scenario:
        print("| sparse: 1,000 projects, 1 accepted error event an hour for 24 h | Redis keys "
              "| used_memory |")  # fmt: skip
        print("|---|---:|---:|")
        for one_model, label in ((False, "as ingest writes it"), (True, "one model alone")):
            with throwaway_redis() as (url, _):
                r = sparse_memory(url, one_model=one_model, blocks=blocks)
            print(f"| {label} | {r['keys']:,} | {mib(r['used'])} |", flush=True)
        print()
    if "dense" in args.scenario:
        with throwaway_redis() as (url, _):
            r = memory_per_1000_projects(url, blocks=blocks)
        print(
            f"dense: 1,000 projects, an event in every bucket any rollup keeps for a day "
            f"({r['writes']:,} writes): {mib(r['day'])}; each further day of hourly buckets: "
            f"{mib(r['next_day'])}\n",
            flush=True,
        )
    if "steady" in args.scenario:
        print("| steady: projects | Redis keys | used_memory | per project | AOF after rewrite |")
        print("|---:|---:|---:|---:|---:|")
        for projects in args.projects:
            r = steady_memory(projects, blocks)
            print(
                f"| {projects:,} | {r['keys']:,} | {r['used'] / 2**20:,.1f} MiB "
                f"| {r['used'] / projects / 1024:,.1f} KiB | {r['aof'] / 2**20:,.1f} MiB |",
                flush=True,
            )


if __name__ == "__main__":
    main()
