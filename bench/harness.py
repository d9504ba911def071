"""What the HTTP benchmarks share: the environment a bench server runs with, gunicorn started
on a free loopback port, wrk runs parsed from the bench's Lua scripts, a Redis of the bench's
own, and the median of alternating rounds. Used by ingest_bench.py, stats_bench.py and
soak.py; not part of the app."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[Any], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SystemExit(f"{process.args[0]} exited during startup")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def server_env(*, settings: str, database_url: str, redis_url: str, prefix: str) -> dict[str, str]:
    """The environment of a bench server (and of the bench process, which loads data through
    the same settings): production settings (``DEBUG=False``) with the bench URLconf of
    ``settings``, keys under ``prefix``."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "PYTHONPATH": os.pathsep.join([str(BENCH), str(ROOT)]),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TSDB_PREFIX": prefix + "ts:",
        "QUOTAS_PREFIX": prefix + "quota:",
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "DEBUG": "False",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("PYTEST_VERSION", None)
    return env


@contextlib.contextmanager
def gunicorn(env: dict[str, str], workers: int) -> Iterator[tuple[str, subprocess.Popen[Any]]]:
    """``gunicorn statsapi.wsgi`` with ``workers`` sync workers on a free loopback port, as
    the production image runs it (the checkout's gunicorn.conf.py); yields its base URL and
    process, and stops it afterwards."""
    port = free_port()
    server = subprocess.Popen(
        [str(GUNICORN), "statsapi.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--no-control-socket", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        wait_for_port(port, server)
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.terminate()
        server.wait(timeout=15)


@contextlib.contextmanager
def private_redis(workdir: Path) -> Iterator[str]:
    """A redis-server of the bench's own on a free loopback port, without persistence: its
    CPU, command and memory figures are the bench's alone."""
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    directory = workdir / f"redis-{port}"
    directory.mkdir()
    with (directory / "log").open("wb") as log:
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(directory)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for_port(port, process)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


def run_wrk(
    base: str,
    script: Path,
    env: dict[str, str],
    seconds: int,
    connections: int,
) -> dict[str, Any]:
    """One wrk run of ``script`` (one of bench/*.lua, configured by ``env``: BENCH_PATH,
    BENCH_AUTH, BENCH_BODY_FILE): requests, non-2xx answers, requests/s, p50 and p99 in ms,
    socket errors. A request still unanswered after 60 s stops the bench."""
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s",
               "-s", str(script), base]  # fmt: skip
    output = subprocess.run(
        command,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    match = re.search(
        r"BENCH requests=(\d+) non2xx=(\d+) p99_us=(\d+) p50_us=(\d+) duration_us=(\d+)", output
    )
    if match is None:
        raise SystemExit(f"unexpected wrk output:\n{output}")
    requests, non2xx, p99, p50, duration = (int(g) for g in match.groups())
    timeouts = re.search(r"timeout (\d+)", output)
    if timeouts is not None and int(timeouts.group(1)):
        raise SystemExit(f"{env.get('BENCH_PATH')}: {timeouts.group(1)} requests timed out")
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


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")


def delete_prefix(redis_url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` (SCAN, never FLUSHDB): a bench's keys in a shared
    Redis."""
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    for index in range(0, len(keys), 1000):
        client.delete(*keys[index : index + 1000])
    client.close()
