"""The production deployment: the compose file's Redis and proxy, the checks the server makes
of the Redis it is given, and what gunicorn and nginx answer on their own.

- Readiness (/_health/?full) against redis-servers started with the compose file's arguments
  plus the variation under test, and against a Redis Cluster (every primary is checked).
- The startup report: logged once per server start (gunicorn, two workers), never per request.
- gunicorn's own errors (414, 431, 400) are JSON, through the real gunicorn configurations.
- nginx runs the compose file's proxy configuration (rendered as the official image does) in
  front of a real gunicorn: JSON 413/414/431/400/502, requests passed through whole, and
  X-Forwarded-For such that ingest's trusted-proxy setting finds the sender's address.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import redis
from compose_redis import RedisProcess, compose_config, compose_redis_args
from django.test import Client
from live_server import ROOT, Server, database_url, environment, free_port, gunicorn_server
from nginx_proxy import NginxProcess, get, nginx_test, proxy_variables, raw_request, write_config
from redis_cluster import RedisClusterNodes

from statsapi.gunicorn_http import LIMITS

pytestmark = pytest.mark.django_db

# `make run`'s gunicorn configuration (the Docker image's, gunicorn.conf.py in the checkout,
# is the one gunicorn_server starts with).
EMBEDDED_CONFIG = "statsapi/gunicorn_embedded.py"
SECRET = "deploy-tests-" + uuid.uuid4().hex
NOT_DURABLE = "Counts are not durable"


# -- helpers ------------------------------------------------------------------------------------


def app_env(**variables: str) -> dict[str, str]:
    """A production environment (DEBUG=False) for a server process of this test run."""
    return environment(
        DJANGO_SETTINGS_MODULE="statsapi.settings",
        DEBUG="False",
        SECRET_KEY=SECRET,
        **variables,
    )


# -- docker-compose.yml ---------------------------------------------------------------------------


def redis_options(command: list[str]) -> dict[str, str]:
    """redis-server's ``--name value`` arguments as a mapping."""
    assert command[0] == "redis-server"
    names, values = command[1::2], command[2::2]
    assert all(name.startswith("--") for name in names), command
    return {name.removeprefix("--"): str(value) for name, value in zip(names, values, strict=True)}


def test_compose_redis_writes_an_aof_to_a_named_volume_and_never_evicts() -> None:
    config = compose_config()
    redis_service = config["services"]["redis"]

    options = redis_options(redis_service["command"])
    assert options["appendonly"] == "yes"
    assert options["appendfsync"] == "everysec"
    assert options["maxmemory-policy"] == "noeviction"
    # /data: the image's working directory, where Redis writes appendonlydir/.
    assert redis_service["volumes"] == ["redis-data:/data:rw"]
    assert "redis-data" in config["volumes"]


def test_compose_puts_nginx_in_front_of_web() -> None:
    services = compose_config()["services"]
    proxy, web = services["proxy"], services["web"]

    assert proxy["image"].startswith("nginx:")
    assert proxy["depends_on"] == {"web": {"condition": "service_healthy"}}
    assert proxy["environment"]["STATSAPI_UPSTREAM"] == "web:8000"
    assert proxy["ports"] == ["127.0.0.1:8000:80/tcp"]
    templates = str(ROOT / "deploy" / "nginx" / "templates")
    assert proxy["volumes"] == [f"{templates}:/etc/nginx/templates:ro"]
    # web is reached through the proxy only, and they agree on the largest body.
    assert "ports" not in web
    assert (
        proxy["environment"]["INGEST_MAX_REQUEST_BYTES"]
        == web["environment"]["INGEST_MAX_REQUEST_BYTES"]
        == "20971520"
    )
    assert web["environment"]["INGEST_TRUSTED_PROXIES"] == "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"


def test_one_body_limit_setting_sets_both_the_proxy_and_ingest() -> None:
    services = compose_config(INGEST_MAX_REQUEST_BYTES="1048576")["services"]

    assert services["proxy"]["environment"]["INGEST_MAX_REQUEST_BYTES"] == "1048576"
    assert services["web"]["environment"]["INGEST_MAX_REQUEST_BYTES"] == "1048576"


# -- the Redis the server is given -------------------------------------------------------------


