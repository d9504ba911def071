"""What counts, and where: legacy totals for error events only, the generated series at the
event's own time (Relay's rule), outcomes for every category, exact counts under load, the
fast path (no query, at most two Redis round trips) and Redis failures (503, never 200)."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from ingest_helpers import (
    QUOTA_WINDOW,
    Packet,
    auth_headers,
    event_envelope,
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

import tsdb
from ingest.outcomes import outcome_set_name
from ingest.selectors import outcome_combinations_get
from organizations.models import ProjectKey
from tsdb.base import TSDBModel


def generated_at(key: ProjectKey) -> dict[int, int]:
    """The project's generated series at 10 s resolution over the last hour and next minute,
    bucket -> count."""
    now = time.time()
    series = tsdb.backend.get_range(
        TSDBModel.project, [key.project_id], now - 3000, now + 60, rollup=10
    )[key.project_id]
    return {ts: count for ts, count in series if count}


def test_only_error_events_count_in_the_legacy_totals(client: Client, key: ProjectKey) -> None:
    body = b"".join(
        [
            b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n',
            b'{"type":"event"}\n{"message":"e"}\n',
            b'{"type":"security"}\n{"csp-report":{}}\n',
            b'{"type":"transaction"}\n{"type":"transaction"}\n',
            b'{"type":"attachment","length":3}\nabc\n',
            b'{"type":"session"}\n{}\n',
            b'{"type":"check_in"}\n{}\n',
            b'{"type":"profile"}\n{}\n',
            b'{"type":"replay_event"}\n{}\n',
            b'{"type":"span","item_count":3}\n{"items":[]}\n',
            b'{"type":"something_new"}\n{}\n',
        ]
    )
    response = post_envelope(client, key, body)
    assert response.status_code == 200, response.content
    assert totals(key) == same_everywhere(2)
    assert outcome_totals(key) == {
        ("error", "accepted", None): 1,
        ("security", "accepted", None): 1,
        ("transaction", "accepted", None): 1,
        ("attachment", "accepted", None): 3,
        ("session", "accepted", None): 1,
        ("monitor", "accepted", None): 1,
        ("profile", "accepted", None): 1,
        ("replay", "accepted", None): 1,
        ("span", "accepted", None): 3,
    }


def test_client_reports_are_never_received(client: Client, key: ProjectKey) -> None:
    report = {
        "timestamp": 1,
        "discarded_events": [
            {"reason": "sample_rate", "category": "transaction", "quantity": 7},
            {"reason": "bad:reason", "category": "error", "quantity": 1},
            {"reason": "network_error", "category": "error", "quantity": -1},
            "nonsense",
        ],
        "rate_limited_events": [
            {"reason": "ratelimit_backoff", "category": "error", "quantity": 2}
        ],
    }
    body = b'{}\n{"type":"client_report"}\n' + json.dumps(report).encode() + b"\n"
    response = post_envelope(client, key, body)
    assert response.status_code == 200, response.content
    broken = b'{}\n{"type":"client_report"}\n{not json\n'
    assert post_envelope(client, key, broken).status_code == 200
    assert totals(key) == same_everywhere(0)
    assert outcome_totals(key) == {
        ("transaction", "client_discard", "sample_rate"): 7,
        ("error", "rate_limited", "ratelimit_backoff"): 2,
    }


def test_the_generated_series_uses_the_event_timestamp(client: Client, key: ProjectKey) -> None:
    now = time.time()
    ten_minutes_ago = int(now) - 600
    iso = datetime.fromtimestamp(ten_minutes_ago, UTC).replace(tzinfo=None).isoformat()
    cases = [
        ten_minutes_ago,  # epoch seconds
        iso,  # ISO 8601 without a zone: UTC
        iso + "Z",
        now - 31 * 86_400,  # too old: receive time
        now + 3600,  # too far in the future: receive time
        "yesterday-ish",  # unparsable: receive time
        None,  # missing: receive time
    ]
    for timestamp in cases:
        event: dict[str, Any] = {"message": "m"}
        if timestamp is not None:
            event["timestamp"] = timestamp
        assert post_envelope(client, key, event_envelope(event)).status_code == 200
    series = generated_at(key)
    past = ten_minutes_ago // 10 * 10
    assert series[past] == 3
    assert sum(series.values()) == 7
    recent = {ts: n for ts, n in series.items() if ts != past}
    assert all(abs(ts - now) < 30 for ts in recent), recent


def test_protocol_5_timestamps_are_milliseconds(client: Client, key: ProjectKey) -> None:
    ten_minutes_ago = int(time.time()) - 600
    event = {"message": "m", "timestamp": ten_minutes_ago * 1000}
    response = post_store(client, key, event, **auth_headers(key, version=5))
    assert response.status_code == 200, response.content
    assert generated_at(key) == {ten_minutes_ago // 10 * 10: 1}


@pytest.mark.parametrize("version", [5, 7])
def test_a_timestamp_no_float_can_hold_uses_the_receive_time(
    client: Client, key: ProjectKey, version: int
) -> None:
    for timestamp in (10**400, -(10**400), 1e308, "9999-12-31T23:59:59-14:00", True, [1]):
        event = {"message": "m", "timestamp": timestamp}
        response = post_store(client, key, event, **auth_headers(key, version=version))
        assert response.status_code == 200, response.content
    now = time.time()
    assert sum(generated_at(key).values()) == 6
    assert all(abs(ts - now) < 30 for ts in generated_at(key)), generated_at(key)


def test_received_is_at_least_rejected_plus_blacklisted_in_every_bucket(
    client: Client, db: None
) -> None:
    key = make_key(rate_limit_count=2, rate_limit_window=QUOTA_WINDOW)
    crawler = {"request": {"headers": {"User-Agent": "Googlebot/2.1"}}}
    for event in [{}, crawler, {}, {}, crawler, {}]:
        post_envelope(client, key, event_envelope(event))
    now = time.time()
    for rollup in (10, 60, 3600):
        ranges = {
            stat: tsdb.backend.get_range(
                TSDBModel[f"organization_total_{stat}"],
                [key.project.organization_id],
                now - 7200,
                now + 60,
                rollup=rollup,
            )[key.project.organization_id]
            for stat in ("received", "rejected", "blacklisted")
        }
        for (_, received), (_, rejected), (_, blacklisted) in zip(
            ranges["received"], ranges["rejected"], ranges["blacklisted"], strict=True
        ):
            assert received >= rejected + blacklisted
        assert sum(n for _, n in ranges["received"]) == 6
    assert totals(key) == same_everywhere(6, 2, 2)


def test_outcome_combinations_are_enumerable_per_organization(
    client: Client, key: ProjectKey
) -> None:
    other_project_key = ProjectKey.objects.create(
        project=key.project.organization.projects.create(slug="other", name="Other")
    )
    post_envelope(client, key, event_envelope())
    post_envelope(client, key, event_envelope({"request": {"headers": {"User-Agent": "bingbot"}}}))
    post_envelope(client, other_project_key, b'{}\n{"type":"transaction"}\n{}\n')
    combos = {
        (c.project_id, c.category, c.outcome, c.reason)
        for c in outcome_combinations_get(organization_id=key.project.organization_id)
    }
    assert combos == {
        (key.project_id, "error", "accepted", None),
        (key.project_id, "error", "filtered", "web-crawlers"),
        (other_project_key.project_id, "transaction", "accepted", None),
    }
    assert outcome_combinations_get(organization_id=make_key().project.organization_id) == []


@pytest.mark.parametrize(
    ("rollups", "longest_retention"),
    [(((10, 6), (60, 60)), 3600), (((60, 10), (86_400, 400)), 400 * 86_400)],
)
def test_the_outcome_set_lives_a_day_past_the_longest_tsdb_retention(
    client: Client,
    key: ProjectKey,
    settings: Any,
    redis_client: Any,
    rollups: tuple[tuple[int, int], ...],
    longest_retention: int,
) -> None:
    settings.TSDB_ROLLUPS = rollups
    assert post_envelope(client, key, event_envelope()).status_code == 200
    ttl = redis_client.ttl(outcome_set_name(key.project.organization_id))
    assert longest_retention + 86_400 - 5 <= ttl <= longest_retention + 86_400


def test_a_malformed_event_records_an_invalid_outcome_and_no_total(
    client: Client, key: ProjectKey
) -> None:
    body = b'{}\n{"type":"session"}\n{}\n{"type":"event"}\n{not json}\n'
    response = post_envelope(client, key, body)
    assert response.status_code == 400, response.content
    assert totals(key) == same_everywhere(0)
    assert outcome_totals(key) == {
        ("session", "invalid", "invalid_json"): 1,
        ("error", "invalid", "invalid_json"): 1,
    }


def test_event_ids_are_not_deduplicated(client: Client, key: ProjectKey) -> None:
    body = event_envelope()
    for _ in range(3):
        assert post_envelope(client, key, body).status_code == 200
    assert totals(key) == same_everywhere(3)


def test_eight_threads_of_200_events_give_exactly_1600(
    transactional_db: None, key: ProjectKey, redis_prefix: str
) -> None:
    path = f"/api/{key.project_id}/envelope/"
    headers = {"X-Sentry-Auth": auth_headers(key)["HTTP_X_SENTRY_AUTH"]}
    failures: list[int] = []

    with gunicorn_server(redis_prefix) as base_url:

        def sender() -> None:
            for _ in range(200):
                status, _, _ = http_post(base_url, path, event_envelope(), headers)
                if status != 200:
                    failures.append(status)

        threads = [threading.Thread(target=sender) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    assert totals(key) == same_everywhere(1600)


# -- the fast path ------------------------------------------------------------------------------


def test_a_warm_request_makes_no_query_and_at_most_two_round_trips(
    client: Client, db: None, django_assert_num_queries: Any, round_trips: list[Packet]
) -> None:
    key = make_key(rate_limit_count=1000, rate_limit_window=60)
    organization = key.project.organization
    organization.rate_limit_count, organization.rate_limit_window = 1000, 60
    organization.save()
    with django_assert_num_queries(1):
        assert post_envelope(client, key, event_envelope()).status_code == 200
    for body in (event_envelope(), event_envelope({"message": "two"})):
        round_trips.clear()
        with django_assert_num_queries(0):
            assert post_envelope(client, key, body).status_code == 200
        assert len(round_trips) == 2  # the quota takes, then one incr_multi
        # The quota script is called by its SHA1, its body is not sent again.
        assert not any(b"redis.call" in packet.data for packet in round_trips)
    round_trips.clear()
    with django_assert_num_queries(0):
        assert post_store(client, key, {"message": "store"}).status_code == 200
    assert len(round_trips) == 2
    assert totals(key) == same_everywhere(4)


def test_without_quotas_a_warm_request_is_one_round_trip(
    client: Client, key: ProjectKey, django_assert_num_queries: Any, round_trips: list[Packet]
) -> None:
    assert post_envelope(client, key, event_envelope()).status_code == 200
    round_trips.clear()
    with django_assert_num_queries(0):
        assert post_envelope(client, key, event_envelope()).status_code == 200
    assert len(round_trips) == 1


def test_a_refused_event_stays_within_two_round_trips(
    client: Client, db: None, round_trips: list[Packet]
) -> None:
    key = make_key(rate_limit_count=0, rate_limit_window=60)
    assert post_envelope(client, key, event_envelope()).status_code == 429
    round_trips.clear()
    assert post_envelope(client, key, event_envelope()).status_code == 429
    assert len(round_trips) == 2


# -- Redis failures -----------------------------------------------------------------------------


@pytest.mark.parametrize("quota", [None, 100])
def test_it_answers_503_when_redis_is_unreachable(
    client: Client, db: None, settings: Any, quota: int | None
) -> None:
    key = make_key(rate_limit_count=quota, rate_limit_window=60 if quota else None)
    good_url, good_options = settings.REDIS_URL, settings.TSDB_OPTIONS
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.TSDB_OPTIONS = {**good_options, "url": "redis://127.0.0.1:1/0"}
    for response in (
        post_envelope(client, key, event_envelope()),
        post_store(client, key, {"message": "m"}),
    ):
        assert response.status_code == 503, response.content
        assert response["Retry-After"].isdigit()
        assert "detail" in response.json()
    settings.REDIS_URL, settings.TSDB_OPTIONS = good_url, good_options
    assert totals(key) == same_everywhere(0)
    assert post_envelope(client, key, event_envelope()).status_code == 200


CLOSED = "redis://127.0.0.1:1/0"


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.content
    assert int(response["Retry-After"]) >= 1
    assert response["Access-Control-Allow-Origin"] == "*"
    assert isinstance(response.json()["detail"], str)


def test_quotas_up_and_the_tsdb_down_is_503_and_gives_the_quota_back(
    client: Client, db: None, settings: Any
) -> None:
    key = make_key(rate_limit_count=1, rate_limit_window=QUOTA_WINDOW)
    good_options = settings.TSDB_OPTIONS
    settings.TSDB_OPTIONS = {**good_options, "url": CLOSED}
    for _ in range(3):
        assert_unavailable(post_envelope(client, key, event_envelope()))
        assert_unavailable(post_store(client, key, {"message": "m"}))
    settings.TSDB_OPTIONS = good_options
    assert totals(key) == same_everywhere(0)
    # None of the six uncounted events kept the one event the window allows.
    assert post_envelope(client, key, event_envelope()).status_code == 200
    assert post_envelope(client, key, event_envelope()).status_code == 429
    assert totals(key) == same_everywhere(2, 1, 0)


@pytest.mark.parametrize("quota", [None, 100])
def test_the_tsdb_up_and_quotas_down_is_503_and_counts_nothing(
    client: Client, db: None, settings: Any, quota: int | None
) -> None:
    key = make_key(rate_limit_count=quota, rate_limit_window=60 if quota else None)
    good_url = settings.REDIS_URL
    settings.REDIS_URL = CLOSED
    assert_unavailable(post_envelope(client, key, event_envelope()))
    assert_unavailable(post_store(client, key, {"message": "m"}))
    settings.REDIS_URL = good_url
    assert totals(key) == same_everywhere(0)
    assert outcome_totals(key) == {}


def test_a_malformed_request_is_still_a_4xx_when_redis_is_down(
    client: Client, key: ProjectKey, settings: Any
) -> None:
    good_url, good_options = settings.REDIS_URL, settings.TSDB_OPTIONS
    settings.REDIS_URL = CLOSED
    settings.TSDB_OPTIONS = {**good_options, "url": CLOSED}
    response = post_envelope(client, key, b'{}\n{"type":"event"}\n{not json}\n')
    assert response.status_code == 400, response.content
    response = post_store(client, key, {"message": "m"}, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400, response.content
    settings.REDIS_URL, settings.TSDB_OPTIONS = good_url, good_options
    assert totals(key) == same_everywhere(0)


def test_it_answers_503_when_the_database_is_unreachable_for_a_cold_key(
    client: Client, transactional_db: None, settings: Any
) -> None:
    key = make_key()
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = "1"
    try:
        assert_unavailable(post_envelope(client, key, event_envelope()))
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port
    assert totals(key) == same_everywhere(0)
    assert post_envelope(client, key, event_envelope()).status_code == 200


# -- unexpected Redis replies: a bug or a foreign key, not an outage ---------------------------


def test_an_unexpected_redis_reply_is_logged_and_answered_503_never_500(
    client: Client, db: None, any_redis: Any, caplog: pytest.LogCaptureFixture
) -> None:
    key = make_key(rate_limit_count=5, rate_limit_window=QUOTA_WINDOW)
    counter = quota_counter(key)
    any_redis.hset(counter, "not", "a counter")  # another program's key where ours goes
    with caplog.at_level(logging.ERROR, logger="ingest.views"):
        assert_unavailable(post_envelope(client, key, event_envelope()))
        assert_unavailable(post_store(client, key, {"message": "m"}))
    errors = [r for r in caplog.records if r.name == "ingest.views"]
    assert [r.levelno for r in errors] == [logging.ERROR] * 2, caplog.text
    assert "unexpected Redis reply" in errors[0].getMessage()
    assert "WRONGTYPE" in caplog.text  # the traceback is in the log, not in the response
    assert totals(key) == same_everywhere(0)
    any_redis.delete(counter)
    assert post_envelope(client, key, event_envelope()).status_code == 200
    assert any_redis.get(counter) == "1"


def test_an_unexpected_reply_from_the_tsdb_gives_the_quota_back(
    client: Client, db: None, any_redis: Any, caplog: pytest.LogCaptureFixture
) -> None:
    key = make_key(rate_limit_count=1, rate_limit_window=QUOTA_WINDOW)
    backend = tsdb.backend
    field = str(key.project_id)
    hour = int(time.time()) // 3600 * 3600
    hashes = [
        backend.make_key(
            TSDBModel.project_total_received, 3600, backend.block_of(3600, bucket)[0], field
        )
        for bucket in (hour, hour + 3600)  # the request's hour, whichever side of :00 it is
    ]
    for name in hashes:
        any_redis.hset(name, "not", "counters")  # another program's hash where ours goes
    with caplog.at_level(logging.ERROR, logger="ingest.views"):
        assert_unavailable(post_envelope(client, key, event_envelope()))
    assert "WRONGTYPE" in caplog.text
    for name in hashes:
        any_redis.delete(name)
    # The one event the window allows was given back when its count failed.
    assert any_redis.get(quota_counter(key)) == "0"
    assert post_envelope(client, key, event_envelope()).status_code == 200
    assert post_envelope(client, key, event_envelope()).status_code == 429


def test_a_malformed_request_is_still_400_when_its_invalid_outcome_meets_an_unexpected_reply(
    client: Client, key: ProjectKey, any_redis: Any, caplog: pytest.LogCaptureFixture
) -> None:
    outcome_set = outcome_set_name(key.project.organization_id)
    any_redis.set(outcome_set, "not a set")
    with caplog.at_level(logging.ERROR, logger="ingest.services"):
        response = post_envelope(client, key, b'{}\n{"type":"event"}\n{not json}\n')
    assert response.status_code == 400, response.content
    assert "could not record an invalid outcome" in caplog.text
    assert "WRONGTYPE" in caplog.text
    assert any_redis.get(outcome_set) == "not a set"
