"""stats_v2 and stats-summary: what real clients send, the window and interval rules, and
every documented 400, 403 and 404."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_helpers import (
    FORBIDDEN,
    LADDER,
    LADDER_IDS,
    NOT_FOUND,
    ORG_SCOPES,
    WWW_AUTHENTICATE,
    EndpointScopes,
    assert_api_headers,
)
from django.test import Client
from ingest_helpers import event_envelope, post_envelope

from organizations.models import Project, ProjectKey

pytestmark = pytest.mark.django_db

V2 = "/api/0/organizations/acme/stats_v2/"
SUMMARY = "/api/0/organizations/acme/stats-summary/"
RFC3339_Z = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
GOOD = "field=sum(quantity)&category=error&statsPeriod=1h"

# spec/stats-v2.md section 3, verbatim but for the dates, which must stay within retention.
GRAFANA = (
    "/api/0/organizations/acme/stats_v2/?category=error&end=2026-12-01T20%3A00%3A00"
    "&field=sum%28quantity%29&groupBy=outcome&groupBy=category&interval=1h"
    "&start=2026-11-30T20%3A00%3A00"
)
SENTRY_API = (
    "/api/0/organizations/acme/stats_v2/?field=sum(quantity)&groupBy=outcome"
    "&groupBy=category&statsPeriod=1d&interval=1h&category=error"
)


def get(client: Client, token: str, url: str) -> Any:
    return client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")


def assert_well_formed(answer: dict[str, Any]) -> None:
    """What Grafana needs: RFC 3339 `Z` times, integer numbers, every series as long as
    `intervals`."""
    assert RFC3339_Z.fullmatch(answer["start"])
    assert RFC3339_Z.fullmatch(answer["end"])
    assert all(RFC3339_Z.fullmatch(ts) for ts in answer["intervals"])
    for group in answer["groups"]:
        for name, series in group["series"].items():
            assert len(series) == len(answer["intervals"])
            assert all(type(n) is int for n in series)
            assert type(group["totals"][name]) is int


@pytest.fixture
def counted(client: Client, project_key: ProjectKey) -> ProjectKey:
    """Two accepted error events, just now."""
    for _ in range(2):
        assert post_envelope(client, project_key, event_envelope()).status_code == 200
    return project_key


def test_the_grafana_request(client: Client, counted: ProjectKey, owner_token: str) -> None:
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(days=1)
    url = GRAFANA.replace("2026-12-01T20", end.strftime("%Y-%m-%dT%H")).replace(
        "2026-11-30T20", start.strftime("%Y-%m-%dT%H")
    )

    response = get(client, owner_token, url)

    assert response.status_code == 200, response.content
    answer = response.json()
    assert_well_formed(answer)
    assert len(answer["intervals"]) == 24
    assert answer["start"] == start.strftime("%Y-%m-%dT%H:00:00Z")
    assert answer["end"] == end.strftime("%Y-%m-%dT%H:00:00Z")
    assert [(g["by"], g["totals"]) for g in answer["groups"]] == [
        ({"outcome": "accepted", "category": "error"}, {"sum(quantity)": 2})
    ]


def test_the_sentry_api_client_request(
    client: Client, counted: ProjectKey, owner_token: str
) -> None:
    now = time.time()
    response = get(client, owner_token, SENTRY_API)

    assert response.status_code == 200, response.content
    answer = response.json()
    assert_well_formed(answer)
    # Yesterday's hour of `now` to this hour: 25 intervals, the end the next hour.
    hour = int(now) // 3600 * 3600
    assert len(answer["intervals"]) in (25, 24 if now % 3600 == 0 else 25)
    assert answer["intervals"][-1] == datetime.fromtimestamp(hour, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    [group] = answer["groups"]
    assert group["series"]["sum(quantity)"][-1] == 2 or group["totals"]["sum(quantity)"] == 2


def test_interval_10s_shows_the_events_in_their_10_second_buckets(
    client: Client, project_key: ProjectKey, owner_token: str
) -> None:
    before = time.time()
    for _ in range(3):
        assert post_envelope(client, project_key, event_envelope()).status_code == 200
    after = time.time()

    response = get(client, owner_token, f"{V2}?{GOOD.replace('1h', '30m')}&interval=10s")

    assert response.status_code == 200, response.content
    answer = response.json()
    assert_well_formed(answer)
    assert len(answer["intervals"]) == 181
    series = answer["groups"][0]["series"]["sum(quantity)"]
    buckets = {
        datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for ts in (int(before) // 10 * 10, int(after) // 10 * 10)
    }
    counted = {ts: n for ts, n in zip(answer["intervals"], series, strict=True) if n}
    assert set(counted) <= buckets
    assert sum(counted.values()) == 3


def test_interval_10s_over_yesterday_names_an_interval_that_works(
    client: Client, owner_token: str
) -> None:
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = (midnight - timedelta(days=1)).isoformat(), midnight.isoformat()
    query = f"field=sum(quantity)&category=error&interval=10s&start={start[:19]}&end={end[:19]}"

    response = get(client, owner_token, f"{V2}?{query}")

    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert detail.startswith("interval=10s cannot cover this window: its 10s buckets are kept")
    assert "Use interval=1h" in detail
    assert get(client, owner_token, f"{V2}?{query.replace('10s', '1h')}").status_code == 200


def test_the_default_window_is_90_days_at_1h_and_1d_works(client: Client, owner_token: str) -> None:
    answer = get(client, owner_token, f"{V2}?field=sum(quantity)&category=error").json()
    assert len(answer["intervals"]) == 2161
    assert answer["groups"] == [
        {"by": {}, "totals": {"sum(quantity)": 0}, "series": {"sum(quantity)": [0] * 2161}}
    ]
    daily = get(client, owner_token, f"{V2}?field=sum(quantity)&category=error&interval=1d")
    assert daily.status_code == 200, daily.content
    assert len(daily.json()["intervals"]) == 91


def test_the_window_follows_sentrys_rounding(client: Client, owner_token: str) -> None:
    query = "field=sum(quantity)&category=error&interval=1h"
    aligned = get(
        client, owner_token, f"{V2}?{query}&start=1764590400&end=1764676800"
    )  # two aligned hours a day apart: 24 intervals, the end not included
    assert aligned.status_code == 400 or len(aligned.json()["intervals"]) == 24
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start, end = now - timedelta(hours=5, minutes=30), now - timedelta(minutes=30)
    answer = get(
        client,
        owner_token,
        f"{V2}?{query}&start={start.isoformat()[:19]}Z&end={end.isoformat()[:19]}%2B00:00",
    ).json()
    # 5:30 before the hour floors to 6 hours before; 0:30 before rounds up to the hour.
    assert answer["start"] == (now - timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert answer["end"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(answer["intervals"]) == 6
    future = (now + timedelta(days=2)).isoformat()[:19]
    clamped = get(client, owner_token, f"{V2}?{query}&start={future}&end={future}")
    assert clamped.status_code == 200, clamped.content


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("category=error", 'At least one "field" is required.'),
        ("field=sum(foo)&category=error", 'Invalid field: "sum(foo)"'),
        ("field=sum(quantity)&groupBy=bogus&category=error", 'Invalid groupBy: "bogus"'),
        ("field=sum(quantity)&category=errors", 'Invalid category: "errors"'),
        ("field=sum(quantity)&category=Error", 'Invalid category: "Error"'),
        ("field=sum(quantity)", "Query must have category as groupby or filter"),
        ("field=sum(quantity)&groupBy=outcome", "Query must have category as groupby or filter"),
        (
            "field=sum(quantity)&category=attachment&category=error",
            "if filtering by attachment no other category may be present",
        ),
        ("field=sum(quantity)&category=error&outcome=lost", 'Invalid outcome: "lost"'),
        ("field=sum(quantity)&category=error&key_id=abc", 'Invalid key: "abc"'),
        ("field=sum(quantity)&category=error&project=web", 'Invalid project: "web"'),
        (
            "field=sum(quantity)&category=error&interval=25h",
            "The interval has to be less than one day.",
        ),
        (
            "field=sum(quantity)&category=error&interval=7m",
            "The interval should divide one day without a remainder.",
        ),
        (
            "field=sum(quantity)&category=error&interval=15s",
            "The interval must be a whole multiple of 10s (the finest rollup kept).",
        ),
        ("field=sum(quantity)&category=error&interval=lol", 'Invalid interval: "lol"'),
        ("field=sum(quantity)&category=error&statsPeriod=lol", 'Invalid statsPeriod: "lol"'),
        ("field=sum(quantity)&category=error&start=2026-11-30", "start and end are both required"),
        (
            "field=sum(quantity)&category=error&start=2026-11-30T10:00:00&end=2026-11-30T10:00:00",
            "start must be before end",
        ),
        (
            "field=sum(quantity)&category=error&start=2026-13-45&end=2026-11-30",
            "start is not a valid ISO 8601 date: 2026-13-45 (month must be in 1..12)",
        ),
        (
            "field=sum(quantity)&category=error&statsPeriod=1h&statsPeriod=2h",
            '"statsPeriod" may be given only once',
        ),
        (
            "field=sum(quantity)&category=error&statsPeriod=100d",
            "The window starts before the oldest data kept (90d ago)",
        ),
        # Check order: the interval before the field, the field before the category.
        ("interval=lol", 'Invalid interval: "lol"'),
        ("groupBy=bogus", 'At least one "field" is required.'),
        ("field=sum(quantity)&category=errors&outcome=lost", 'Invalid outcome: "lost"'),
        ("field=sum(quantity)&outcome=lost", "Query must have category as groupby or filter"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    client: Client, owner_token: str, query: str, detail: str
) -> None:
    for path in (V2, SUMMARY):
        if path == SUMMARY and ("category as groupby" in detail or "groupBy" in detail):
            continue  # stats-summary ignores groupBy and needs no category
        response = get(client, owner_token, f"{path}?{query}")
        assert response.status_code == 400, (path, response.content)
        assert response.json()["detail"].startswith(detail), (path, response.json())
        assert_api_headers(response)


def test_too_many_intervals_is_400(client: Client, owner_token: str, settings: Any) -> None:
    settings.TSDB_ROLLUPS = ((10, 100_000), (3600, 2160))
    response = get(client, owner_token, f"{V2}?{GOOD.replace('1h', '2d')}&interval=10s")
    assert response.status_code == 400, response.content
    assert response.json() == {
        "detail": "Your interval and date range would create too many results. "
        "Use a larger interval, or a smaller date range."
    }


def test_a_project_the_caller_may_not_see_is_403(
    client: Client, member_token: str, owner_token: str, other_project: Project, project: Project
) -> None:
    for path in (V2, SUMMARY):
        hidden = get(client, member_token, f"{path}?{GOOD}&project={other_project.pk}")
        assert hidden.status_code == 403, hidden.content
        assert hidden.json() == {"detail": FORBIDDEN}
        unknown = get(client, owner_token, f"{path}?{GOOD}&project=999999999")
        assert unknown.status_code == 403, unknown.content
        assert get(client, member_token, f"{path}?{GOOD}&project={project.pk}").status_code == 200


def test_an_unknown_organization_is_404(client: Client, owner_token: str) -> None:
    for path in ("stats_v2", "stats-summary"):
        response = get(client, owner_token, f"/api/0/organizations/nope/{path}/?{GOOD}")
        assert response.status_code == 404, response.content
        assert response.json() == {"detail": NOT_FOUND}


@pytest.mark.parametrize(("rung", "status", "detail"), LADDER, ids=LADDER_IDS)
def test_it_climbs_the_permission_ladder(
    client: Client,
    ladder_headers: Callable[[str, EndpointScopes], dict[str, str]],
    rung: str,
    status: int,
    detail: str | None,
) -> None:
    headers = ladder_headers(rung, ORG_SCOPES)
    for path in (V2, SUMMARY):
        response = client.get(f"{path}?{GOOD}", **headers)
        assert response.status_code == status, response.content
        if detail is None:
            assert "start" in response.json()
        else:
            assert response.json() == {"detail": detail}
        if status == 401:
            assert response["WWW-Authenticate"] == WWW_AUTHENTICATE
        assert_api_headers(response)
