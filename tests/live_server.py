"""Helpers for tests that run the app in another process (gunicorn, manage.py): a free port,
this run's database URL, a clean environment, and one gunicorn launcher (``gunicorn_server``)
whose output goes to a file."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from django.db import connection


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    """The URL of this test run's database as the test process reaches it (host, port, user
    and password from the connection: `postgres` under docker compose, not 127.0.0.1)."""
    database = connection.settings_dict
    user = quote(database["USER"] or "", safe="")
    password = f":{quote(database['PASSWORD'], safe='')}" if database["PASSWORD"] else ""
    host = database["HOST"] or "127.0.0.1"
    host = f"[{host}]" if ":" in host else quote(host, safe="")  # IPv6, or a socket directory
    return (
        f"postgres://{user}{password}@{host}:{database['PORT'] or 5432}/"
        f"{quote(database['NAME'], safe='')}"
    )


# -- the app under gunicorn ----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
START_TIMEOUT = 30.0


def environment(**variables: str) -> dict[str, str]:
    """A clean environment for a server process: none of the caller's statsapi variables, no
    PYTEST_VERSION (so the settings are a deployment's, not the tests' defaults)."""
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env.update(variables)
    return env


class Server:
    """A process writing its output to a log file (a file never fills up and blocks it, as an
    unread pipe would)."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, found: Callable[[], Any], what: str, timeout: float = START_TIMEOUT) -> Any:
        """Poll ``found()`` until it returns something truthy; fail with the log otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = found()
            if result:
                return result
            if self.process.poll() is not None:
                pytest.fail(f"the server exited before {what}:\n{self.output()}")
            time.sleep(0.1)
        pytest.fail(f"no {what} within {timeout:.0f} s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


def answers_http(base_url: str) -> bool:
    """Whether an HTTP request to ``base_url`` gets any response at all."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
    try:
        conn.request("GET", "/api/0/")
        conn.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        conn.close()


@contextmanager
def gunicorn_server(
    port: int,
    env: dict[str, str],
    *,
    workers: int = 1,
    threads: int | None = None,
    log_path: Path | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[Server]:
    """``statsapi.wsgi:application`` under gunicorn on 127.0.0.1:``port`` with exactly ``env``
    (see ``environment``) and the checkout's gunicorn.conf.py, plus ``extra_args``; its output
    in ``log_path`` (a temporary file by default). Yields
    the server once it answers HTTP; stops it afterwards, whatever happened."""
    argv = [
        str(BIN / "gunicorn"),
        "statsapi.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        *(["--threads", str(threads)] if threads else []),
        # gunicorn 27 otherwise serves a control socket at ~/.gunicorn/gunicorn.ctl, one path
        # for every server this user runs, taken over by each new one.
        "--no-control-socket",
        "--log-level", "warning",
        *extra_args,
    ]  # fmt: skip
    with contextlib.ExitStack() as stack:
        if log_path is None:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="statsapi-"))
            log_path = Path(directory) / "gunicorn.log"
        server = Server(argv, env, log_path)
        stack.callback(server.stop)
        base_url = f"http://127.0.0.1:{port}"
        server.wait_for(lambda: answers_http(base_url), f"an HTTP answer on {base_url}")
        yield server
