"""Throwaway Redis servers for the tests, on free loopback ports.

``running_cluster()`` starts three ``redis-server`` processes in cluster mode in a temporary
directory, joins them with ``redis-cli --cluster create``, waits until every node reports
``cluster_state:ok`` and, on leaving the block (also on failure), stops the processes and
deletes the directory. ``running_redis()`` does the same for one plain server, for a test that
must change server-wide state (e.g. SCRIPT FLUSH) the shared Redis at 6379 must not see.
Nothing is persisted and nothing listens beyond 127.0.0.1.

``delete_prefix()`` (and ``RedisClusterNodes.delete_prefix()`` on every node) is how every test
cleans up: the shared Redis is never flushed, only this test's keys are deleted.
"""

from __future__ import annotations

import contextlib
import ctypes
import random
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

HOST = "127.0.0.1"
# A cluster node also listens on port + 10000 (the cluster bus).
BUS_OFFSET = 10000
STARTUP_TIMEOUT = 15.0


def delete_prefix(client: redis.Redis, prefix: str) -> None:
    """Delete every key under ``prefix`` held by ``client``'s server: SCAN, then one DEL per
    key (a cluster node refuses a DEL naming keys of different slots), in batches."""
    pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in prefix) + "*"
    pipe = client.pipeline(transaction=False)
    for count, name in enumerate(client.scan_iter(match=pattern, count=1000), 1):
        pipe.delete(name)
        if count % 1000 == 0:
            pipe.execute()
    pipe.execute()


@dataclass(frozen=True)
class RedisClusterNodes:
    ports: tuple[int, ...]
    processes: tuple[subprocess.Popen[bytes], ...]

    @property
    def url(self) -> str:
        """The URL of one node, as a user would set REDIS_URL."""
        return f"redis://{HOST}:{self.ports[0]}/0"

    def node_client(self, port: int) -> redis.Redis:
        """A plain (non-cluster) client of one node, to look at what that node holds."""
        return redis.Redis(host=HOST, port=port, decode_responses=True)

    def delete_prefix(self, prefix: str) -> None:
        """Delete the keys under ``prefix`` on every node."""
        for port in self.ports:
            client = self.node_client(port)
            try:
                delete_prefix(client, prefix)
            finally:
                client.close()

    @contextmanager
    def paused(self, port: int) -> Iterator[None]:
        """Freeze one node (SIGSTOP) for the block: it accepts connections, answers nothing."""
        process = self.processes[self.ports.index(port)]
        process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            process.send_signal(signal.SIGCONT)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """Ports below the usual ephemeral range whose cluster bus port is free as well."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randrange(20000, 30000)
        if port not in ports and _port_is_free(port) and _port_is_free(port + BUS_OFFSET):
            ports.append(port)
    return ports


def _die_with_parent() -> None:
    # Linux: SIGTERM the server if the test process dies without cleaning up (e.g. SIGKILL).
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _logs(directory: Path) -> str:
    return "\n".join(
        f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
        for log in sorted(directory.glob("redis-*.log"))
    )


def _wait_until(
    check: Callable[[], bool], what: str, processes: list[subprocess.Popen[bytes]], directory: Path
) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            raise RuntimeError(f"a redis-server exited waiting for {what}\n{_logs(directory)}")
        with contextlib.suppress(redis.RedisError, OSError):
            if check():
                return
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}\n{_logs(directory)}")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # in case a test left it paused
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start(port: int, directory: Path, *options: str) -> subprocess.Popen[bytes]:
    server = [
        "redis-server",
        "--port", str(port),
        "--bind", HOST,
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--dir", str(directory),
        "--logfile", str(directory / f"redis-{port}.log"),
        *options,
    ]  # fmt: skip
    return subprocess.Popen(
        server,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )


@contextmanager
def running_redis() -> Iterator[str]:
    """One fresh Redis server (not a cluster); yields its URL (database 0)."""
    with tempfile.TemporaryDirectory(prefix="statsapi-redis-") as tmp:
        directory = Path(tmp)
        (port,) = free_ports(1)
        processes = [_start(port, directory)]
        client = redis.Redis(host=HOST, port=port, socket_timeout=1)
        try:
            _wait_until(client.ping, "the server to start", processes, directory)
            yield f"redis://{HOST}:{port}/0"
        finally:
            client.close()
            _stop(processes)


@contextmanager
def running_cluster(primaries: int = 3) -> Iterator[RedisClusterNodes]:
    """Three (by default) fresh cluster primaries covering all 16384 slots."""
    with tempfile.TemporaryDirectory(prefix="statsapi-redis-cluster-") as tmp:
        directory = Path(tmp)
        ports = free_ports(primaries)
        processes: list[subprocess.Popen[bytes]] = []
        clients: list[redis.Redis] = []
        try:
            for port in ports:
                config = str(directory / f"nodes-{port}.conf")
                cluster = ["--cluster-enabled", "yes", "--cluster-config-file", config]
                processes.append(_start(port, directory, *cluster))
            clients = [redis.Redis(host=HOST, port=port, socket_timeout=1) for port in ports]
            _wait_until(
                lambda: all(c.ping() for c in clients), "the nodes to start", processes, directory
            )
            create = [
                "redis-cli",
                "--cluster", "create",
                *(f"{HOST}:{port}" for port in ports),
                "--cluster-replicas", "0",
                "--cluster-yes",
            ]  # fmt: skip
            created = subprocess.run(create, capture_output=True, timeout=STARTUP_TIMEOUT)
            if created.returncode != 0:
                output = (created.stdout + created.stderr).decode(errors="replace")
                raise RuntimeError(f"redis-cli --cluster create failed:\n{output}")
            _wait_until(
                lambda: all(c.cluster("INFO")["cluster_state"] == "ok" for c in clients),
                "cluster_state:ok on every node",
                processes,
                directory,
            )
            yield RedisClusterNodes(ports=tuple(ports), processes=tuple(processes))
        finally:
            for client in clients:
                client.close()
            _stop(processes)
