"""PostgreSQL refusing connections, accepting and never answering, or going silent on an open
connection: every endpoint answers 503 with Retry-After within seconds, through real gunicorn.

The database the server talks to is one of the test's own on a spare loopback port: a closed
port, a listener that accepts and never replies, or a proxy to the real PostgreSQL that can be
frozen (it keeps its connections open and passes nothing on).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from api_routes import api_routes, filled
from live_server import database_url, environment, free_port, gunicorn_server

# The schema and its docs page read no credentials and no database.
DOCUMENTATION = {"/api/0/schema/", "/api/0/docs/"}
# Well-formed, so the server looks it up in the database (it matches no token).
SOME_TOKEN = "sntryu_" + "0" * 64
CONNECT_TIMEOUT = 2  # DATABASE_CONNECT_TIMEOUT of the servers below
STATEMENT_TIMEOUT = 1  # DATABASE_STATEMENT_TIMEOUT of the servers below
# "Within a few seconds": the connect deadline plus the query deadline plus slack for a busy
# machine; far below gunicorn's 30 s worker timeout, which is what answered before.
ANSWER_WITHIN = 15.0


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def send(
    base_url: str, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> Reply:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=40)
    started = time.monotonic()
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return Reply(
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            data,
            time.monotonic() - started,
        )
    finally:
        conn.close()


def server_env(port: int, db_url: str, **extra: str) -> dict[str, str]:
    return environment(
        DEBUG="False",
        SECRET_KEY=uuid.uuid4().hex + uuid.uuid4().hex,
        DATABASE_URL=db_url,
        DATABASE_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT),
        DATABASE_STATEMENT_TIMEOUT=str(STATEMENT_TIMEOUT),
        REDIS_URL="redis://127.0.0.1:6379/0",
        TSDB_PREFIX=f"test:{uuid.uuid4().hex[:12]}:ts:",
        QUOTAS_PREFIX=f"test:{uuid.uuid4().hex[:12]}:quota:",
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        **extra,
    )


def assert_unavailable(reply: Reply, what: str) -> None:
    assert reply.status == 503, (what, reply.status, reply.body[:300])
    assert int(reply.headers["retry-after"]) > 0, what
    assert b"Traceback" not in reply.body, what


def assert_api_unavailable(reply: Reply, what: str) -> None:
    assert_unavailable(reply, what)
    assert reply.headers["content-type"] == "application/json", what
    assert reply.json() == {"detail": "The database is unavailable; try again shortly."}, what


# -- the database's stand-ins ------------------------------------------------------------------


class SilentListener:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte (holds them open)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@dataclass
class FreezableProxy:
    """A TCP proxy from a spare loopback port to the real PostgreSQL. ``frozen``: it passes
    nothing on in either direction and answers no new connection, keeping every socket open
    (as a stopped server would)."""

    target: tuple[str, int]
    frozen: threading.Event = field(default_factory=threading.Event)
    sockets: list[socket.socket] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            if self.frozen.is_set():
                continue  # held open, never answered
            upstream = socket.create_connection(self.target)
            self.sockets.append(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                while self.frozen.is_set():
                    time.sleep(0.05)
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.frozen.clear()
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()


def db_url_on(port: int) -> str:
    """This run's database URL, sent to 127.0.0.1:``port`` instead."""
    parts = urlsplit(database_url())
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = netloc[0] + "@" if len(netloc) == 2 else ""
    return parts._replace(netloc=f"{userinfo}127.0.0.1:{port}").geturl()


@contextlib.contextmanager
def statsapi_on_database(
    database_port: int, log_path: Path, env: dict[str, str] | None = None, **gunicorn: Any
) -> Iterator[str]:
    """gunicorn serving statsapi (``gunicorn``: ``workers``, ``threads``) with its database at
    127.0.0.1:``database_port`` and ``env`` added to ``server_env``; yields its base URL. On a
    normal exit, its log holds no traceback and no worker timeout (it answered every request
    itself, within seconds)."""
    port = free_port()
    with gunicorn_server(
        port,
        server_env(port, db_url_on(database_port), **(env or {})),
        log_path=log_path,
        **gunicorn,
    ) as server:
        yield f"http://127.0.0.1:{port}"
        output = server.output()
    assert "WORKER TIMEOUT" not in output, output
    assert "Traceback" not in output, output


# -- PostgreSQL refusing connections -----------------------------------------------------------


@pytest.fixture(scope="module")
def refused_db_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("db-refused") / "gunicorn.log"
    with statsapi_on_database(free_port(), log_path, threads=4) as base_url:
        yield base_url


def test_every_api_route_is_503_json_while_postgresql_refuses(refused_db_server: str) -> None:
    routes = api_routes()
    assert "/api/0/" in routes
    assert "/api/0/organizations/<str:organization_id_or_slug>/stats/" in routes

    for route in routes:
        path = filled(route)
        reply = send(refused_db_server, "GET", path, {"Authorization": f"Bearer {SOME_TOKEN}"})
        if route in DOCUMENTATION:
            assert reply.status == 200, (path, reply.body[:300])  # needs no database
        else:
            assert_api_unavailable(reply, path)


def test_the_api_index_is_503_for_a_token_while_postgresql_refuses(
    refused_db_server: str,
) -> None:
    """/api/0/ treats a bad token as anonymous; an unreachable database is not a bad token."""
    reply = send(refused_db_server, "GET", "/api/0/", {"Authorization": f"Bearer {SOME_TOKEN}"})

    assert_api_unavailable(reply, "/api/0/")


