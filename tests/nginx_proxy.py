"""The compose file's nginx proxy configuration, rendered and run by Debian's nginx on loopback.

``render(variables)`` does what the official nginx image does with
``deploy/nginx/templates/default.conf.template`` when it starts: substitutes the ``${NAME}`` of
every variable set in the environment (the image runs envsubst on the defined variables only, so
nginx's own lower-case ``$variables`` stay). ``NginxProcess`` wraps the result in a minimal
nginx.conf (the image's own nginx.conf includes conf.d/*.conf in its http block the same way),
with every path in a directory of the test's own, listening on a free loopback port instead of
the container's port 80.

``raw_request()`` sends bytes exactly as given (malformed requests included) to a server on
loopback, from any 127.x address, and reads the answer; ``get()`` builds a plain GET.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from compose_redis import compose_config

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "nginx" / "templates" / "default.conf.template"
CONTAINER_LISTEN = "listen 80;"
START_TIMEOUT = 15.0


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if found is None:
        pytest.fail("nginx is not installed; install Debian's: apt-get install nginx-light")
    return found


def proxy_variables(upstream: str | None = None) -> dict[str, str]:
    """The proxy service's environment from the compose file as the image sees it: its
    entrypoint adds NGINX_LOCAL_RESOLVERS (Docker's DNS server) for
    NGINX_ENTRYPOINT_LOCAL_RESOLVERS=1. ``upstream``: gunicorn's host:port instead of web:8000."""
    variables = {
        name: str(value)
        for name, value in compose_config()["services"]["proxy"]["environment"].items()
    }
    assert variables.pop("NGINX_ENTRYPOINT_LOCAL_RESOLVERS") == "1"
    variables["NGINX_LOCAL_RESOLVERS"] = "127.0.0.11"
    if upstream is not None:
        variables["STATSAPI_UPSTREAM"] = upstream
    return variables


def render(variables: dict[str, str]) -> str:
    """The template with each ``${NAME}`` of ``variables`` substituted, as envsubst does."""
    text = TEMPLATE.read_text()
    for name, value in variables.items():
        text = re.sub(r"\$(\{" + name + r"\}|" + name + r"\b)", lambda _, v=value: v, text)
    return text


def wrapper_config(directory: Path) -> str:
    paths = {name: directory / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in paths.values():
        path.mkdir(exist_ok=True)
    # Run as root (CI), nginx would switch its workers to "nobody", who cannot write request
    # bodies into this test's private directory: they stay the test's user.
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""
{user}
worker_processes 1;
pid {directory / "nginx.pid"};
error_log {directory / "error.log"};
events {{ worker_connections 256; }}
http {{
    default_type application/octet-stream;
    client_body_temp_path {paths["body"]};
    proxy_temp_path {paths["proxy"]};
    fastcgi_temp_path {paths["fastcgi"]};
    uwsgi_temp_path {paths["uwsgi"]};
    scgi_temp_path {paths["scgi"]};
    include {directory / "conf.d"}/*.conf;
}}
"""


def write_config(directory: Path, variables: dict[str, str], port: int | None = None) -> Path:
    """nginx.conf in ``directory`` including the rendered template (listening on 127.0.0.1:
    ``port`` when given, else as in the container); returns its path."""
    conf_d = directory / "conf.d"
    conf_d.mkdir(parents=True, exist_ok=True)
    server = render(variables)
    if port is not None:
        assert server.count(CONTAINER_LISTEN) == 1, "the template's listen line moved"
        server = server.replace(CONTAINER_LISTEN, f"listen 127.0.0.1:{port};")
    (conf_d / "default.conf").write_text(server)
    config = directory / "nginx.conf"
    config.write_text(wrapper_config(directory))
    return config


def nginx_test(config: Path) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on ``config``."""
    directory = config.parent
    return subprocess.run(
        [nginx_binary(), "-t", "-p", str(directory), "-c", str(config), "-e",
         str(directory / "error.log")],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


class NginxProcess:
    """nginx in the foreground with ``config``; its stdout (the access log) and stderr go to
    files in the config's directory."""

    def __init__(self, config: Path, port: int) -> None:
        self.directory = config.parent
        self.port = port
        self.output_path = self.directory / "nginx.out"
        with self.output_path.open("wb") as output:
            self.process = subprocess.Popen(
                [nginx_binary(), "-p", str(self.directory), "-c", str(config), "-e",
                 str(self.directory / "error.log"), "-g", "daemon off;"],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"nginx exited:\n{self.output()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"nginx did not listen on {port}:\n{self.output()}")

    def output(self) -> str:
        log = self.directory / "error.log"
        errors = log.read_text(errors="replace") if log.exists() else ""
        return self.output_path.read_text(errors="replace") + errors

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


# -- raw HTTP ---------------------------------------------------------------------------------


def raw_request(port: int, data: bytes, *, source: str = "127.0.0.1") -> tuple[int, str, Any]:
    """Send ``data`` as is (from ``source``, a loopback address) and read the answer until the
    server closes the connection (``get()`` asks it to; a refused request is always closed):
    (status, Content-Type, the body parsed as JSON, or the raw text if it is not JSON)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as s:
        # No half-close: nginx takes it for a client that went away (and answers nothing).
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:])
    }
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = body.decode(errors="replace")
    return status, headers.get("content-type", ""), parsed


def dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, body = out + body[:size], body[size + 2 :]
    return out


def get(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
