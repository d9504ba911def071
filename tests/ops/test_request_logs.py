"""The one log line per request (statsapi.logs): what it holds, what it never holds, JSON with
LOG_FORMAT=json, and one line per failure during an outage."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from organizations.services import DemoSeed, demo_seed
from statsapi.logs import SECRET_QUERY_PARAMS, scrub_query, scrub_url

CLOSED = "redis://127.0.0.1:1/0"
QUERY_SECRET = "sntryu_" + "q" * 64
HEADER_SECRET = "sntryu_" + "h" * 64


@pytest.fixture
def seed(db: None) -> DemoSeed:
    return demo_seed(slug="logs", username="logs")


def json_formatter() -> logging.Formatter:
    """The formatter LOG_FORMAT=json configures, built from the settings' own definition."""
    spec = dict(settings.LOGGING["formatters"]["json"])
    factory = spec.pop("()")
    module, _, name = factory.rpartition(".")
    formatter: logging.Formatter = getattr(__import__(module, fromlist=[name]), name)(**spec)
    return formatter


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "statsapi.request"]


# -- scrubbing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SECRET_QUERY_PARAMS))
def test_every_secret_parameter_is_filtered_and_the_rest_kept(name: str) -> None:
    assert scrub_query(f"stat=received&{name}=s3cret&since=5") == (
        f"stat=received&{name}=[Filtered]&since=5"
    )


def test_names_match_whatever_their_case_or_encoding() -> None:
    assert scrub_query("TOKEN=a&Sentry_Key=b&sentry%5Fsecret=c&access_token=d&auth_token") == (
        "TOKEN=[Filtered]&Sentry_Key=[Filtered]&sentry%5Fsecret=[Filtered]"
        "&access_token=[Filtered]&auth_token"
    )
    assert scrub_query("tokens=kept&x=token") == "tokens=kept&x=token"


def test_urls_keep_their_path_and_fragment() -> None:
    assert scrub_url("/api/1/store/?sentry_key=abc&sentry_version=7#top") == (
        "/api/1/store/?sentry_key=[Filtered]&sentry_version=7#top"
    )
    assert scrub_url("/api/0/") == "/api/0/"


# -- the request line ------------------------------------------------------------------------------


