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
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SystemExit("gunicorn exited during startup")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def run_wrk(
    url: str, path: str, auth: str, body_file: Path, seconds: int, connections: int
) -> dict[str, Any]:
    env = {
        **os.environ,
        "BENCH_PATH": path,
        "BENCH_AUTH": auth,
        "BENCH_BODY_FILE": str(body_file),
    }
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(LUA), url]
    output = subprocess.run(
        command, env=env, capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    match = re.search(
        r"BENCH requests=(\d+) non2xx=(\d+) p99_us=(\d+) p50_us=(\d+) duration_us=(\d+)", output
    )
    if match is None:
        raise SystemExit(f"unexpected wrk output:\n{output}")
    requests, non2xx, p99, p50, duration = (int(g) for g in match.groups())
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "requests": requests,
        "non2xx": non2xx,
        "rps": requests / (duration / 1e6),
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
        "socket_errors": errors.group(1) if errors else "",
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median throughput; requests and non-2xx summed over all runs."""
    ordered = sorted(runs, key=lambda run: run["rps"])
    middle = dict(ordered[len(ordered) // 2])
    middle["requests"] = sum(run["requests"] for run in runs)
    middle["non2xx"] = sum(run["non2xx"] for run in runs)
    middle["all_rps"] = [round(run["rps"]) for run in runs]
    return middle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="per round and endpoint")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")

    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    prefix = f"bench:ingest:{uuid.uuid4().hex[:12]}:"
    workdir = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ingest_bench_settings",
        "PYTHONPATH": os.pathsep.join([str(BENCH), str(ROOT)]),
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "REDIS_URL": redis_url,
        "TSDB_PREFIX": prefix + "ts:",
        "QUOTAS_PREFIX": prefix + "quota:",
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "DEBUG": "False",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("PYTEST_VERSION", None)
    os.environ.update(env)
    sys.path[:0] = [str(BENCH), str(ROOT)]

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
    auth = f"Sentry sentry_key={key.public_key}, sentry_version=7, sentry_client=bench/1.0"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "statsapi.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    results: dict[str, dict[str, Any]] = {}
    try:
        wait_for_port(port, server)
        envelope_path = f"/api/{project.pk}/envelope/"
        # Warm-up: imports, DB connection, key cache, Redis connections in both workers.
        run_wrk(base, envelope_path, auth, body_file, 2, args.connections)
        run_wrk(base, "/bench/baseline/", auth, body_file, 2, args.connections)
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
            for name, path in (("baseline", "/bench/baseline/"), ("ingest", envelope_path)):
                rounds[name].append(
                    run_wrk(base, path, auth, body_file, args.seconds, args.connections)
                )
        results = {name: median_run(runs) for name, runs in rounds.items()}
        time.sleep(0.5)
        after = tsdb.backend.get_sums(
            TSDBModel.project_total_received, [project.pk], start - 3600, time.time() + 3600, 3600
        )[project.pk]
    finally:
        server.terminate()
        server.wait(timeout=15)
        import redis

        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for index in range(0, len(keys), 1000):
            client.delete(*keys[index : index + 1000])
        shutil.rmtree(workdir, ignore_errors=True)

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
