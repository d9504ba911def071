"""A redis-server run the way docker-compose.yml runs its `redis` service, for the tests.

``compose_redis_args()`` reads the service's command from ``docker-compose config`` (what
compose would run). ``RedisProcess`` starts ``redis-server`` with those arguments (plus
``--port``/``--bind`` on a free loopback port) in a directory of the test's own, which stands for
the image's /data volume (the image's working directory, where Redis keeps its files), and can
kill it (SIGKILL, a crash), stop it (SIGTERM, ``docker compose stop``) and start it again with
the same arguments in the same directory.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from redis_cluster import HOST, _die_with_parent, free_ports

ROOT = Path(__file__).resolve().parents[1]
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
START_TIMEOUT = 15.0


def compose(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """Debian's docker-compose on this checkout's docker-compose.yml (every profile), with
    SECRET_KEY set (the file requires it) unless overridden."""
    executable = shutil.which("docker-compose")
    if executable is None:
        pytest.fail(
            "docker-compose is not installed; install Debian's: apt-get install docker-compose"
        )
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env.update({"SECRET_KEY": "compose-test-secret", **variables})
    return subprocess.run(
        [executable, "--profile", "tests", "-f", str(ROOT / "docker-compose.yml"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def compose_config(**variables: str) -> dict[str, Any]:
    """``docker-compose config``, parsed (docker-compose takes seconds to start: the output is
    kept for the run, per set of variables)."""
    return dict(yaml.safe_load(_config_text(tuple(sorted(variables.items())))))


@functools.cache
def _config_text(variables: tuple[tuple[str, str], ...]) -> str:
    result = compose("config", **dict(variables))
    assert result.returncode == 0, result.stderr
    return result.stdout


def compose_redis_args() -> tuple[str, ...]:
    """The arguments docker-compose.yml gives redis-server (after the program name)."""
    command = compose_config()["services"]["redis"]["command"]
    assert command[0] == "redis-server", command
    return tuple(str(arg) for arg in command[1:])


class RedisProcess:
    """redis-server with ``args`` in ``directory`` on a free 127.0.0.1 port."""

    def __init__(self, args: Sequence[str], directory: Path) -> None:
        self.args = list(args)
        self.directory = directory
        (self.port,) = free_ports(1)
        self.url = f"redis://{HOST}:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = directory / "redis-test.log"

    def start(self) -> RedisProcess:
        argv = ["redis-server", *self.args, "--port", str(self.port), "--bind", HOST]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv,
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=_die_with_parent,  # no server left behind by a killed test run
            )
        client = redis.Redis(host=HOST, port=self.port, socket_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    pytest.fail(f"redis-server exited:\n{self.log()}")
                with contextlib.suppress(redis.RedisError, OSError):
                    # PING answers LOADING while the AOF is read back.
                    if client.ping():
                        return self
                time.sleep(0.02)
        finally:
            client.close()
        pytest.fail(f"redis-server did not answer within {START_TIMEOUT} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash (nothing flushed on the way out)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, what `docker compose stop/restart` sends: Redis shuts down cleanly."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
