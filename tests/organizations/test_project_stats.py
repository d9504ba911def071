"""GET /api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/stats/"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from api_helpers import (
    FORBIDDEN,
    LADDER,
    LADDER_IDS,
    NOT_FOUND,
    PROJECT_SCOPES,
    EndpointScopes,
    as_counts,
    assert_api_headers,
    assert_rung,
    bearer,
    hour_floor,
)
from django.test import Client

import tsdb
from organizations.models import Organization, Project
from tsdb.base import TSDBModel
from usage.catalogue import FILTER_COUNTERS

URL = "/api/0/projects/acme/api/stats/"

pytestmark = pytest.mark.django_db


def get(client: Client, token: str, url: str = URL, **params: Any) -> Any:
    return client.get(url, params, **bearer(token))


def total(response: Any) -> int:
    return sum(count for _, count in response.json())


@pytest.mark.parametrize(("rung", "status", "detail"), LADDER, ids=LADDER_IDS)
def test_it_climbs_the_permission_ladder(
    client: Client,
    project: Project,
    ladder_headers: Callable[[str, EndpointScopes], dict[str, str]],
    rung: str,
    status: int,
    detail: str | None,
) -> None:
    response = client.get(URL, **ladder_headers(rung, PROJECT_SCOPES))

    assert_rung(response, status, detail)


def test_it_refuses_a_member_the_project_of_another_team(
    client: Client, member_token: str, other_project: Project
) -> None:
    response = get(client, member_token, "/api/0/projects/acme/web/stats/")

    assert response.status_code == 403, response.content
    assert response.json() == {"detail": FORBIDDEN}


@pytest.mark.parametrize(
    "path", ["/api/0/projects/nope/api/stats/", "/api/0/projects/acme/nope/stats/"]
)
def test_it_answers_404_for_an_unknown_organization_or_project(
    client: Client, project: Project, owner_token: str, path: str
) -> None:
    response = get(client, owner_token, path)

    assert response.status_code == 404, response.content
    assert response.json() == {"detail": NOT_FOUND}


def test_it_answers_403_before_404_for_a_token_lacking_the_scope(
    client: Client, owner: Any, make_user_token: Callable[..., str]
) -> None:
    token = make_user_token(owner, ["org:read"])

    response = get(client, token, "/api/0/projects/nope/nope/stats/")

    assert response.status_code == 403, response.content


def test_it_does_not_reveal_projects_to_non_members(
    client: Client, project: Project, outsider: Any, make_user_token: Callable[..., str]
) -> None:
    token = make_user_token(outsider, ["project:read"])

    existing = get(client, token)
    missing = get(client, token, "/api/0/projects/acme/nope/stats/")

    assert existing.status_code == 403, existing.content
    assert missing.status_code == 403, missing.content


def test_it_does_not_find_a_project_of_another_organization(
    client: Client,
    project: Project,
    other_organization: Organization,
    owner_token: str,
) -> None:
    foreign = Project.objects.create(organization=other_organization, slug="foreign", name="F")

    by_slug = get(client, owner_token, "/api/0/projects/acme/foreign/stats/")
    by_id = get(client, owner_token, f"/api/0/projects/acme/{foreign.pk}/stats/")

    assert by_slug.status_code == 404, by_slug.content
    assert by_id.status_code == 404, by_id.content


def test_it_finds_organization_and_project_by_id(
    client: Client, organization: Organization, project: Project, owner_token: str
) -> None:
    tsdb.backend.incr(TSDBModel.project_total_received, project.pk, count=3)

    response = get(client, owner_token, f"/api/0/projects/{organization.pk}/{project.pk}/stats/")

    assert response.status_code == 200, response.content
    assert total(response) == 3


def test_it_returns_24_hourly_points_of_received_by_default(
    client: Client, project: Project, other_project: Project, owner_token: str
) -> None:
    now = time.time()
    tsdb.backend.incr_multi(
        [
            (TSDBModel.project_total_received, project.pk, now - 7200, 4),
            (TSDBModel.project_total_received, project.pk, now, 1),
            (TSDBModel.project_total_received, other_project.pk, now, 50),
            (TSDBModel.project_total_rejected, project.pk, now, 70),
        ]
    )
    hour_before = hour_floor(time.time())

    response = get(client, owner_token)

    assert response.status_code == 200, response.content
    series = response.json()
    assert len(series) == 24
    assert series[-1][0] in (hour_before, hour_floor(time.time()))
    assert all(isinstance(ts, float) and isinstance(count, int) for ts, count in series)
    counts = as_counts(series)
    assert counts[hour_floor(now - 7200)] == 4
    assert sum(counts.values()) == 5


@pytest.mark.parametrize(
    ("stat", "model"),
    [
        ("received", TSDBModel.project_total_received),
        ("rejected", TSDBModel.project_total_rejected),
        ("blacklisted", TSDBModel.project_total_blacklisted),
        ("generated", TSDBModel.project),
        *((str(key), model) for key, model in FILTER_COUNTERS.items()),
    ],
)
def test_it_reads_each_stat_from_its_own_counter(
    client: Client, project: Project, owner_token: str, stat: str, model: TSDBModel
) -> None:
    tsdb.backend.incr(model, project.pk, count=6)
    # A different counter of the same project, to prove it is not the one read.
    other = (
        TSDBModel.project_total_rejected
        if model != TSDBModel.project_total_rejected
        else TSDBModel.project_total_received
    )
    tsdb.backend.incr(other, project.pk, count=100)

    response = get(client, owner_token, stat=stat)

    assert response.status_code == 200, response.content
    assert total(response) == 6


@pytest.mark.parametrize("stat", ["forwarded", "invalid-csp", "cors", "discarded-hash"])
def test_it_reads_sentrys_other_stat_keys_as_zeros(
    client: Client, project: Project, owner_token: str, stat: str
) -> None:
    tsdb.backend.incr(TSDBModel.project_total_received, project.pk, count=3)

    response = get(client, owner_token, stat=stat)

    assert response.status_code == 200, response.content
    assert len(response.json()) == 24
    assert total(response) == 0


@pytest.mark.parametrize("stat", ["", "lol", "Received", "ip_address", "accepted"])
def test_it_rejects_an_unknown_stat(
    client: Client, project: Project, owner_token: str, stat: str
) -> None:
    response = get(client, owner_token, stat=stat)

    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith("Invalid stat")


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"since": "lol"}, "since must be a numeric timestamp"),
        ({"until": "lol"}, "until must be a numeric timestamp."),
        ({"since": "200", "until": "100"}, "start must be before or equal to end"),
        ({"resolution": "7s"}, "Invalid resolution"),
    ],
)
def test_it_validates_the_window_like_organization_stats(
    client: Client, project: Project, owner_token: str, params: dict[str, str], detail: str
) -> None:
    response = get(client, owner_token, **params)

    assert response.status_code == 400, response.content
    assert response.json() == {"detail": detail}


def test_it_refuses_more_than_ten_thousand_points(
    client: Client, project: Project, owner_token: str
) -> None:
    response = get(client, owner_token, since=0, resolution="10s")

    assert response.status_code == 400, response.content
    assert "10,000 points" in response.json()["detail"]


@pytest.mark.parametrize(("resolution", "seconds"), [("10s", 10), ("1m", 60), ("1d", 86400)])
def test_it_honours_an_explicit_resolution(
    client: Client, project: Project, owner_token: str, resolution: str, seconds: int
) -> None:
    until = int(time.time())
    tsdb.backend.incr(TSDBModel.project_total_received, project.pk, until - 5, count=2)

    response = get(
        client, owner_token, since=until - 10 * seconds, until=until, resolution=resolution
    )

    assert response.status_code == 200, response.content
    series = response.json()
    assert len(series) == 11
    assert series[-1][0] == until // seconds * seconds
    assert total(response) == 2


def test_it_writes_integer_timestamps_when_configured(
    client: Client, project: Project, owner_token: str, settings: Any
) -> None:
    settings.STATS_INTEGER_TIMESTAMPS = True

    response = get(client, owner_token)

    assert response.status_code == 200, response.content
    assert all(isinstance(ts, int) for ts, _ in response.json())


def test_it_sends_the_api_headers_and_answers_head_and_options(
    client: Client, project: Project, owner_token: str
) -> None:
    response = get(client, owner_token)
    head = client.head(URL, **bearer(owner_token))
    options = client.options(URL)
    post = client.post(URL, **bearer(owner_token))

    assert response.status_code == 200, response.content
    assert_api_headers(response)
    assert head.status_code == 200, head.content
    assert head.content == b""
    assert head["Content-Length"] == str(len(response.content))
    assert_api_headers(head)
    assert options.status_code == 200, options.content
    assert post.status_code == 405, post.content
    assert post.json() == {"detail": 'Method "POST" not allowed.'}
    assert_api_headers(post)


def test_it_answers_503_with_retry_after_when_the_tsdb_is_unreachable(
    client: Client, project: Project, owner_token: str, settings: Any
) -> None:
    settings.TSDB_OPTIONS = {"url": "redis://127.0.0.1:1/0", "prefix": "unreachable:"}

    response = get(client, owner_token)

    assert response.status_code == 503, response.content
    assert set(response.json()) == {"detail"}
    assert int(response["Retry-After"]) > 0