@pytest.fixture
def start_redis(
    tmp_path: Path, settings: Any, redis_prefix: str
) -> Iterator[Callable[..., RedisProcess]]:
    """Start a redis-server with the compose file's arguments followed by ``extra`` (later
    arguments win), and point the TSDB and the quotas at it."""
    servers: list[RedisProcess] = []

    def start(*extra: str) -> RedisProcess:
        directory = tmp_path / f"redis-{len(servers)}"
        directory.mkdir()
        server = RedisProcess([*compose_redis_args(), *extra], directory).start()
        servers.append(server)
        settings.REDIS_URL = server.url
        settings.TSDB_OPTIONS = {"url": server.url, "prefix": redis_prefix + "ts:"}
        return server

    yield start
    for server in servers:
        server.stop()


def readiness(client: Client) -> tuple[int, dict[str, Any]]:
    response = client.get("/_health/?full")
    return response.status_code, response.json()


def test_the_compose_redis_is_ready_and_durable(
    start_redis: Callable[..., RedisProcess], client: Client
) -> None:
    start_redis()

    status, body = readiness(client)

    assert status == 200, body
    assert body["checks"] == {"database": "ok", "tsdb": "ok", "redis_config": "ok"}
    assert body["problems"] == []
    assert body["warnings"] == []


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-ttl"])
def test_an_evicting_policy_fails_readiness_naming_it(
    start_redis: Callable[..., RedisProcess], client: Client, policy: str
) -> None:
    server = start_redis("--maxmemory-policy", policy)

    status, body = readiness(client)

    assert status == 503, body
    assert body["status"] == "unavailable"
    assert body["checks"]["tsdb"] == "ok"
    assert body["checks"]["redis_config"] == "unsafe"
    (problem,) = body["problems"]
    assert problem.startswith(f"Redis 127.0.0.1:{server.port} has maxmemory-policy {policy}:")
    assert "Set maxmemory-policy noeviction" in problem


def test_without_config_the_policy_and_aof_are_read_from_info(
    start_redis: Callable[..., RedisProcess], client: Client
) -> None:
    # As on managed Redis services: CONFIG is not available to clients.
    start_redis("--rename-command", "CONFIG", "", "--maxmemory-policy", "allkeys-lfu",
                "--appendonly", "no")  # fmt: skip
    with pytest.raises(redis.ResponseError):
        redis.Redis.from_url(client_settings_url()).config_get("maxmemory-policy")

    status, body = readiness(client)

    assert status == 503, body
    assert "has maxmemory-policy allkeys-lfu" in body["problems"][0]
    (warning,) = body["warnings"]
    assert "AOF off (appendonly no, read from INFO persistence" in warning


def client_settings_url() -> str:
    from django.conf import settings

    return str(settings.REDIS_URL)


@pytest.mark.parametrize(
    ("arguments", "warning"),
    [
        (("--appendonly", "no", "--save", ""), "persists nothing (appendonly no, no save points)"),
        (("--appendonly", "no", "--save", "60 1"), "only writes RDB snapshots (save 60 1)"),
        (("--appendfsync", "no"), "has appendfsync no"),
    ],
    ids=["no persistence", "RDB only", "AOF without fsync"],
)
def test_persistence_that_loses_counts_is_a_warning_not_a_failure(
    start_redis: Callable[..., RedisProcess],
    client: Client,
    arguments: tuple[str, ...],
    warning: str,
) -> None:
    server = start_redis(*arguments)

    status, body = readiness(client)

    assert status == 200, body
    assert body["checks"]["redis_config"] == "ok"
    (found,) = body["warnings"]
    assert found.startswith(f"Redis 127.0.0.1:{server.port}")
    assert warning in found


