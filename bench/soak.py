"""Bounded soak: concurrent ingest and stats queries against the production setup (gunicorn,
2 sync workers, DEBUG=False, PostgreSQL, Redis) for a fixed time, with one restart of Redis in
the middle. Not part of CI.

    .venv/bin/python bench/soak.py [--seconds 300] [--ingest-threads 4] [--stats-threads 2]

What it starts, all on loopback and all stopped at the end:
- a Redis of its own on a spare port, with AOF (appendonly yes, appendfsync everysec) in a
  temporary directory, so that what it acknowledged survives the restart;
- a database of its own on the local PostgreSQL (DATABASE_URL's server, default
  postgres://postgres@127.0.0.1:5432), migrated, with one organization, project, DSN key and
  token made by the manage.py commands; dropped at the end;
- gunicorn with 2 sync workers on a spare port.

Load: ``--ingest-threads`` senders post one-event envelopes as fast as they are answered, and
``--stats-threads`` readers alternate organization stats, project stats and the organization's
projects. Halfway through, Redis gets SIGTERM (a clean shutdown: the AOF is written), stays
down ``--outage`` seconds, and is started again on the same AOF.

Reported (and checked, exit status 1 if a check fails):
- 5xx outside the outage window, which runs from the SIGTERM to ``--grace`` seconds after
  Redis answers PING again: must be 0;
- the organization's final ``received`` total against the number of envelopes answered 200:
  must be equal (an envelope refused with 503 while Redis went down may still have been
  counted if its write reached Redis before the shutdown; those are reported apart);
- each worker's RSS, sampled every 10 s: the last minute's against the first minute's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "bench"))

from harness import free_port  # noqa: E402
from ingest_bench import envelope_body  # noqa: E402


def wait_until(check: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"soak: no {what} within {timeout:.0f} s")


# -- the services ------------------------------------------------------------------------------


class OwnRedis:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.ping, "Redis PONG")

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # clean shutdown: the AOF is flushed
            self.process.wait(timeout=30)


def psql(admin_url: str, sql: str) -> None:
    parts = urlsplit(admin_url)
    subprocess.run(
        [
            "psql",
            "-h",
            parts.hostname or "127.0.0.1",
            "-p",
            str(parts.port or 5432),
            "-U",
            parts.username or "postgres",
            "-d",
            "postgres",
            "-qAtc",
            sql,
        ],
        check=True,
        env={**os.environ, "PGPASSWORD": parts.password or ""},
    )


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sorted(int(pid) for pid in children)


# -- the load --------------------------------------------------------------------------------------


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    # (kind, status, time.monotonic())
    answers: list[tuple[str, int, float]] = field(default_factory=list)
    acknowledged: int = 0
    refused_events: int = 0

    def add(self, kind: str, status: int) -> None:
        with self.lock:
            self.answers.append((kind, status, time.monotonic()))
            if kind == "ingest":
                if status == 200:
                    self.acknowledged += 1
                else:
                    self.refused_events += 1


class Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def send(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> int:
        try:
            self.conn.request(method, path, body=body or None, headers=headers)
            response = self.conn.getresponse()
            response.read()
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
            return int(response.status)
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            return 0  # no answer: counted as a failure


def ingest_loop(port: int, project_id: int, key: str, stop: threading.Event, tally: Tally) -> None:
    client = Client(port)
    headers = {
        "Content-Type": "application/x-sentry-envelope",
        "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7, sentry_client=soak/1.0",
    }
    while not stop.is_set():
        status = client.send("POST", f"/api/{project_id}/envelope/", headers, envelope_body())
        tally.add("ingest", status)


def stats_loop(
    port: int, org: str, project: str, token: str, stop: threading.Event, tally: Tally
) -> None:
    client = Client(port)
    headers = {"Authorization": f"Bearer {token}"}
    paths = [
        f"/api/0/organizations/{org}/stats/?stat=received&resolution=10s",
        f"/api/0/projects/{org}/{project}/stats/?stat=received&resolution=1h",
        f"/api/0/organizations/{org}/projects/",
    ]
    i = 0
    while not stop.is_set():
        tally.add("stats", client.send("GET", paths[i % len(paths)], headers))
        i += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--ingest-threads", type=int, default=4)
    parser.add_argument("--stats-threads", type=int, default=2)
    parser.add_argument("--outage", type=float, default=10.0)
    parser.add_argument("--grace", type=float, default=6.0)
    args = parser.parse_args()

    admin_url = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    database = f"statsapi_soak_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(admin_url)
    db_url = parts._replace(path=f"/{database}").geturl()
    workdir = Path(tempfile.mkdtemp(prefix="statsapi-soak-"))
    redis = OwnRedis(workdir)
    gunicorn: subprocess.Popen[bytes] | None = None
    psql(admin_url, f"CREATE DATABASE {database}")
    try:
        redis.start()
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "DEBUG": "False",
            "SECRET_KEY": uuid.uuid4().hex * 2,
            "DATABASE_URL": db_url,
            "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            # The readers loop as fast as they are answered: far above the API rate limits.
            "API_RATE_LIMIT_TOKEN": "off",
            "API_RATE_LIMIT_ADDRESS": "off",
            "LOG_LEVEL": "ERROR",
        }
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "createorg", "soak", "--owner", "soak")
        dsn = manage(env, "createproject", "soak", "backend")
        token = manage(env, "createtoken", "soak")
        key, project_id = urlsplit(dsn).username or "", int(urlsplit(dsn).path.strip("/"))

        log = (workdir / "gunicorn.log").open("wb")
        gunicorn = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "statsapi.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--no-control-socket",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: Client(port).send("GET", "/_health/", {}) == 200, "gunicorn answer")

        tally, stop = Tally(), threading.Event()
        threads = [
            threading.Thread(target=ingest_loop, args=(port, project_id, key, stop, tally))
            for _ in range(args.ingest_threads)
        ] + [
            threading.Thread(target=stats_loop, args=(port, "soak", "backend", token, stop, tally))
            for _ in range(args.stats_threads)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()

        memory: list[tuple[float, dict[int, int]]] = []
        outage: tuple[float, float] | None = None
        restarted = False
        while (elapsed := time.monotonic() - started) < args.seconds:
            if not restarted and elapsed >= args.seconds / 2:
                restarted = True
                down_at = time.monotonic()
                redis.stop()
                time.sleep(args.outage)
                redis.start()
                outage = (down_at, time.monotonic() + args.grace)
                print(f"soak: Redis restarted at {elapsed:.0f} s", flush=True)
            if not memory or time.monotonic() - started - memory[-1][0] >= 10:
                pids = worker_pids(gunicorn.pid)
                memory.append((time.monotonic() - started, {pid: rss_kib(pid) for pid in pids}))
            time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join()
        duration = time.monotonic() - started

        time.sleep(1)
        final = Client(port).conn
        final.request(
            "GET",
            "/api/0/organizations/soak/stats/?stat=received&resolution=1h&since="
            f"{int(time.time()) - 86400}",
            headers={"Authorization": f"Bearer {token}"},
        )
        series = json.loads(final.getresponse().read())
        received = int(sum(count for _, count in series))
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(timeout=30)
        redis.stop()
        psql(admin_url, f"DROP DATABASE IF EXISTS {database}")
        shutil.rmtree(workdir, ignore_errors=True)

    assert outage is not None
    in_outage = [a for a in tally.answers if outage[0] <= a[2] <= outage[1]]
    outside = [a for a in tally.answers if not outage[0] <= a[2] <= outage[1]]
    errors_outside = Counter((k, s) for k, s, _ in outside if s >= 500 or s == 0)
    statuses = Counter((k, s) for k, s, _ in tally.answers)
    ambiguous = sum(1 for k, s, _ in in_outage if k == "ingest" and s != 200)
    first = [sum(sample.values()) for t, sample in memory if t <= 60]
    last = [sum(sample.values()) for t, sample in memory if t >= duration - 60]
    per_worker_last = memory[-1][1] if memory else {}

    print(f"\nsoak: {duration:.0f} s, {args.ingest_threads} ingest + {args.stats_threads} stats "
          f"threads, Redis down {args.outage:.0f} s at {args.seconds / 2:.0f} s")  # fmt: skip
    print("| what | count |\n|---|---:|")
    for (kind, status), count in sorted(statuses.items()):
        print(f"| {kind} {status or 'no answer'} | {count:,} |")
    print(f"| requests/s (all) | {len(tally.answers) / duration:,.0f} |")
    print(f"| 5xx or no answer outside the outage window | {sum(errors_outside.values())} |")
    print(f"| 5xx or no answer inside it ({outage[1] - outage[0]:.1f} s) | "
          f"{sum(1 for _, s, _ in in_outage if s >= 500 or s == 0)} |")  # fmt: skip
    print(f"| events acknowledged (200) | {tally.acknowledged:,} |")
    print(f"| received total in the TSDB | {received:,} |")
    print(f"| envelopes refused during the outage (may or may not count) | {ambiguous} |")
    print(
        f"| worker RSS, first minute / last minute (MiB, both workers) | "
        f"{max(first) / 1024:.1f} / {max(last) / 1024:.1f} |"
    )
    print(f"| per-worker RSS at the end (MiB) | "
          f"{', '.join(f'{v / 1024:.1f}' for v in per_worker_last.values())} |")  # fmt: skip
    ok = (
        not errors_outside
        and tally.acknowledged <= received <= tally.acknowledged + ambiguous
        and max(last) <= max(first) * 1.10
    )
    print("\nsoak: PASS" if ok else "\nsoak: FAIL")
    if errors_outside:
        print(f"soak: 5xx outside the outage: {dict(errors_outside)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
