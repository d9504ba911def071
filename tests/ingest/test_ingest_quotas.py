"""Quotas per DSN key, then per organization: fixed epoch-aligned windows, refused events use
no quota, 429 with whole-second Retry-After and X-Sentry-Rate-Limits, atomic across processes."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from django.test import Client
from ingest_helpers import (
    QUOTA_WINDOW,
    Packet,
    auth_headers,
    event_envelope,
    fresh_window,
    gunicorn_server,
    http_post,
    make_key,
    outcome_totals,
    post_envelope,
    post_store,
    quota_counter,
    same_everywhere,
    totals,
)
from redis.cluster import RedisCluster
from redis_cluster import RedisClusterNodes, running_redis

from ingest import projectconfig
from organizations.models import Organization, ProjectKey


def limited_key(count: int, window: int = QUOTA_WINDOW) -> ProjectKey:
    return make_key(rate_limit_count=count, rate_limit_window=window)


def seconds_left(window: int) -> int:
    now = time.time()
    return max(1, math.ceil((now // window + 1) * window - now))


def test_a_key_limit_refuses_events_past_it(client: Client, db: None) -> None:
    key = limited_key(3)
    statuses = [post_envelope(client, key, event_envelope()).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert totals(key) == same_everywhere(5, 2, 0)
    assert outcome_totals(key) == {
        ("error", "accepted", None): 3,
        ("error", "rate_limited", "key_quota"): 2,
    }


def test_a_refusal_says_when_to_retry_in_whole_seconds(client: Client, db: None) -> None:
    key = limited_key(0, window=60)
    fresh_window(60)
    response = post_envelope(client, key, event_envelope())
    assert response.status_code == 429, response.content
    assert response.json() == {"detail": "Event dropped due to rate limiting"}
    retry_after = response["Retry-After"]
    assert retry_after.isdigit()
    assert abs(int(retry_after) - seconds_left(60)) <= 1
    assert 1 <= int(retry_after) <= 60
    assert response["X-Sentry-Rate-Limits"] == f"{retry_after}:error;default;security:key:key_quota"
    assert response["Access-Control-Expose-Headers"] == "X-Sentry-Rate-Limits, Retry-After"


def test_the_store_endpoint_is_limited_too(client: Client, db: None) -> None:
    key = limited_key(1)
    assert post_store(client, key, {"message": "a"}).status_code == 200
    assert post_store(client, key, {"message": "b"}).status_code == 429
    assert totals(key) == same_everywhere(2, 1, 0)


def test_refused_events_do_not_use_quota(client: Client, db: None) -> None:
    key = limited_key(2)
    for _ in range(6):
        post_envelope(client, key, event_envelope())
    ProjectKey.objects.filter(pk=key.pk).update(rate_limit_count=3)
    projectconfig.clear_cache()
    statuses = [post_envelope(client, key, event_envelope()).status_code for _ in range(2)]
    assert statuses == [200, 429]
    assert totals(key) == same_everywhere(8, 5, 0)


def test_only_error_events_use_quota(client: Client, db: None) -> None:
    key = limited_key(1)
    transaction = b'{}\n{"type":"transaction"}\n{"type":"transaction"}\n'
    session = b'{}\n{"type":"session"}\n{"started":"2020-02-07T14:16:00Z"}\n'
    crawler = {"message": "m", "request": {"headers": {"User-Agent": "Googlebot/2.1"}}}
    for body in (transaction, session, event_envelope(crawler), transaction):
        assert post_envelope(client, key, body).status_code == 200
    assert post_envelope(client, key, event_envelope()).status_code == 200
    assert post_envelope(client, key, event_envelope()).status_code == 429
    assert post_envelope(client, key, transaction).status_code == 200
    assert totals(key) == same_everywhere(3, 1, 1)


def test_a_refused_envelope_still_processes_its_other_items(client: Client, db: None) -> None:
    key = limited_key(0)
    body = (
        event_envelope()
        + b'{"type":"client_report"}\n'
        + b'{"discarded_events":[{"reason":"queue_overflow","category":"error","quantity":4}]}\n'
        + b'{"type":"session"}\n{"started":"2020-02-07T14:16:00Z"}\n'
    )
    response = post_envelope(client, key, body)
    assert response.status_code == 429, response.content
    assert totals(key) == same_everywhere(1, 1, 0)
    assert outcome_totals(key) == {
        ("error", "rate_limited", "key_quota"): 1,
        ("error", "client_discard", "queue_overflow"): 4,
        ("session", "accepted", None): 1,
    }


def test_an_organization_limit_spans_its_projects(client: Client, db: None) -> None:
    first = make_key()
    organization = first.project.organization
    Organization.objects.filter(pk=organization.pk).update(
        rate_limit_count=2, rate_limit_window=QUOTA_WINDOW
    )
    second_project = organization.projects.create(slug="second", name="Second")
    second = ProjectKey.objects.create(project=second_project)
    projectconfig.clear_cache()
    assert post_envelope(client, first, event_envelope()).status_code == 200
    assert post_envelope(client, second, event_envelope()).status_code == 200
    response = post_envelope(client, second, event_envelope())
    assert response.status_code == 429, response.content
    seconds = response["Retry-After"]
    assert response["X-Sentry-Rate-Limits"] == (
        f"{seconds}:error;default;security:organization:org_quota"
    )
    assert totals(second)["organization"] == (3, 1, 0)
    assert totals(second)["project"] == (2, 1, 0)
    assert outcome_totals(second) == {
        ("error", "accepted", None): 1,
        ("error", "rate_limited", "org_quota"): 1,
    }


def test_the_key_limit_is_checked_first_and_its_refusals_leave_the_org_quota(
    client: Client, db: None
) -> None:
    limited = limited_key(1)
    organization = limited.project.organization
    Organization.objects.filter(pk=organization.pk).update(
        rate_limit_count=2, rate_limit_window=QUOTA_WINDOW
    )
    free = ProjectKey.objects.create(project=limited.project)
    projectconfig.clear_cache()
    assert post_envelope(client, limited, event_envelope()).status_code == 200
    for _ in range(3):
        response = post_envelope(client, limited, event_envelope())
        assert response["X-Sentry-Rate-Limits"].endswith(":key:key_quota")
    # The organization still has one event left: the key's refusals took none of it.
    assert post_envelope(client, free, event_envelope()).status_code == 200
    response = post_envelope(client, free, event_envelope())
    assert response["X-Sentry-Rate-Limits"].endswith(":organization:org_quota")
    assert totals(free)["organization"] == (6, 4, 0)


def test_the_in_memory_store_has_the_same_semantics(
    client: Client, db: None, settings: Any
) -> None:
    settings.REDIS_URL = ""
    settings.TSDB_BACKEND = "tsdb.inmemory.InMemoryTSDB"
    settings.TSDB_OPTIONS = {}
    key = limited_key(2)
    statuses = [post_envelope(client, key, event_envelope()).status_code for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    assert totals(key) == same_everywhere(4, 2, 0)


def test_admin_changes_reach_every_process_within_the_cache_ttl(
    client: Client, db: None, settings: Any
) -> None:
    settings.INGEST_CONFIG_CACHE_TTL = 1
    key = make_key()
    assert post_envelope(client, key, event_envelope()).status_code == 200
    # An update another process made (no signal reaches this one): stale for at most the TTL.
    ProjectKey.objects.filter(pk=key.pk).update(is_active=False)
    time.sleep(1.1)
    response = post_envelope(client, key, event_envelope())
    assert response.status_code == 401, response.content
    ProjectKey.objects.filter(pk=key.pk).update(
        is_active=True, rate_limit_count=0, rate_limit_window=60
    )
    time.sleep(1.1)
    assert post_envelope(client, key, event_envelope()).status_code == 429


def test_quotas_are_exact_across_processes_and_threads(
    transactional_db: None, redis_prefix: str, deployment: str
) -> None:
    key = limited_key(100)
    statuses: list[int] = []
    lock = threading.Lock()
    path = f"/api/{key.project_id}/envelope/"
    headers = {"X-Sentry-Auth": auth_headers(key)["HTTP_X_SENTRY_AUTH"]}

    with gunicorn_server(redis_prefix) as base_url:

        def sender() -> None:
            for _ in range(40):
                status, _, _ = http_post(base_url, path, event_envelope(), headers)
                with lock:
                    statuses.append(status)

        threads = [threading.Thread(target=sender) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses.count(200) == 100
    assert statuses.count(429) == 220
    assert totals(key) == same_everywhere(320, 220, 0)


@pytest.mark.parametrize("quota_redis", ["redis", "cluster"])
def test_a_redis_that_lost_the_quota_script_is_sent_it_once_and_counts_exactly(
    client: Client,
    db: None,
    settings: Any,
    request: pytest.FixtureRequest,
    round_trips: list[Packet],
    quota_redis: str,
) -> None:
    # Quotas on a Redis private to the run (its script cache may be flushed); the TSDB stays on
    # the shared Redis, so every packet sent to the quota servers is the store's.
    tsdb_on_shared_redis = dict(settings.TSDB_OPTIONS)
    with contextlib.ExitStack() as stack:
        reader: Any
        if quota_redis == "cluster":
            nodes: RedisClusterNodes = request.getfixturevalue("on_cluster")
            settings.TSDB_OPTIONS = tsdb_on_shared_redis
            ports = set(nodes.ports)
            servers = [nodes.node_client(port) for port in nodes.ports]
            reader = RedisCluster.from_url(nodes.url, decode_responses=True)
        else:
            settings.REDIS_URL = stack.enter_context(running_redis())
            ports = {urlsplit(settings.REDIS_URL).port}
            reader = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
            servers = [reader]
        for server in {*servers, reader}:
            stack.callback(server.close)
        key = make_key(rate_limit_count=2, rate_limit_window=QUOTA_WINDOW)
        assert post_envelope(client, key, event_envelope()).status_code == 200
        for server in servers:
            server.script_flush()  # as after a restart

        round_trips.clear()
        assert post_envelope(client, key, event_envelope()).status_code == 200
        sent = [packet.data for packet in round_trips if packet.port in ports]
        # EVALSHA refused with NOSCRIPT (nothing taken), then the script itself once.
        assert len(sent) == 2, sent
        assert b"EVALSHA" in sent[0]
        assert b"redis.call" not in sent[0]
        assert b"redis.call" in sent[1]

        round_trips.clear()
        assert post_envelope(client, key, event_envelope()).status_code == 429
        sent = [packet.data for packet in round_trips if packet.port in ports]
        assert len(sent) == 1, sent
        assert b"redis.call" not in sent[0]
        assert reader.get(quota_counter(key)) == "2"
    assert totals(key) == same_everywhere(3, 1, 0)
