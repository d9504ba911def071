"""API abuse limits: per token and per client address, counted in Redis (a per-test prefix),
429 with Retry-After and a JSON body; Redis unavailable lets requests through."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
import redis
from api_helpers import make_user_token
from django.test import Client

from organizations.models import Organization

pytestmark = pytest.mark.django_db

LIMIT_MESSAGE = re.compile(
    r"^You are attempting to use this endpoint too frequently\. Limit is (\d+) requests in "
    r"(\d+) seconds Expected available in (\d+) seconds?\.$"
)


def stats(client: Client, organization: Organization, token: str, **extra: Any) -> Any:
    return client.get(
        f"/api/0/organizations/{organization.slug}/stats/",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        **extra,
    )


def assert_throttled(response: Any, requests: int, seconds: int) -> None:
    assert response.status_code == 429, response.content
    assert response["Content-Type"] == "application/json"
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= seconds
    match = LIMIT_MESSAGE.match(response.json()["detail"])
    assert match, response.json()
    assert (int(match[1]), int(match[2])) == (requests, seconds)
    assert int(match[3]) == retry_after


def test_a_token_over_its_limit_gets_429_and_other_tokens_do_not(
    client: Client, settings: Any, organization: Organization, owner: Any
) -> None:
    settings.API_RATE_LIMIT_TOKEN = (3, 60)
    settings.API_RATE_LIMIT_ADDRESS = None
    busy, quiet = make_user_token(owner), make_user_token(owner)

    answers = [stats(client, organization, busy).status_code for _ in range(3)]
    refused = stats(client, organization, busy)
    other = stats(client, organization, quiet)

    assert answers == [200, 200, 200]
    assert_throttled(refused, 3, 60)
    assert other.status_code == 200


def test_an_address_over_its_limit_gets_429_whatever_the_token(
    client: Client, settings: Any, organization: Organization, owner: Any
) -> None:
    settings.API_RATE_LIMIT_TOKEN = None
    settings.API_RATE_LIMIT_ADDRESS = (2, 10)
    here = {"REMOTE_ADDR": "192.0.2.7"}

    first = stats(client, organization, make_user_token(owner), **here)
    second = client.get("/api/0/", **here)  # anonymous requests count too
    refused = stats(client, organization, make_user_token(owner), **here)
    elsewhere = stats(client, organization, make_user_token(owner), REMOTE_ADDR="192.0.2.8")

    assert [first.status_code, second.status_code] == [200, 200]
    assert_throttled(refused, 2, 10)
    assert elsewhere.status_code == 200


def test_the_address_behind_a_trusted_proxy_is_the_forwarded_one(
    client: Client, settings: Any, organization: Organization, owner: Any
) -> None:
    settings.API_RATE_LIMIT_TOKEN = None
    settings.API_RATE_LIMIT_ADDRESS = (1, 60)
    settings.INGEST_TRUSTED_PROXIES = ["10.0.0.0/8"]
    token = make_user_token(owner)

    def via_proxy(address: str) -> int:
        response = stats(
            client, organization, token, REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR=address
        )
        return int(response.status_code)

    assert [via_proxy("198.51.100.1"), via_proxy("198.51.100.2")] == [200, 200]
    assert via_proxy("198.51.100.1") == 429


def test_the_counters_are_in_redis_under_the_quota_prefix_and_expire(
    client: Client,
    settings: Any,
    organization: Organization,
    owner: Any,
    redis_client: redis.Redis,
    redis_prefix: str,
) -> None:
    """Shared by every worker process: a count in Redis, gone after its window."""
    settings.API_RATE_LIMIT_TOKEN = (100, 60)
    settings.API_RATE_LIMIT_ADDRESS = (100, 30)
    token = make_user_token(owner)

    for _ in range(2):
        stats(client, organization, token)

    keys = sorted(key.decode() for key in redis_client.keys(f"{redis_prefix}quota:api:*"))
    assert len(keys) == 2, keys
    assert keys[0].startswith(f"{redis_prefix}quota:api:a:127.0.0.1:30:")
    assert keys[1].startswith(f"{redis_prefix}quota:api:t:u")
    for key in keys:
        assert redis_client.get(key) == b"2"
        assert 0 < redis_client.ttl(key) <= 61


def test_requests_pass_unthrottled_while_redis_is_down(
    client: Client,
    settings: Any,
    organization: Organization,
    owner: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.API_RATE_LIMIT_TOKEN = (1, 60)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    token = make_user_token(owner)

    with caplog.at_level(logging.WARNING, logger="statsapi.throttling"):
        answers = [
            client.get(
                f"/api/0/organizations/{organization.slug}/", HTTP_AUTHORIZATION=f"Bearer {token}"
            )
            for _ in range(3)
        ]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    warnings = [r for r in caplog.records if "API rate limits not applied" in r.getMessage()]
    assert len(warnings) == 1  # then Redis is left alone for a few seconds


def test_the_embedded_server_counts_in_its_process(
    client: Client, settings: Any, organization: Organization, owner: Any
) -> None:
    settings.REDIS_URL = ""
    settings.API_RATE_LIMIT_TOKEN = (1, 60)
    token = make_user_token(owner)

    assert stats(client, organization, token).status_code == 200
    assert_throttled(stats(client, organization, token), 1, 60)


def test_limits_off_never_throttle(
    client: Client, settings: Any, organization: Organization, owner: Any
) -> None:
    settings.API_RATE_LIMIT_TOKEN = None
    settings.API_RATE_LIMIT_ADDRESS = None
    token = make_user_token(owner)

    assert {stats(client, organization, token).status_code for _ in range(5)} == {200}
