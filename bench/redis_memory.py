"""How much Redis memory and disk the counts take, for sizing a deployment.

    .venv/bin/python bench/redis_memory.py [--projects 100 400]

Starts a throwaway redis-server with the arguments docker-compose.yml gives the `redis` service
(AOF, fsync every second, noeviction) on a free loopback port in a temporary directory, and
fills it as a fully busy deployment would be at steady state: every project receives accepted
error events in every bucket each rollup keeps (every 10 s of the last hour, every minute of the
last 12 hours, every hour of the last 90 days), one project per DSN key and ten per
organization. Each event writes what ingest writes for an accepted error: organization, project
and key `received`, the project's `generated` series, and the two stats_v2 outcome counters.
It then reports Redis's `used_memory` above the empty server's, per project, and the AOF's size
after a rewrite. Real deployments have quieter buckets (a hash field only exists once counted),
so this is an upper bound for the number of projects.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import redis
from compose_redis import RedisProcess, compose_redis_args

from tsdb.base import IncrItem, TSDBModel, outcome_key
from tsdb.redis import RedisTSDB

M = TSDBModel
ROLLUPS = ((10, 360), (60, 720), (3600, 2160))


def event_items(project: int, timestamp: float) -> list[IncrItem]:
    organization = 1 + project // 10
    accepted = outcome_key(project_id=project, category="error", outcome="accepted", reason=None)
    return [
        (M.organization_total_received, organization, timestamp, 1),
        (M.project_total_received, project, timestamp, 1),
        (M.key_total_received, project, timestamp, 1),
        (M.project, project, timestamp, 1),
        (M.outcome_quantity, accepted, timestamp, 1),
        (M.outcome_times_seen, accepted, timestamp, 1),
    ]


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


def measure(projects: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="statsapi-redis-memory-") as tmp:
        server = RedisProcess(compose_redis_args(), Path(tmp)).start()
        client = redis.Redis.from_url(server.url)
        try:
            empty = int(client.info("memory")["used_memory"])
            backend = RedisTSDB(url=server.url, prefix="ts:", rollups=ROLLUPS)
            fill(backend, projects)
            used = int(client.info("memory")["used_memory"]) - empty
            keys = int(client.dbsize())
            rewrite_aof(client)
            aof = sum(f.stat().st_size for f in (Path(tmp) / "appendonlydir").iterdir())
            backend.close()
        finally:
            client.close()
            server.stop()
    return {"projects": projects, "keys": keys, "used": used, "aof": aof}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, nargs="+", default=[100, 400])
    args = parser.parse_args()
    print("| projects | Redis keys | used_memory | per project | AOF after rewrite |")
    print("|---:|---:|---:|---:|---:|")
    for projects in args.projects:
        r = measure(projects)
        print(
            f"| {projects:,} | {r['keys']:,} | {r['used'] / 2**20:,.1f} MiB "
            f"| {r['used'] / projects / 1024:,.1f} KiB | {r['aof'] / 2**20:,.1f} MiB |",
            flush=True,
        )


if __name__ == "__main__":
    main()