def test_a_request_line_has_method_path_status_duration_and_organization(
    client: Client, seed: DemoSeed, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    url = f"/api/0/projects/logs/{seed.project.slug}/stats/"
    response = client.get(
        url,
        {"stat": "received", "token": QUERY_SECRET},
        HTTP_AUTHORIZATION=f"Bearer {seed.plaintext}",
    )
    assert response.status_code == 200, response.content

    [line] = request_lines(caplog)
    assert line.getMessage().startswith(f"GET {url}?stat=received&token=[Filtered] 200 "), (
        line.getMessage()
    )
    assert line.organization == "logs"  # type: ignore[attr-defined]
    assert line.project == seed.project.slug  # type: ignore[attr-defined]
    assert line.status == 200  # type: ignore[attr-defined]
    assert 0 < line.duration_ms < 60_000  # type: ignore[attr-defined]
    assert QUERY_SECRET not in caplog.text
    assert seed.plaintext not in caplog.text


def test_json_lines_carry_the_fields_and_no_token(
    client: Client, seed: DemoSeed, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = client.get(
        "/api/0/organizations/logs/stats/",
        {"access_token": QUERY_SECRET},
        HTTP_AUTHORIZATION=f"Bearer {HEADER_SECRET}",
    )
    assert response.status_code == 401

    formatter = json_formatter()
    rendered = [formatter.format(record) for record in caplog.records]
    assert all(QUERY_SECRET not in line and HEADER_SECRET not in line for line in rendered)
    [line] = [json.loads(text) for text in rendered if '"statsapi.request"' in text]
    assert line["method"] == "GET"
    assert line["path"] == "/api/0/organizations/logs/stats/?access_token=[Filtered]"
    assert line["status"] == 401
    assert line["organization"] == "logs"
    assert line["level"] == "INFO"
    assert isinstance(line["duration_ms"], float)


def test_ingest_lines_name_the_project_and_hide_the_dsn_key_and_secret(
    client: Client, seed: DemoSeed, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    key = seed.key
    response = client.post(
        f"/api/{seed.project.pk}/store/?sentry_version=7&sentry_key={key.public_key}"
        f"&sentry_secret={key.secret_key}",
        data=b'{"message": "hello"}',
        content_type="application/json",
    )
    assert response.status_code == 200, response.content

    [line] = request_lines(caplog)
    assert line.project == str(seed.project.pk)  # type: ignore[attr-defined]
    assert key.public_key not in caplog.text
    assert key.secret_key not in caplog.text
    assert "sentry_key=[Filtered]&sentry_secret=[Filtered]" in line.getMessage()


def test_the_admin_login_logs_neither_password_nor_session(
    client: Client, db: None, caplog: pytest.LogCaptureFixture, django_user_model: Any
) -> None:
    django_user_model.objects.create_superuser("root", "root@example.com", "pw-" + "z" * 20)
    caplog.set_level(logging.DEBUG)
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "root", "password": "pw-" + "z" * 20}
    )
    assert response.status_code == 302
    client.get("/admin/")
    assert "pw-" + "z" * 20 not in caplog.text
    assert client.cookies["sessionid"].value not in caplog.text
    assert [record.getMessage().split()[:3] for record in request_lines(caplog)] == [
        ["POST", "/admin/login/?next=/admin/", "302"],
        ["GET", "/admin/", "200"],
    ]


# -- outages: one line per failure ---------------------------------------------------------------


def test_a_tsdb_outage_is_one_line_per_failed_request(
    client: Client, seed: DemoSeed, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.TSDB_OPTIONS = {"url": CLOSED, "prefix": "unreachable:"}
    caplog.set_level(logging.INFO)
    for _ in range(2):
        response = client.get(
            "/api/0/organizations/logs/stats/", HTTP_AUTHORIZATION=f"Bearer {seed.plaintext}"
        )
        assert response.status_code == 503

    assert len(caplog.records) == 2, caplog.text
    for record in caplog.records:
        assert record.name == "statsapi.request"
        assert record.levelno == logging.WARNING
        assert record.exc_info is None
        assert record.error.startswith("tsdb unavailable: ")  # type: ignore[attr-defined]
        assert "\n" not in record.getMessage()


def test_an_ingest_outage_is_one_line_per_failed_request(
    client: Client, seed: DemoSeed, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.REDIS_URL = CLOSED
    settings.TSDB_OPTIONS = {**settings.TSDB_OPTIONS, "url": CLOSED}
    caplog.set_level(logging.INFO)
    response = client.post(
        f"/api/{seed.project.pk}/store/?sentry_key={seed.key.public_key}",
        data=b'{"message": "hello"}',
        content_type="application/json",
    )
    assert response.status_code == 503

    [record] = caplog.records
    assert record.name == "statsapi.request"
    assert record.exc_info is None
    assert record.error.startswith("tsdb unavailable: ")  # type: ignore[attr-defined]


def test_a_database_outage_of_ingest_is_one_line_without_a_traceback(
    client: Client, transactional_db: None, caplog: pytest.LogCaptureFixture
) -> None:
    seed = demo_seed(slug="dbdown", username="dbdown")
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = "1"
    caplog.set_level(logging.INFO)
    try:
        response = client.post(
            f"/api/{seed.project.pk}/store/?sentry_key={seed.key.public_key}",
            data=b'{"message": "hello"}',
            content_type="application/json",
        )
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port
    assert response.status_code == 503

    [record] = caplog.records
    assert record.error.startswith("database unavailable: ")  # type: ignore[attr-defined]
    assert "\n" not in record.getMessage()
