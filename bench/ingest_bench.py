"""Ingest throughput: the envelope endpoint under gunicorn (2 sync workers) driven by wrk,
beside a trivial Django view (reads the body, answers 200) in the same server and run.

    .venv/bin/python bench/ingest_bench.py [--seconds 10] [--connections 8]

Uses the local Redis (REDIS_URL, default redis://127.0.0.1:6379/0) under a fresh
``bench:ingest:<random>:`` prefix that is deleted at the end, and a throwaway SQLite database
in var/ for the one DSN key (the key is cached in each worker, so the database is not on the
hot path). Prints a Markdown table: requests/s (one event each), p50/p99 latency, and the
ratio ingest / baseline. After the run it checks that the TSDB counted exactly as many
received events as wrk got 200 responses.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path[:0] = [str(BENCH), str(ROOT)]

from harness import (  # noqa: E402
    delete_prefix,
    gunicorn,
    median_run,
    require_wrk,
    run_wrk,
    server_env,
)

LUA = BENCH / "ingest_envelope.lua"

EVENT = {
    "event_id": None,
    "level": "error",
    "platform": "python",
    "timestamp": None,
    "release": "bench@1.0.0",
    "environment": "production",
    "server_name": "bench-host",
    "exception": {
        "values": [
            {
                "type": "ZeroDivisionError",
                "value": "division by zero",
                "mechanism": {"type": "generic", "handled": True},
                "stacktrace": {
                    "frames": [
                        {
                            "filename": "app.py",
                            "abs_path": "/srv/app.py",
                            "function": "handler",
                            "module": "app",
                            "lineno": 42,
                            "context_line": "    return 1 / 0",
                            "in_app": True,
                        }
                    ]
                },
            }
        ]
    },
    "request": {
        "url": "https://app.example.com/checkout",
        "method": "POST",
        "headers": {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"},
    },
    "contexts": {"runtime": {"name": "CPython", "version": "3.11.7"}},
    "sdk": {"name": "sentry.python", "version": "2.75.0"},
}


def envelope_body() -> bytes:
    event = dict(EVENT, event_id=uuid.uuid4().hex, timestamp=time.time())
    payload = json.dumps(event).encode()
    header = json.dumps({"event_id": event["event_id"], "sent_at": "2026-01-01T00:00:00Z"})
    item = json.dumps({"type": "event", "content_type": "application/json", "length": len(payload)})
    return header.encode() + b"\n" + item.encode() + b"\n" + payload + b"\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="per round and endpoint")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    require_wrk()

    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    prefix = f"bench:ingest:{uuid.uuid4().hex[:12]}:"
    workdir = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    env = server_env(
        settings="ingest_bench_settings",
        database_url=f"sqlite:///{workdir / 'bench.sqlite3'}",
        redis_url=redis_url,
        prefix=prefix,
    )
    os.environ.update(env)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from organizations.models import Organization, Project, ProjectKey

    organization = Organization.objects.create(slug="bench", name="Bench")
    project = Project.objects.create(organization=organization, slug="bench", name="Bench")
    key = ProjectKey.objects.create(project=project)

    body_file = workdir / "envelope.bin"
    body_file.write_bytes(envelope_body())
    body_size = body_file.stat().st_size
    wrk_env = {
        "BENCH_AUTH": f"Sentry sentry_key={key.public_key}, sentry_version=7, "
        "sentry_client=bench/1.0",
        "BENCH_BODY_FILE": str(body_file),
    }
    envelope_path = f"/api/{project.pk}/envelope/"
    paths = {"baseline": "/bench/baseline/", "ingest": envelope_path}
    results: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        stack.callback(delete_prefix, redis_url, prefix)
        base, _ = stack.enter_context(gunicorn(env, args.workers))

        def wrk(name: str, seconds: int) -> dict[str, Any]:
            return run_wrk(
                base, LUA, {**wrk_env, "BENCH_PATH": paths[name]}, seconds, args.connections
            )

        # Warm-up: imports, DB connection, key cache, Redis connections in both workers.
        wrk("ingest", 2)
        wrk("baseline", 2)
        import tsdb
        from tsdb.base import TSDBModel

        time.sleep(0.5)  # let requests wrk abandoned at its deadline finish
        start = time.time()
        before = tsdb.backend.get_sums(
            TSDBModel.project_total_received, [project.pk], start - 3600, start + 3600, 3600
        )[project.pk]
        # Alternate the two in several rounds (the machine is shared); report the medians.
        rounds: dict[str, list[dict[str, Any]]] = {"baseline": [], "ingest": []}
        for _ in range(args.rounds):
            for name in ("baseline", "ingest"):
                rounds[name].append(wrk(name, args.seconds))
        results = {name: median_run(runs) for name, runs in rounds.items()}
        time.sleep(0.5)
        after = tsdb.backend.get_sums(
            TSDBModel.project_total_received, [project.pk], start - 3600, time.time() + 3600, 3600
        )[project.pk]

    ingest, baseline = results["ingest"], results["baseline"]
    accepted = ingest["requests"] - ingest["non2xx"]
    counted = after - before
    print(
        f"gunicorn {args.workers} sync workers, wrk -t2 -c{args.connections} -d{args.seconds}s "
        f"x {args.rounds} alternating rounds (median shown), "
        f"uncompressed envelope of {body_size:,} bytes (one error event)"
    )
    print()
    print("| endpoint | requests/s | p50 ms | p99 ms | non-2xx | ratio | rounds (req/s) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, row in (("baseline view", baseline), ("envelope (1 event)", ingest)):
        print(
            f"| {name} | {row['rps']:,.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
            f"| {row['non2xx']} | {row['rps'] / baseline['rps']:.2f} "
            f"| {', '.join(f'{n:,}' for n in row['all_rps'])} |"
        )
    print()
    # wrk stops at its deadline without reading the replies in flight (at most one per
    # connection); the server still counts those events.
    print(
        f"events counted as received: {counted:,}; 200 responses wrk read: {accepted:,} "
        f"(+ at most {args.connections} per round in flight at wrk's deadline)"
    )
    for name, row in results.items():
        if row["socket_errors"]:
            print(f"{name} socket errors: {row['socket_errors']}")
    if not accepted <= counted <= accepted + args.connections * args.rounds:
        raise SystemExit("MISMATCH: the TSDB did not count every accepted event")


if __name__ == "__main__":
    main()
