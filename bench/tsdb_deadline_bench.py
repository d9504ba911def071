"""Measure the ambiguity window of a TSDB write when Redis freezes: can a write be answered
503 (TSDBUnavailable) and still be counted?

    .venv/bin/python bench/tsdb_deadline_bench.py [--trials 200] [--timeout 0.2]

Starts a private redis-server on a free loopback port. Each trial connects, freezes Redis
(SIGSTOP), sends one ``incr`` from a thread, and resumes Redis (SIGCONT) at a moment spread
evenly from 5 ms before to 5 ms after the write's deadline (send time + socket timeout, by
this host's clock, which Redis shares here). Then it records what the caller saw (success or
TSDBUnavailable) and whether Redis counted the write:

- ok + counted, 503 + not counted: consistent;
- 503 + counted: the ambiguity the deadline is meant to bound;
- ok + not counted: a bug.

Also reports how long after the deadline the client gives up (its read timeout starts once
the write is sent, so after the deadline was computed): Redis dropping a write that arrives
past the deadline is what keeps a frozen-then-resumed Redis from counting a 503'd write.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from tsdb.base import TSDBModel, TSDBUnavailable
from tsdb.redis import RedisTSDB

M = TSDBModel


class RecordingTSDB(RedisTSDB):
    """Remembers the deadline of its last write."""

    last_deadline = 0

    def _deadline(self) -> int:
        deadline = super()._deadline()
        self.last_deadline = deadline
        return deadline


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=0.2, help="socket timeout, seconds")
    args = parser.parse_args()

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                tmp,
            ],
            stdout=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        raw = redis.Redis.from_url(url, socket_timeout=5)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if raw.ping():
                    break
            if time.monotonic() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.02)
        outcomes: dict[str, int] = {}
        ambiguous_offsets: list[float] = []
        give_up_after_deadline: list[float] = []
        try:
            for trial in range(args.trials):
                backend = RecordingTSDB(
                    url=url, prefix=f"bench:deadline:{trial}:", socket_timeout=args.timeout
                )
                backend.validate()  # connected before the freeze
                offset = -0.005 + 0.010 * trial / max(1, args.trials - 1)
                result: dict[str, object] = {}

                def write(
                    backend: RecordingTSDB = backend, result: dict[str, object] = result
                ) -> None:
                    try:
                        backend.incr(M.project, 1)
                        result["ok"] = True
                    except TSDBUnavailable:
                        result["ok"] = False
                    result["at"] = time.time()

                os.kill(server.pid, signal.SIGSTOP)
                thread = threading.Thread(target=write)
                thread.start()
                while not backend.last_deadline:
                    time.sleep(0.0005)
                resume_at = backend.last_deadline / 1e6 + offset
                time.sleep(max(0.0, resume_at - time.time() - 0.002))
                while time.time() < resume_at:
                    pass
                os.kill(server.pid, signal.SIGCONT)
                thread.join()
                counted = backend.get_sums(M.project, [1], time.time() - 5, time.time())[1]
                ok = bool(result["ok"])
                key = f"{'ok' if ok else '503'} + {'counted' if counted else 'not counted'}"
                outcomes[key] = outcomes.get(key, 0) + 1
                if not ok:
                    give_up_after_deadline.append(float(result["at"]) - backend.last_deadline / 1e6)  # type: ignore[arg-type]
                    if counted:
                        ambiguous_offsets.append(offset)
                backend.flush()
                backend.close()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.pid, signal.SIGCONT)
            server.terminate()
            server.wait()
            raw.close()

    print(
        f"{args.trials} trials, socket timeout {args.timeout * 1000:.0f} ms, Redis resumed "
        f"from 5 ms before to 5 ms after each write's deadline"
    )
    for key in ("ok + counted", "503 + not counted", "503 + counted", "ok + not counted"):
        print(f"  {key}: {outcomes.get(key, 0)}")
    if ambiguous_offsets:
        print(
            f"  503 + counted when Redis resumed between {min(ambiguous_offsets) * 1e3:+.2f} "
            f"and {max(ambiguous_offsets) * 1e3:+.2f} ms of the deadline"
        )
    if give_up_after_deadline:
        ms = sorted(value * 1e3 for value in give_up_after_deadline)
        print(
            f"  the client raised TSDBUnavailable {ms[0]:.2f} to {ms[-1]:.2f} ms after the "
            f"deadline (median {statistics.median(ms):.2f} ms)"
        )


if __name__ == "__main__":
    main()
