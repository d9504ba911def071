"""What gunicorn answers on its own, before the application sees a request: size limits, and
JSON error bodies instead of gunicorn's HTML pages.

gunicorn refuses some requests itself: a request line longer than ``limit_request_line`` (414),
more header fields than ``limit_request_fields`` or one longer than
``limit_request_field_size`` (431), a malformed request line, header or chunked body (400), an
unsupported transfer coding (501). It writes those answers with ``gunicorn.util.write_error``,
an HTML page. ``install_json_errors()`` replaces that function in the gunicorn process (the
master, before it forks its workers) with one writing ``{"detail": "..."}``, the body every
other error of this server has. Both gunicorn configurations (``gunicorn.conf.py``,
``statsapi/gunicorn_embedded.py``) call it; tests/test_deploy.py sends each kind of request to
a real gunicorn and reads the answer.

The limits are far above what a Sentry SDK sends (an envelope or store request has a request
line under 1 KiB and about ten headers, the longest ``X-Sentry-Auth`` or a browser's
``User-Agent``, a few hundred bytes) and leave room for long stats queries and browser cookies.
The request line limit is gunicorn's maximum; nginx in front (deploy/nginx/) refuses longer
request lines and header lines itself, also with JSON.
"""

from __future__ import annotations

import importlib
import json
import socket
from typing import Any

__all__ = ["LIMITS", "install_json_errors", "json_error_response"]

LIMITS: dict[str, int] = {
    # Bytes of "METHOD /path?query HTTP/1.1" (gunicorn accepts at most 8190).
    "limit_request_line": 8190,
    # Header fields per request.
    "limit_request_fields": 128,
    # Bytes of one header field, name and value.
    "limit_request_field_size": 16384,
}


def json_error_response(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 response closing the connection, with a JSON ``detail``."""
    detail = f"{reason}: {message}" if message else reason
    body = json.dumps({"detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    ).encode("latin-1")
    return head + body


def install_json_errors() -> None:
    """Make gunicorn write its own error answers as JSON (see the module docstring)."""
    util: Any = importlib.import_module("gunicorn.util")  # gunicorn ships no type hints
    write_nonblock = util.write_nonblock

    def write_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
        write_nonblock(sock, json_error_response(status_int, reason, mesg))

    util.write_error = write_error