def test_readiness_is_unknown_not_unsafe_while_redis_is_down(client: Client, settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.TSDB_OPTIONS = {"url": settings.REDIS_URL, "prefix": "unused:"}

    status, body = readiness(client)

    assert status == 503
    assert body["checks"] == {"database": "ok", "tsdb": "unavailable", "redis_config": "unknown"}
    assert body["problems"] == ["tsdb unavailable"]


def test_every_primary_of_a_cluster_is_checked(
    redis_cluster: RedisClusterNodes, settings: Any, client: Client, redis_prefix: str
) -> None:
    settings.REDIS_CLUSTER = True
    settings.REDIS_URL = redis_cluster.url
    settings.TSDB_OPTIONS = {"url": redis_cluster.url, "prefix": redis_prefix, "cluster": True}
    # Not the node REDIS_URL names: the others are found from it.
    evicting = redis_cluster.ports[2]
    node = redis_cluster.node_client(evicting)
    node.config_set("maxmemory-policy", "volatile-lru")
    try:
        status, body = readiness(client)
    finally:
        node.config_set("maxmemory-policy", "noeviction")
        node.close()

    assert status == 503, body
    (problem,) = body["problems"]
    assert problem.startswith(f"Redis 127.0.0.1:{evicting} has maxmemory-policy volatile-lru")
    # The test cluster persists nothing: each primary is named.
    assert len(body["warnings"]) == 3
    for port in redis_cluster.ports:
        assert any(f"Redis 127.0.0.1:{port} persists nothing" in w for w in body["warnings"])

    status, body = readiness(client)
    assert status == 200, body


# -- the startup report -------------------------------------------------------------------------


def test_gunicorn_logs_the_redis_report_once_per_start_not_per_worker_or_request(
    start_redis: Callable[..., RedisProcess], tmp_path: Path
) -> None:
    server = start_redis("--maxmemory-policy", "allkeys-lru", "--appendonly", "no")
    env = app_env(REDIS_URL=server.url, DATABASE_URL=database_url())
    log_path = tmp_path / "gunicorn.log"

    port = free_port()
    started = time.monotonic()
    with gunicorn_server(port, env, workers=2, log_path=log_path) as app:
        boot = time.monotonic() - started
        app.wait_for(lambda: NOT_DURABLE in app.output(), "the startup report")
        for _ in range(4):
            status, _, body = raw_request(port, get("/_health/?full"))
            assert status == 503, body
            assert "maxmemory-policy allkeys-lru" in body["problems"][0]
        # Both workers were forked together: give the second as long again as the first took
        # to load the application and answer, so a report of its own would be in the log.
        time.sleep(boot)
        output = app.output()

    warnings = [line for line in output.splitlines() if NOT_DURABLE in line]
    assert len(warnings) == 1, output
    assert f"Redis 127.0.0.1:{server.port} persists nothing" in warnings[0]
    assert " WARNING " in warnings[0]
    errors = [line for line in output.splitlines() if "maxmemory-policy allkeys-lru" in line]
    assert len(errors) == 1, output
    assert " ERROR " in errors[0]
    assert "Readiness (/_health/?full) fails until then" in errors[0]


def test_any_wsgi_server_logs_the_report_when_it_loads_the_application(
    start_redis: Callable[..., RedisProcess],
) -> None:
    server = start_redis("--appendonly", "no", "--save", "")

    result = subprocess.run(
        [sys.executable, "-c", "import statsapi.wsgi"],
        cwd=ROOT,
        env=app_env(REDIS_URL=server.url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.count(NOT_DURABLE) == 1, result.stderr


def test_a_redis_down_at_startup_does_not_stop_the_server() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import statsapi.wsgi"],
        cwd=ROOT,
        env=app_env(REDIS_URL="redis://:hunter2@127.0.0.1:1/0"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Could not check the Redis configuration at startup" in result.stderr
    assert "hunter2" not in result.stderr


# -- gunicorn's own answers ---------------------------------------------------------------------

# What a Sentry SDK sends at most, and more: a browser SDK's request with a big cookie.
SDK_LIKE_HEADERS = [
    "X-Sentry-Auth: Sentry sentry_key=" + "a" * 32 + ", sentry_version=7, "
    "sentry_client=sentry.javascript.browser/8.0.0",
    "User-Agent: " + "Mozilla/5.0 " * 40,
    "Content-Type: text/plain;charset=UTF-8",
    "Cookie: " + "; ".join(f"c{i}={'v' * 90}" for i in range(80)),
    *(f"X-Extra-{i}: {i}" for i in range(60)),
]
SDK_LIKE_PATH = "/_health/?sentry_key=" + "a" * 32 + "&x=" + "q" * 4000


@pytest.fixture(scope="module")
def gunicorn_alone() -> Iterator[int]:
    """The Docker image's gunicorn (its configuration file), serving the embedded settings:
    the answers under test come from gunicorn before the application sees the request."""
    port = free_port()
    with gunicorn_server(port, app_env(STATSAPI_EMBEDDED="True")):
        yield port


GUNICORN_REFUSALS = [
    pytest.param(get("/" + "a" * 9000), 414, "URI Too Long", id="request line of 9000 bytes"),
    pytest.param(
        get("/", "X-Big: " + "b" * 20000), 431, "Request Header Fields Too Large",
        id="a header of 20 KB",
    ),
    pytest.param(
        get("/", *(f"X-{i}: {i}" for i in range(LIMITS["limit_request_fields"] + 1))), 431,
        "Request Header Fields Too Large", id="too many headers",
    ),
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n", 400,
        "Bad Request", id="bad Content-Length",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("request_bytes", "status", "reason"), GUNICORN_REFUSALS)
def test_gunicorn_refuses_with_json_not_html(
    gunicorn_alone: int, request_bytes: bytes, status: int, reason: str
) -> None:
    got, content_type, body = raw_request(gunicorn_alone, request_bytes)

    assert got == status, body
    assert content_type == "application/json"
    assert isinstance(body, dict), body
    assert body["detail"].startswith(reason), body


def test_gunicorn_takes_what_a_sentry_sdk_sends(gunicorn_alone: int) -> None:
    status, _, body = raw_request(gunicorn_alone, get(SDK_LIKE_PATH, *SDK_LIKE_HEADERS))

    assert status == 200, body
    assert body == {"status": "ok"}


def test_make_run_gunicorn_refuses_with_json_too() -> None:
    env = app_env(STATSAPI_EMBEDDED="True", STATSAPI_DEMO="False")
    port = free_port()
    with gunicorn_server(port, env, extra_args=("-c", EMBEDDED_CONFIG)):
        status, content_type, body = raw_request(port, get("/", "X-Big: " + "b" * 20000))
        ok, _, _ = raw_request(port, get(SDK_LIKE_PATH, *SDK_LIKE_HEADERS))

    assert (status, content_type) == (431, "application/json"), body
    assert body["detail"].startswith("Request Header Fields Too Large")
    assert ok == 200


# -- the proxy ----------------------------------------------------------------------------------


def test_the_proxy_configuration_passes_nginx_own_check(tmp_path: Path) -> None:
    variables = proxy_variables()
    assert variables["STATSAPI_UPSTREAM"] == "web:8000"

    config = write_config(tmp_path, variables)
    result = nginx_test(config)

    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    server = (tmp_path / "conf.d" / "default.conf").read_text()
    unset = [line for line in server.splitlines() if "${" in line.partition("#")[0]]
    assert unset == [], "a template variable is not set in the proxy's environment"
    assert "client_max_body_size 20971520;" in server


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Server]]:
    """nginx with the compose file's configuration in front of the Docker image's gunicorn
    (embedded settings); yields nginx's port and the gunicorn server."""
    with ExitStack() as stack:
        upstream_port = free_port()
        env = app_env(STATSAPI_EMBEDDED="True")
        upstream = stack.enter_context(gunicorn_server(upstream_port, env))
        port = free_port()
        directory = tmp_path_factory.mktemp("nginx")
        config = write_config(directory, proxy_variables(f"127.0.0.1:{upstream_port}"), port)
        proxy = NginxProcess(config, port)
        stack.callback(proxy.stop)
        yield port, upstream


PROXY_REFUSALS = [
    pytest.param(get("/" + "a" * 9000), 414, "Request line too long", id="long request line"),
    pytest.param(
        get("/", "X-Big: " + "b" * 10_000), 431, "Request header fields too large",
        id="a header of 10 KB",
    ),
    pytest.param(
        get("/", *(f"X-Many-{i}: {'m' * 7000}" for i in range(6))), 431,
        "Request header fields too large", id="42 KB of headers",
    ),
    pytest.param(
        b"POST /api/1/envelope/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20971521\r\n\r\n"
        + b"x" * 1000, 413, "Request body too large: at most 20971520 bytes",
        id="body over INGEST_MAX_REQUEST_BYTES",
    ),
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n", 400,
        "Bad request", id="bad Content-Length",
    ),
    pytest.param(
        b"POST /api/1/envelope/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "Bad request", id="bad chunk size",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("request_bytes", "status", "detail"), PROXY_REFUSALS)
def test_the_proxy_refuses_with_json(
    proxied: tuple[int, Server], request_bytes: bytes, status: int, detail: str
) -> None:
    port, _ = proxied

    got, content_type, body = raw_request(port, request_bytes)

    assert got == status, body
    assert content_type == "application/json"
    assert isinstance(body, dict), body
    assert body["detail"].startswith(detail), body


def test_the_proxy_passes_what_a_sentry_sdk_sends(proxied: tuple[int, Server]) -> None:
    port, _ = proxied

    status, _, body = raw_request(port, get(SDK_LIKE_PATH, *SDK_LIKE_HEADERS))

    assert status == 200, body
    assert body == {"status": "ok"}


def test_the_proxy_passes_a_body_of_exactly_the_ingest_limit(proxied: tuple[int, Server]) -> None:
    port, _ = proxied
    limit = int(compose_config()["services"]["web"]["environment"]["INGEST_MAX_REQUEST_BYTES"])
    head = (
        f"POST /api/1/envelope/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Length: {limit}\r\n\r\n"
    ).encode()

    status, content_type, body = raw_request(port, head + b"\n" * limit)

    # Ingest's own answer to 20 MiB of blank lines: the body reached gunicorn whole.
    assert (status, content_type) == (400, "application/json"), body
    assert body == {"detail": "Invalid envelope: empty body"}


def test_the_proxy_answers_502_json_when_gunicorn_is_down(proxied: tuple[int, Server]) -> None:
    port, upstream = proxied
    upstream.stop()  # last test of the module using this fixture

    status, content_type, body = raw_request(port, get("/_health/"))

    assert status == 502, body
    assert content_type == "application/json"
    assert body == {"detail": "The API server is not answering; try again shortly"}


# -- the README's Redis backup and restore -------------------------------------------------------


def wait_for_info(
    client: redis.Redis, section: str, done: Callable[[dict[str, Any]], bool]
) -> None:
    deadline = time.monotonic() + 30
    while not done(client.info(section)):
        assert time.monotonic() < deadline, client.info(section)
        time.sleep(0.05)


def test_the_readme_redis_backup_restores_every_count_up_to_the_backup(
    start_redis: Callable[..., RedisProcess], tmp_path: Path, settings: Any
) -> None:
    """The README's steps, with the commands docker compose would run in the container."""
    import tsdb
    from tsdb.base import TSDBModel

    def count(project: int) -> int:
        now = time.time()
        return tsdb.backend.get_sums(TSDBModel.project, [project], now - 3600, now + 60)[project]

    live = start_redis()
    tsdb.backend.incr(TSDBModel.project, 1, count=41)
    client = redis.Redis.from_url(live.url, decode_responses=True)
    # Backup: BGSAVE, wait for it, copy dump.rdb.
    client.bgsave()
    wait_for_info(client, "persistence", lambda info: not info["rdb_bgsave_in_progress"])
    assert client.info("persistence")["rdb_last_bgsave_status"] == "ok"
    backup = tmp_path / "backup.rdb"
    backup.write_bytes((live.directory / "dump.rdb").read_bytes())
    tsdb.backend.incr(TSDBModel.project, 2, count=5)  # after the backup: not in it
    client.close()
    live.stop()

    # Restore into an empty volume: the snapshot as dump.rdb, loaded with AOF off, then AOF
    # switched on (Redis writes a new AOF from memory), then a clean shutdown.
    volume = tmp_path / "restored"
    volume.mkdir()
    (volume / "dump.rdb").write_bytes(backup.read_bytes())
    args = [*compose_redis_args(), "--appendonly", "no", "--save", ""]
    loading = RedisProcess(args, volume).start()
    client = redis.Redis.from_url(loading.url, decode_responses=True)
    client.config_set("appendonly", "yes")
    wait_for_info(
        client,
        "persistence",
        lambda info: (
            info["aof_enabled"]
            and not info["aof_rewrite_in_progress"]
            and not info["aof_rewrite_scheduled"]
        ),
    )
    client.shutdown()
    client.close()
    assert loading.process is not None
    loading.process.wait(timeout=10)

    # docker compose up: the compose arguments, AOF on, find the AOF just written.
    restored = RedisProcess(compose_redis_args(), volume).start()
    settings.TSDB_OPTIONS = {**settings.TSDB_OPTIONS, "url": restored.url}
    try:
        assert (volume / "appendonlydir").is_dir()
        assert count(1) == 41
        assert count(2) == 0
    finally:
        restored.stop()
