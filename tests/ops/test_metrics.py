"""/metrics in this process (no multiprocess directory): who may read it, and that each family
moves when the thing it counts happens. The two-worker sum is tested through gunicorn
(test_gunicorn_observability.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from ingest import projectconfig
from organizations.services import DemoSeed, demo_seed

CLOSED = "redis://127.0.0.1:1/0"


@pytest.fixture
def seed(db: None) -> DemoSeed:
    return demo_seed(slug="metrics", username="metrics")


def scrape(client: Client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def value(text: str, name: str, **labels: str) -> float:
    """The sample ``name{labels}`` (labels in any order), 0 when absent."""
    for match in re.finditer(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", text, re.M):
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if found == labels:
            return float(match.group(2))
    return 0.0


def store(client: Client, seed: DemoSeed) -> Any:
    return client.post(
        f"/api/{seed.project.pk}/store/?sentry_key={seed.key.public_key}",
        data=b'{"message": "hello"}',
        content_type="application/json",
    )


def test_loopback_reads_metrics_and_others_need_the_token(
    client: Client, db: None, settings: Any
) -> None:
    assert client.get("/metrics").status_code == 200
    far = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert far.status_code == 403
    assert "METRICS_TOKEN" in far.json()["detail"]

    settings.METRICS_TOKEN = "m" * 40
    assert (
        client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer nope")
    ).status_code == 403
    allowed = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {'m' * 40}"
    )
    assert allowed.status_code == 200
    assert b"statsapi_http_requests_total" in allowed.content

    settings.METRICS_ALLOWED_IPS = ["203.0.113.0/24"]
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 200
    assert client.get("/metrics").status_code == 403  # loopback is no longer listed


def test_requests_are_counted_by_route_name_and_status_with_latency(
    client: Client, seed: DemoSeed
) -> None:
    before = scrape(client)
    for slug in ("metrics", "metrics", "no-such-org"):
        client.get(f"/api/0/organizations/{slug}/", HTTP_AUTHORIZATION=f"Bearer {seed.plaintext}")
    client.get("/no/such/page/")
    client.get("/static/admin/css/base.css")
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"endpoint": "organization-details", "method": "GET"}
    assert delta("statsapi_http_requests_total", **route, status="200") == 2
    assert delta("statsapi_http_requests_total", **route, status="404") == 1
    assert (
        delta("statsapi_http_requests_total", endpoint="unmatched", method="GET", status="404") == 1
    )
    assert delta("statsapi_http_requests_total", endpoint="static", method="GET", status="200") == 1
    assert (
        delta("statsapi_http_request_duration_seconds_count", endpoint="organization-details") == 3
    )
    assert delta("statsapi_http_request_duration_seconds_sum", endpoint="organization-details") > 0
    # the raw path (and its slug) is never a label
    assert "no-such-org" not in after


def test_ingest_outcomes_quota_refusals_and_cache_hits_are_counted(
    client: Client, seed: DemoSeed
) -> None:
    projectconfig.clear_cache()
    before = scrape(client)
    assert store(client, seed).status_code == 200
    assert store(client, seed).status_code == 200
    seed.key.rate_limit_count, seed.key.rate_limit_window = 0, 60
    seed.key.save()  # clears this process's key cache
    assert store(client, seed).status_code == 429
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    outcomes = "statsapi_ingest_outcomes_total"
    assert delta(outcomes, outcome="accepted", category="error", reason="") == 2
    assert delta(outcomes, outcome="rate_limited", category="error", reason="key_quota") == 1
    assert delta("statsapi_quota_refusals_total", scope="key") == 1
    cache = "statsapi_cache_requests_total"
    assert delta(cache, cache="ingest_project_config", result="miss") == 2
    assert delta(cache, cache="ingest_project_config", result="hit") == 1


def test_outages_are_counted_by_the_part_that_failed(
    client: Client, seed: DemoSeed, settings: Any
) -> None:
    before = scrape(client)
    settings.REDIS_URL = CLOSED
    settings.TSDB_OPTIONS = {**settings.TSDB_OPTIONS, "url": CLOSED}
    assert store(client, seed).status_code == 503
    response = client.get(
        "/api/0/organizations/metrics/stats/", HTTP_AUTHORIZATION=f"Bearer {seed.plaintext}"
    )
    assert response.status_code == 503
    after = scrape(client)
    assert (
        value(after, "statsapi_tsdb_errors_total") - value(before, "statsapi_tsdb_errors_total")
        == 2
    )
    assert value(after, "statsapi_database_errors_total") == value(
        before, "statsapi_database_errors_total"
    )
