"""Helpers for tests that run the app in another process (gunicorn, manage.py)."""

from __future__ import annotations

import socket
from urllib.parse import quote

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
