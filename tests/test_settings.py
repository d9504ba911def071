"""Configuration from the environment, as an operator meets it at startup.

Settings are read once per process, so every variation runs in a fresh interpreter with an
environment made for it (none of the caller's statsapi variables leak in, and PYTEST_VERSION is
dropped so the laptop defaults apply). The docker-compose file and Dockerfile are checked
against what the README promises of them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from compose_redis import compose
from compose_redis import compose_config as parsed_compose_config

import tsdb
from tsdb.base import TSDBModel

ROOT = Path(__file__).resolve().parents[1]
# Only what a process needs to run; every statsapi variable comes from the test itself.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
TEST_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"
HOUR = timedelta(hours=1)

SHOW_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
import tsdb
backend = tsdb.get_backend()
database = settings.DATABASES["default"]
print(json.dumps({
    "database": {name: database[name] for name in ("ENGINE", "NAME", "HOST", "PORT", "USER")},
    "backend": type(backend).__name__,
    "debug": settings.DEBUG,
    "allowed_hosts": settings.ALLOWED_HOSTS,
}))
"""


def environment(**variables: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env["DJANGO_SETTINGS_MODULE"] = "statsapi.settings"
    env.update(variables)
    return env


def run_python(code: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment(**variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def start_app(module: str = "statsapi.wsgi", **variables: str) -> subprocess.CompletedProcess[str]:
    """Build the application as gunicorn (or an ASGI server) does: import its module."""
    return run_python(f"import {module}", **variables)


def startup_error(result: subprocess.CompletedProcess[str]) -> str:
    """The ImproperlyConfigured message the process died with."""
    assert result.returncode != 0, "the application started:\n" + result.stdout + result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    prefix = "django.core.exceptions.ImproperlyConfigured: "
    assert last_line.startswith(prefix), result.stderr
    return last_line.removeprefix(prefix)


def show_settings(**variables: str) -> dict[str, Any]:
    result = run_python(SHOW_SETTINGS, **variables)
    assert result.returncode == 0, result.stderr
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


# --- DEBUG=False: the two production guards -----------------------------------------------------


@pytest.mark.parametrize("module", ["statsapi.wsgi", "statsapi.asgi"])
def test_it_refuses_to_start_without_a_secret_key(module: str) -> None:
    result = start_app(module, DEBUG="False", STATSAPI_EMBEDDED="True")

    message = startup_error(result)
    assert message.startswith("SECRET_KEY is not set."), message
    assert "in-memory TSDB" not in message


def test_an_empty_secret_key_counts_as_missing() -> None:
    message = startup_error(start_app(DEBUG="False", STATSAPI_EMBEDDED="True", SECRET_KEY=""))

    assert message.startswith("SECRET_KEY is not set."), message


@pytest.mark.parametrize(
    "variables",
    [
        pytest.param({}, id="no REDIS_URL"),
        pytest.param(
            {"REDIS_URL": TEST_REDIS_URL, "TSDB_BACKEND": "tsdb.inmemory.InMemoryTSDB"},
            id="TSDB_BACKEND chooses it over REDIS_URL",
        ),
        pytest.param({"STATSAPI_EMBEDDED": "False"}, id="STATSAPI_EMBEDDED=False"),
    ],
)
def test_it_refuses_the_in_memory_tsdb_without_the_embedded_opt_in(
    variables: dict[str, str],
) -> None:
    result = start_app(DEBUG="False", SECRET_KEY="a-real-secret", **variables)

    message = startup_error(result)
    assert message.startswith("The in-memory TSDB keeps counts in one process"), message
    assert "STATSAPI_EMBEDDED=True" in message
    assert "SECRET_KEY" not in message


def test_it_names_both_problems_when_both_are_present() -> None:
    message = startup_error(start_app(DEBUG="False"))

    assert "SECRET_KEY is not set." in message
    assert "STATSAPI_EMBEDDED=True" in message


def test_it_starts_with_a_secret_key_and_the_embedded_opt_in() -> None:
    result = start_app(DEBUG="False", SECRET_KEY="a-real-secret", STATSAPI_EMBEDDED="True")

    assert result.returncode == 0, result.stderr


def test_it_starts_on_redis_without_the_opt_in_even_while_redis_is_unreachable() -> None:
    result = start_app(DEBUG="False", SECRET_KEY="a-real-secret", REDIS_URL=CLOSED_REDIS_URL)

    assert result.returncode == 0, result.stderr


def test_debug_true_allows_a_missing_secret_key_and_the_in_memory_tsdb() -> None:
    result = start_app(DEBUG="True")

    assert result.returncode == 0, result.stderr


def test_debug_defaults_to_false() -> None:
    assert show_settings()["debug"] is False
    assert startup_error(start_app()).startswith("SECRET_KEY is not set.")


def test_gunicorn_refuses_to_start_and_says_why(tmp_path: Path) -> None:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    result = subprocess.run(
        [
            str(gunicorn),
            "statsapi.wsgi:application",
            "--bind",
            "127.0.0.1:0",
            "--no-control-socket",
        ],
        cwd=ROOT,
        env=environment(DEBUG="False", STATSAPI_EMBEDDED="True"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set." in result.stderr, result.stderr
    assert "Worker failed to boot" in result.stderr


def test_the_deploy_check_reports_the_same_problems() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=environment(DEBUG="False"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "(statsapi.E001) SECRET_KEY is not set." in result.stderr, result.stderr
    assert "(statsapi.E002) The in-memory TSDB" in result.stderr, result.stderr


# --- bad values fail at startup, naming the variable --------------------------------------------

BAD_VALUES = [
    ("DEBUG", "maybe", "DEBUG must be True or False, not 'maybe'"),
    ("STATSAPI_EMBEDDED", "perhaps", "STATSAPI_EMBEDDED must be True or False, not 'perhaps'"),
    (
        "STATS_INTEGER_TIMESTAMPS",
        "sometimes",
        "STATS_INTEGER_TIMESTAMPS must be True or False, not 'sometimes'",
    ),
    ("DATABASE_URL", "mongodb://127.0.0.1/statsapi", "DATABASE_URL is not a valid database URL"),
    ("DATABASE_URL", "statsapi.sqlite3", "DATABASE_URL is not a valid database URL"),
    ("DATABASE_URL", "postgres://127.0.0.1:fivefour/statsapi", "DATABASE_URL is not a valid"),
    ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432", "DATABASE_URL names no database"),
    ("DATABASE_CONN_MAX_AGE", "forever", "DATABASE_CONN_MAX_AGE must be an integer"),
    ("API_RATE_LIMIT_TOKEN", "lots", "API_RATE_LIMIT_TOKEN must be REQUESTS/SECONDS"),
    ("API_RATE_LIMIT_ADDRESS", "100/0", "API_RATE_LIMIT_ADDRESS must be REQUESTS/SECONDS"),
    ("DATABASE_CONNECT_TIMEOUT", "1", "DATABASE_CONNECT_TIMEOUT must be between 2 and 60"),
    ("DATABASE_STATEMENT_TIMEOUT", "-1", "DATABASE_STATEMENT_TIMEOUT must be between 0 and"),
    ("REDIS_URL", "http://127.0.0.1:6379/0", "REDIS_URL must start with redis://"),
    ("REDIS_URL", "127.0.0.1:6379", "REDIS_URL must start with redis://"),
    ("REDIS_URL", "redis://127.0.0.1:sixthree/0", "REDIS_URL has a port that is not a number"),
    ("REDIS_URL", "redis://127.0.0.1:6379/three", "REDIS_URL must end with a database number"),
    ("TSDB_BACKEND", "tsdb.nowhere.NoTSDB", "TSDB_BACKEND 'tsdb.nowhere.NoTSDB' cannot be"),
    ("TSDB_BACKEND", "tsdb.base.TSDBModel", "is not a tsdb.base.BaseTSDB subclass"),
    ("TSDB_BACKEND", "RedisTSDB", "TSDB_BACKEND 'RedisTSDB' cannot be imported"),
    ("PUBLIC_URL", "ftp://stats.example.com", "PUBLIC_URL must be an http(s) URL"),
    ("PUBLIC_URL", "127.0.0.1:8000", "PUBLIC_URL must be an http(s) URL"),
    ("PUBLIC_URL", "http://", "PUBLIC_URL must be an http(s) URL with a host"),
    ("PUBLIC_URL", "http://127.0.0.1:eighty", "PUBLIC_URL must be an http(s) URL"),
    ("INGEST_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local", "'proxy.local' is not an IP address"),
    ("INGEST_CONFIG_CACHE_TTL", "60", "INGEST_CONFIG_CACHE_TTL must be between 0 and 10"),
    ("ACCESS_CACHE_TTL", "60", "ACCESS_CACHE_TTL must be between 0 and 10"),
    ("ACCESS_CACHE_TTL", "5s", "ACCESS_CACHE_TTL must be an integer"),
    ("INGEST_MAX_EVENT_BYTES", "1MB", "INGEST_MAX_EVENT_BYTES must be an integer"),
    ("LOG_LEVEL", "loud", "LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL"),
]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    BAD_VALUES,
    ids=[f"{variable}={value}" for variable, value, _ in BAD_VALUES],
)
def test_a_bad_value_fails_at_startup_naming_the_variable(
    variable: str, value: str, message: str
) -> None:
    # Everything else is valid, so the bad value is the only reason to refuse.
    variables = {"DEBUG": "False", "SECRET_KEY": "a-real-secret", "STATSAPI_EMBEDDED": "True"}
    variables[variable] = value

    error = startup_error(start_app(**variables))

    assert message in error, error
    assert variable in error


def test_a_refused_redis_url_never_shows_its_password() -> None:
    for url in ("http://:hunter2@127.0.0.1:6379/0", "redis://:hunter2@127.0.0.1:6379/zero"):
        result = start_app(DEBUG="True", REDIS_URL=url)

        assert "REDIS_URL" in startup_error(result)
        assert "hunter2" not in result.stderr


# --- DATABASE_URL -------------------------------------------------------------------------------


def test_it_uses_the_postgres_database_of_database_url() -> None:
    shown = show_settings(DATABASE_URL="postgres://stats:secret@db.internal:6432/statsapi_prod")

    assert shown["database"] == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "statsapi_prod",
        "HOST": "db.internal",
        "PORT": 6432,
        "USER": "stats",
    }


def test_it_defaults_to_a_sqlite_file_under_var() -> None:
    database = show_settings()["database"]

    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(ROOT / "var" / "statsapi.sqlite3")


def test_an_empty_database_url_means_the_default() -> None:
    database = show_settings(DATABASE_URL="")["database"]

    assert database["NAME"] == str(ROOT / "var" / "statsapi.sqlite3")


def test_it_reads_allowed_hosts_as_a_comma_separated_list() -> None:
    shown = show_settings(ALLOWED_HOSTS="stats.example.com, 10.0.0.5 ,,")

    assert shown["allowed_hosts"] == ["stats.example.com", "10.0.0.5"]


# --- REDIS_URL and TSDB_BACKEND -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "backend"),
    [
        pytest.param({}, "InMemoryTSDB", id="no REDIS_URL: in-memory"),
        pytest.param({"REDIS_URL": TEST_REDIS_URL}, "RedisTSDB", id="REDIS_URL: Redis"),
        pytest.param(
            {"REDIS_URL": TEST_REDIS_URL, "TSDB_BACKEND": "tsdb.inmemory.InMemoryTSDB"},
            "InMemoryTSDB",
            id="TSDB_BACKEND over REDIS_URL",
        ),
        pytest.param(
            {"REDIS_URL": TEST_REDIS_URL, "TSDB_BACKEND": "tsdb.dummy.DummyTSDB"},
            "DummyTSDB",
            id="TSDB_BACKEND dummy",
        ),
        pytest.param(
            {"TSDB_BACKEND": "tsdb.redis.RedisTSDB"}, "RedisTSDB", id="TSDB_BACKEND over no URL"
        ),
    ],
)
def test_redis_url_chooses_the_default_backend_and_tsdb_backend_overrides_it(
    variables: dict[str, str], backend: str
) -> None:
    assert show_settings(**variables)["backend"] == backend


def with_database(url: str, number: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{number}"))


@pytest.fixture
def db3_prefix() -> Iterator[str]:
    """A unique TSDB prefix; its keys are deleted from databases 0 and 3 afterwards (Redis is
    shared: nothing else is touched)."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:ts:"
    yield prefix
    for number in (0, 3):
        client = redis.Redis.from_url(with_database(TEST_REDIS_URL, number))
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def test_it_writes_counts_to_the_database_number_of_redis_url(
    settings: Any, db3_prefix: str
) -> None:
    db3_url = with_database(TEST_REDIS_URL, 3)
    write = (
        "import django; django.setup()\n"
        "import tsdb\n"
        "from tsdb.base import TSDBModel\n"
        "tsdb.backend.incr(TSDBModel.project, 4242, count=7)\n"
        "print(type(tsdb.get_backend()).__name__)\n"
    )

    result = run_python(write, REDIS_URL=db3_url, TSDB_PREFIX=db3_prefix)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "RedisTSDB"
    db0 = redis.Redis.from_url(with_database(TEST_REDIS_URL, 0))
    db3 = redis.Redis.from_url(db3_url)
    try:
        assert list(db3.scan_iter(match=f"{db3_prefix}*")), "nothing was written to db 3"
        assert not list(db0.scan_iter(match=f"{db3_prefix}*")), "the count went to db 0"
    finally:
        db0.close()
        db3.close()
    # Read back through the same backend class, pointed at db 3.
    now = datetime.now(UTC)
    settings.TSDB_BACKEND = "tsdb.redis.RedisTSDB"
    settings.TSDB_OPTIONS = {"url": db3_url, "prefix": db3_prefix}
    assert tsdb.backend.get_sums(TSDBModel.project, [4242], now - HOUR, now + HOUR)[4242] == 7


# --- .env.example -------------------------------------------------------------------------------


def variables_read(path: str) -> set[str]:
    """Names passed to os.environ.get / os.environ[...] / env_bool and friends in a file."""
    source = (ROOT / path).read_text()
    pattern = r"""(?:env_\w+\(|os\.environ\.get\(|os\.environ\[|in os\.environ)\s*"([A-Z_]+)\""""
    reversed_pattern = r""""([A-Z_]+)" (?:not )?in os\.environ"""
    return set(re.findall(pattern, source)) | set(re.findall(reversed_pattern, source))


def test_env_example_lists_every_variable_the_server_reads() -> None:
    read = (
        variables_read("statsapi/settings.py")
        | variables_read("statsapi/gunicorn_embedded.py")
        | variables_read("statsapi/gunicorn_hooks.py")
    )
    read.discard("PYTEST_VERSION")
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))

    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "STATSAPI_BIND"} <= read
    assert read - listed == set(), "missing from .env.example"
    assert listed - read == set(), "listed in .env.example but never read"


# --- docker-compose.yml and Dockerfile ----------------------------------------------------------


@pytest.fixture(scope="module")
def compose_config() -> dict[str, Any]:
    return parsed_compose_config()


def test_docker_compose_accepts_the_compose_file() -> None:
    result = compose("config", "-q")

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_docker_compose_refuses_to_start_without_a_secret_key() -> None:
    result = compose("config", "-q", SECRET_KEY="")

    assert result.returncode != 0
    assert "Set SECRET_KEY to a long random string" in result.stderr


@pytest.mark.parametrize("service", ["postgres", "redis", "web", "proxy"])
def test_the_compose_services_have_health_checks(
    compose_config: dict[str, Any], service: str
) -> None:
    healthcheck = compose_config["services"][service]["healthcheck"]

    assert healthcheck["test"], healthcheck


@pytest.mark.parametrize("service", ["web", "tests"])
def test_the_app_services_wait_for_healthy_postgres_and_redis(
    compose_config: dict[str, Any], service: str
) -> None:
    config = compose_config["services"][service]

    assert config["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    environment = config["environment"]
    assert urlsplit(environment["DATABASE_URL"]).hostname == "postgres"
    assert urlsplit(environment["REDIS_URL"]).hostname == "redis"
    assert environment["SECRET_KEY"]


def test_web_migrates_then_runs_gunicorn_behind_the_proxy(compose_config: dict[str, Any]) -> None:
    web = compose_config["services"]["web"]

    assert "command" not in web
    command = " ".join(dockerfile_cmd(web["build"]["target"]))
    assert (
        "python manage.py migrate --noinput && exec gunicorn statsapi.wsgi:application" in command
    )
    # Only the proxy publishes a port, on loopback; web is reached through it.
    assert "ports" not in web
    assert web["expose"] == ["8000"]
    assert compose_config["services"]["proxy"]["ports"] == ["127.0.0.1:8000:80/tcp"]


def test_the_tests_service_runs_the_readme_test_command(compose_config: dict[str, Any]) -> None:
    tests = compose_config["services"]["tests"]

    assert "make test   #" in (ROOT / "README.md").read_text()
    assert tests["command"] == ["make", "test"]
    assert dockerfile_cmd(tests["build"]["target"]) == ["make", "test"]


def dockerfile_cmd(target: str) -> list[str]:
    """The CMD of a Dockerfile stage (`FROM ... AS target`)."""
    stages: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("FROM "):
            lines = stages.setdefault(line.split()[-1], [])
        lines.append(line)
    cmd = [line for line in stages.get(target, []) if line.startswith("CMD ")]
    assert cmd, f"the Dockerfile has no stage {target!r} with a CMD"
    return list(json.loads(cmd[-1].removeprefix("CMD ")))


def test_make_test_installs_nothing_into_a_prepared_venv_elsewhere(tmp_path: Path) -> None:
    """The Docker `tests` image: VENV=/opt/venv with its stamps touched after the install, and
    an unprivileged user who could not pip install into it."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    for made in ("bin/python", ".runtime-installed", ".dev-installed"):
        (venv / made).touch()

    result = subprocess.run(
        ["make", "-n", "test"],
        cwd=ROOT,
        env={**environment(), "VENV": str(venv)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "pip install" not in result.stdout
    assert f"{venv}/bin/pytest" in result.stdout.splitlines()
