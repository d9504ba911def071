"""/_health/: liveness without dependencies, readiness (?full) checking the database, the TSDB
and the configured Redis's settings (more of those in tests/test_deploy.py)."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_it_answers_liveness_without_touching_redis(client: Client, settings) -> None:
    settings.TSDB_OPTIONS = {"url": "redis://127.0.0.1:1/0", "prefix": "unused:"}

    response = client.get("/_health/")

    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_it_reports_ready_when_database_and_tsdb_answer(client: Client) -> None:
    response = client.get("/_health/?full")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "tsdb": "ok", "redis_config": "ok"}
    assert body["problems"] == []
    # What the shared test Redis persists is the machine's business: warnings, not failures
    # (tests/test_deploy.py checks them on Redis servers of its own).
    assert isinstance(body["warnings"], list)


def test_without_redis_there_is_no_redis_check(client: Client, settings) -> None:
    settings.TSDB_BACKEND = "tsdb.inmemory.InMemoryTSDB"
    settings.TSDB_OPTIONS = {}
    settings.REDIS_URL = ""

    response = client.get("/_health/?full")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "tsdb": "ok"},
        "problems": [],
        "warnings": [],
    }


def test_it_reports_not_ready_with_503_when_redis_is_down(client: Client, settings) -> None:
    settings.TSDB_OPTIONS = {"url": "redis://:secret@127.0.0.1:1/0", "prefix": "unused:"}

    response = client.get("/_health/?full")

    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "tsdb": "unavailable", "redis_config": "unknown"},
        "problems": ["tsdb unavailable"],
        "warnings": [],
    }
    assert b"secret" not in response.content


def test_it_refuses_writes(client: Client) -> None:
    assert client.post("/_health/").status_code == 405
    assert client.head("/_health/").status_code == 200