def test_ingest_is_503_while_postgresql_refuses(refused_db_server: str) -> None:
    reply = send(
        refused_db_server,
        "POST",
        "/api/1/store/",
        {
            "Content-Type": "application/json",
            "X-Sentry-Auth": f"Sentry sentry_key={uuid.uuid4().hex}, sentry_version=7",
        },
        b'{"message": "hello"}',
    )

    assert_unavailable(reply, "store")
    assert reply.headers["content-type"] == "application/json"


def test_the_admin_is_a_plain_503_while_postgresql_refuses(refused_db_server: str) -> None:
    reply = send(refused_db_server, "GET", "/admin/", {"Cookie": "sessionid=" + "a" * 32})

    assert_unavailable(reply, "/admin/")
    assert reply.headers["content-type"].startswith("text/plain")
    assert b"The database is unavailable" in reply.body


def test_readiness_names_the_database_while_postgresql_refuses(refused_db_server: str) -> None:
    reply = send(refused_db_server, "GET", "/_health/?full")

    assert_unavailable(reply, "/_health/?full")
    assert reply.json()["checks"]["database"] == "unavailable"


# -- PostgreSQL accepting and never answering --------------------------------------------------


@pytest.fixture(scope="module")
def silent_db_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("db-silent") / "gunicorn.log"
    with (
        contextlib.closing(SilentListener()) as listener,
        statsapi_on_database(listener.port, log_path, workers=2) as base_url,
    ):
        yield base_url


@pytest.mark.parametrize(
    "path",
    [
        "/api/0/",
        "/api/0/organizations/",
        "/api/0/organizations/acme/stats/",
        "/api/0/projects/acme/backend/stats/",
    ],
)
def test_api_answers_503_within_seconds_while_postgresql_never_answers(
    silent_db_server: str, path: str
) -> None:
    reply = send(silent_db_server, "GET", path, {"Authorization": f"Bearer {SOME_TOKEN}"})

    assert_api_unavailable(reply, path)
    assert reply.seconds < ANSWER_WITHIN, reply.seconds


def test_ingest_answers_503_within_seconds_while_postgresql_never_answers(
    silent_db_server: str,
) -> None:
    reply = send(
        silent_db_server,
        "POST",
        "/api/1/store/",
        {
            "Content-Type": "application/json",
            "X-Sentry-Auth": f"Sentry sentry_key={uuid.uuid4().hex}, sentry_version=7",
        },
        b'{"message": "hello"}',
    )

    assert_unavailable(reply, "store")
    assert reply.seconds < ANSWER_WITHIN, reply.seconds


def test_both_workers_keep_answering_while_postgresql_never_answers(
    silent_db_server: str,
) -> None:
    """Four requests at once on two sync workers: each waits for the one before it, and all
    are answered (none waits for gunicorn to kill a worker)."""
    replies: list[Reply] = []
    threads = [
        threading.Thread(
            target=lambda: replies.append(
                send(
                    silent_db_server,
                    "GET",
                    "/api/0/organizations/",
                    {"Authorization": f"Bearer {SOME_TOKEN}"},
                )
            )
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [reply.status for reply in replies] == [503] * 4


# -- PostgreSQL going silent on an open connection ---------------------------------------------


@dataclass
class ProxiedServer:
    base_url: str
    proxy: FreezableProxy
    token: str
    organization_slug: str


@pytest.fixture
def proxied_db_server(transactional_db: None, tmp_path: Path) -> Iterator[ProxiedServer]:
    """gunicorn (one worker, connections kept 60 s) on this run's database through a proxy."""
    from django.db import connection

    from organizations import services

    suffix = uuid.uuid4().hex[:8]
    user, _ = services.user_get_or_create(username=f"owner-{suffix}")
    organization = services.organization_create(slug=f"org-{suffix}", owner=user)
    _, token = services.api_token_create(user=user, scopes=["org:read"])

    settings = connection.settings_dict
    target = (settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432))
    with (
        contextlib.closing(FreezableProxy(target)) as proxy,
        statsapi_on_database(
            proxy.port, tmp_path / "gunicorn.log", env={"DATABASE_CONN_MAX_AGE": "60"}
        ) as base_url,
    ):
        yield ProxiedServer(base_url, proxy, token, organization.slug)


def test_a_database_silent_on_an_open_connection_is_503_within_seconds_then_recovers(
    proxied_db_server: ProxiedServer,
) -> None:
    server = proxied_db_server
    # The project list reads the database on every request (the organization's details would
    # be answered from the access cache, database or not: organizations/cache.py).
    path = f"/api/0/organizations/{server.organization_slug}/projects/"
    auth = {"Authorization": f"Bearer {server.token}"}
    assert send(server.base_url, "GET", path, auth).status == 200  # the connection is open

    server.proxy.frozen.set()
    frozen = send(server.base_url, "GET", path, auth)
    server.proxy.frozen.clear()
    recovered = send(server.base_url, "GET", path, auth)

    assert_api_unavailable(frozen, path)
    assert frozen.seconds < ANSWER_WITHIN, frozen.seconds
    assert recovered.status == 200, recovered.body
    assert recovered.json() == []  # the organization has no project
