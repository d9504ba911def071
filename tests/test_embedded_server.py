"""The server as a user starts it, under gunicorn in its own process.

- README command 1 (`make run`): the Makefile's own gunicorn command with the embedded
  configuration, SQLite and the in-memory TSDB. Its banner's curl line works as printed and
  its DSN takes events from the real sentry-sdk.
- With Redis unreachable the server still starts and answers everything that needs no TSDB;
  the TSDB-backed answers are 503 with Retry-After.

Each server is started once per module and always stopped; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from live_server import (
    BIN,
    ROOT,
    Server,
    database_url,
    environment,
    free_port,
    gunicorn_server,
)

HOUR = 3600


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    base_url: str,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Response:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Response(response.status, dict(response.getheaders()), response.read())
    finally:
        conn.close()


def answering(base_url: str) -> bool:
    try:
        return request(base_url, "GET", "/api/0/").status == 200
    except OSError:
        return False


# --- README command 1: the embedded server ------------------------------------------------------


def makefile_run_recipe() -> list[str]:
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^run:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert match, "the Makefile has no run target"
    return [line.strip() for line in match.group(1).splitlines()]


def makefile_gunicorn_argv() -> list[str]:
    """The gunicorn command of `make run`, with $(BIN) as this interpreter's bin directory."""
    lines = [line for line in makefile_run_recipe() if "gunicorn" in line]
    assert len(lines) == 1, lines
    words = shlex.split(lines[0])
    command = words[words.index("exec") + 1 :]
    return [word.replace("$(BIN)", str(BIN)) for word in command]


def test_make_run_installs_gunicorn_with_the_runtime_requirements() -> None:
    makefile = (ROOT / "Makefile").read_text()
    run_prerequisites = re.search(r"^run:(.*)$", makefile, re.MULTILINE)
    runtime = (ROOT / "requirements.txt").read_text().splitlines()

    assert run_prerequisites, "the Makefile has no run target"
    assert "$(VENV)/.runtime-installed" in run_prerequisites.group(1).split()
    assert any(re.fullmatch(r"gunicorn==[0-9.]+", line) for line in runtime), runtime
    assert makefile_gunicorn_argv()[0] == str(BIN / "gunicorn")


@dataclass
class Embedded:
    base_url: str
    banner: list[str]
    server: Server
    started_at: float  # before the server started, so before the demo counts were written

    def line(self, prefix: str) -> str:
        lines = [line for line in self.banner if line.startswith(prefix)]
        assert len(lines) == 1, self.banner
        return lines[0]


@contextlib.contextmanager
def make_run(directory: Path, **variables: str) -> Iterator[tuple[Server, str]]:
    """`make run` on a fresh SQLite file: migrate, then the Makefile's gunicorn command with the
    variables its recipe sets (STATSAPI_EMBEDDED=True, SECRET_KEY) and `variables`. Yields the
    server and its base URL; stops it afterwards."""
    recipe = makefile_run_recipe()
    assert all("STATSAPI_EMBEDDED=True" in line for line in recipe), recipe
    assert all('SECRET_KEY="$$(cat var/secret_key)"' in line for line in recipe), recipe
    port = free_port()
    env = environment(
        STATSAPI_EMBEDDED="True",
        SECRET_KEY=uuid.uuid4().hex + uuid.uuid4().hex,
        DATABASE_URL=f"sqlite:///{directory / 'statsapi.sqlite3'}",
        # No PUBLIC_URL: the embedded server derives it from its bind address.
        STATSAPI_BIND=f"127.0.0.1:{port}",
        **variables,
    )
    subprocess.run(
        [str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    server = Server(makefile_gunicorn_argv(), env, directory / "gunicorn.log")
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedded]:
    """The embedded server with its demo banner; no REDIS_URL, so the in-memory TSDB."""
    rule = "=" * 78
    started_at = time.time()
    with make_run(tmp_path_factory.mktemp("embedded")) as (server, base_url):

        def banner() -> list[str] | None:
            lines = server.output().splitlines()
            if lines.count(rule) < 2:
                return None
            start = lines.index(rule)
            return lines[start + 1 : lines.index(rule, start + 1)]

        yield Embedded(base_url, server.wait_for(banner, "demo banner"), server, started_at)


def run_curl_as_printed(embedded: Embedded) -> list[list[Any]]:
    argv = shlex.split(embedded.line("curl "))
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    series: list[list[Any]] = json.loads(result.stdout)
    return series


def test_it_runs_the_in_memory_tsdb_in_one_worker_process(embedded: Embedded) -> None:
    output = embedded.server.output()

    assert output.count("Booting worker with pid") == 1, output
    assert "Using worker: gthread" in output
    assert "Traceback" not in output


def test_the_printed_curl_line_shows_24_hourly_points_with_counts(embedded: Embedded) -> None:
    before = time.time() // HOUR * HOUR
    series = run_curl_as_printed(embedded)
    after = time.time() // HOUR * HOUR

    assert len(series) == 24, series
    for timestamp, count in series:
        assert type(timestamp) is float
        assert type(count) is int
    timestamps = [timestamp for timestamp, _ in series]
    # Every hour the demo filled has counts; an hour begun since the server started may not.
    seeded_hours = [count for ts, count in series if ts <= embedded.started_at // HOUR * HOUR]
    assert len(seeded_hours) >= 23
    assert all(count > 0 for count in seeded_hours), series
    assert [b - a for a, b in itertools.pairwise(timestamps)] == [3600.0] * 23
    assert timestamps[-1] in {before, after}


def test_the_banner_names_the_demo_and_a_dsn_for_the_bind_address(embedded: Embedded) -> None:
    dsn = urlsplit(embedded.line("DSN: ").removeprefix("DSN: "))
    token = embedded.line("Token (shown once): ").split()[-1]

    assert f"{dsn.scheme}://{dsn.hostname}:{dsn.port}" == embedded.base_url
    assert re.fullmatch(r"[0-9a-f]{32}", dsn.username or ""), dsn
    assert re.fullmatch(r"/[1-9][0-9]*", dsn.path), dsn
    assert re.fullmatch(r"sntryu_[0-9a-f]{64}", token)
    assert embedded.line("curl ") == (
        f"curl -H 'Authorization: Bearer {token}' "
        f"{embedded.base_url}/api/0/organizations/demo/stats/"
    )


def test_the_printed_dsn_takes_an_event_from_sentry_sdk(embedded: Embedded) -> None:
    dsn = embedded.line("DSN: ").removeprefix("DSN: ")
    before = dict(run_curl_as_printed(embedded))
    send = (
        "import sys, sentry_sdk\n"
        "sentry_sdk.init(dsn=sys.argv[1])\n"
        "sentry_sdk.capture_message('hello from the README test')\n"
        "sentry_sdk.flush(timeout=10)\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", send, dsn],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    after = dict(run_curl_as_printed(embedded))
    # Compared hour by hour: the 24-hour window may have moved on between the two reads.
    added = {ts: count - before.get(ts, 0) for ts, count in after.items()}
    assert sum(added.values()) == 1, added
    log = embedded.server.output()
    # The request's one log line (statsapi.request), with its project.
    line = r"statsapi\.request: POST /api/[0-9]+/envelope/ 200 .* project=[0-9]+"
    assert re.search(line, log), log


def test_it_serves_the_admin_and_its_static_files_with_debug_off(embedded: Embedded) -> None:
    login = request(embedded.base_url, "GET", "/admin/login/")
    css = request(embedded.base_url, "GET", "/static/admin/css/base.css")

    assert login.status == 200, login.body
    assert b"csrfmiddlewaretoken" in login.body
    assert css.status == 200
    assert css.headers["Content-Type"].startswith("text/css")


def test_the_api_index_answers_without_credentials(embedded: Embedded) -> None:
    response = request(embedded.base_url, "GET", "/api/0/")

    assert response.status == 200, response.body


def test_the_embedded_server_refuses_a_bad_thread_count() -> None:
    result = subprocess.run(
        makefile_gunicorn_argv(),
        cwd=ROOT,
        env=environment(STATSAPI_EMBEDDED="True", SECRET_KEY="x" * 50, STATSAPI_THREADS="lots"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode != 0
    assert "STATSAPI_THREADS must be a positive integer, not 'lots'" in result.stderr


def test_make_run_with_redis_down_still_serves_and_says_why_there_is_no_demo(
    tmp_path: Path,
) -> None:
    with make_run(tmp_path, REDIS_URL="redis://127.0.0.1:1/0") as (server, base_url):
        server.wait_for(lambda: answering(base_url), "answer on /api/0/")
        message = "The demo data could not be created: The TSDB cannot be reached"
        server.wait_for(lambda: message in server.output(), "demo failure message")
        admin = request(base_url, "GET", "/admin/login/")
        output = server.output()

    assert admin.status == 200, admin.body
    assert "is Redis running?" in output
    assert "Traceback" not in output
    assert "statsapi is running with demo data" not in output


# --- Redis unreachable ----------------------------------------------------------------------


@dataclass
class Fixtures:
    organization_slug: str
    token: str
    project_id: int
    public_key: str


@pytest.fixture(scope="module")
def redis_down_url(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The app under gunicorn on this run's test database, with REDIS_URL on a closed port."""

    port = free_port()
    env = environment(
        DEBUG="False",
        SECRET_KEY=uuid.uuid4().hex + uuid.uuid4().hex,
        DATABASE_URL=database_url(),
        REDIS_URL="redis://127.0.0.1:1/0",
        PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    log_path = tmp_path_factory.mktemp("redis-down") / "gunicorn.log"
    with gunicorn_server(port, env, threads=4, log_path=log_path) as server:
        base_url = f"http://127.0.0.1:{port}"
        server.wait_for(lambda: answering(base_url), "answer on /api/0/")
        yield base_url


@pytest.fixture
def rows(transactional_db: None) -> Fixtures:
    """An owner's token, an organization and a project with a DSN key, committed so that the
    server process sees them."""
    from organizations import services
    from organizations.models import ProjectKey

    suffix = uuid.uuid4().hex[:8]
    user, _ = services.user_get_or_create(username=f"owner-{suffix}")
    organization = services.organization_create(slug=f"org-{suffix}", owner=user)
    project = services.project_create(organization=organization, slug=f"project-{suffix}")
    _, token = services.api_token_create(user=user, scopes=["org:read", "project:read"])
    key = ProjectKey.objects.get(project=project)
    return Fixtures(organization.slug, token, project.pk, key.public_key)


def test_it_answers_the_api_index_while_redis_is_down(redis_down_url: str, rows: Fixtures) -> None:
    anonymous = request(redis_down_url, "GET", "/api/0/")
    authenticated = request(
        redis_down_url, "GET", "/api/0/", headers={"Authorization": f"Bearer {rows.token}"}
    )

    assert anonymous.status == 200, anonymous.body
    assert authenticated.status == 200, authenticated.body
    assert authenticated.json()["user"] is not None


def test_it_serves_the_admin_login_while_redis_is_down(redis_down_url: str) -> None:
    response = request(redis_down_url, "GET", "/admin/login/")

    assert response.status == 200, response.body


def test_it_answers_organization_details_while_redis_is_down(
    redis_down_url: str, rows: Fixtures
) -> None:
    response = request(
        redis_down_url,
        "GET",
        f"/api/0/organizations/{rows.organization_slug}/",
        headers={"Authorization": f"Bearer {rows.token}"},
    )

    assert response.status == 200, response.body
    assert response.json()["slug"] == rows.organization_slug


def test_organization_stats_are_503_with_retry_after_while_redis_is_down(
    redis_down_url: str, rows: Fixtures
) -> None:
    response = request(
        redis_down_url,
        "GET",
        f"/api/0/organizations/{rows.organization_slug}/stats/",
        headers={"Authorization": f"Bearer {rows.token}"},
    )

    assert response.status == 503, response.body
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["detail"]
    assert body["detail"]
    assert b"Traceback" not in response.body


def test_an_unauthenticated_stats_request_is_still_401_while_redis_is_down(
    redis_down_url: str, rows: Fixtures
) -> None:
    response = request(
        redis_down_url, "GET", f"/api/0/organizations/{rows.organization_slug}/stats/"
    )

    assert response.status == 401, response.body


def test_ingest_is_503_with_retry_after_while_redis_is_down(
    redis_down_url: str, rows: Fixtures
) -> None:
    event = json.dumps({"message": "hello", "level": "error"}).encode()
    envelope = b"\n".join(
        [
            json.dumps({"event_id": uuid.uuid4().hex}).encode(),
            json.dumps({"type": "event", "length": len(event)}).encode(),
            event,
        ]
    )

    response = request(
        redis_down_url,
        "POST",
        f"/api/{rows.project_id}/envelope/",
        headers={
            "Content-Type": "application/x-sentry-envelope",
            "X-Sentry-Auth": (
                f"Sentry sentry_key={rows.public_key}, sentry_version=7, "
                "sentry_client=statsapi-tests/1.0"
            ),
        },
        body=envelope,
    )

    assert response.status == 503, response.body
    assert int(response.headers["Retry-After"]) > 0
    assert b"Traceback" not in response.body
