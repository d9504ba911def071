"""GET /api/0/teams/{organization_id_or_slug}/{team_id_or_slug}/stats/"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from api_helpers import (
    LADDER,
    LADDER_IDS,
    NOT_FOUND,
    TEAM_SCOPES,
    EndpointScopes,
    assert_api_headers,
    assert_rung,
    bearer,
    hour_floor,
)
from django.test import Client

import tsdb
from organizations.models import Organization, Project, Team
from tsdb.base import TSDBModel

URL = "/api/0/teams/acme/backend/stats/"

pytestmark = pytest.mark.django_db


def get(client: Client, token: str, url: str = URL, **params: Any) -> Any:
    return client.get(url, params, **bearer(token))


@pytest.fixture
def team_projects(organization: Organization, team: Team, project: Project) -> list[Project]:
    """Two projects of `backend` (the `project` fixture and a second one)."""
    second = Project.objects.create(organization=organization, slug="worker", name="Worker")
    second.teams.add(team)
    return [project, second]


@pytest.mark.parametrize(("rung", "status", "detail"), LADDER, ids=LADDER_IDS)
def test_it_climbs_the_permission_ladder(
    client: Client,
    team_projects: list[Project],
    ladder_headers: Callable[[str, EndpointScopes], dict[str, str]],
    rung: str,
    status: int,
    detail: str | None,
) -> None:
    response = client.get(URL, **ladder_headers(rung, TEAM_SCOPES))

    assert_rung(response, status, detail)


@pytest.mark.parametrize(
    "path", ["/api/0/teams/nope/backend/stats/", "/api/0/teams/acme/nope/stats/"]
)
def test_it_answers_404_for_an_unknown_organization_or_team(
    client: Client, team: Team, owner_token: str, path: str
) -> None:
    response = get(client, owner_token, path)

    assert response.status_code == 404, response.content
    assert response.json() == {"detail": NOT_FOUND}


def test_it_answers_403_before_404_for_a_token_lacking_the_scope(
    client: Client, owner: Any, make_user_token: Callable[..., str]
) -> None:
    token = make_user_token(owner, ["org:read"])

    response = get(client, token, "/api/0/teams/nope/nope/stats/")

    assert response.status_code == 403, response.content


def test_it_finds_organization_and_team_by_id(
    client: Client, organization: Organization, team: Team, project: Project, owner_token: str
) -> None:
    tsdb.backend.incr(TSDBModel.project, project.pk, count=4)

    response = get(client, owner_token, f"/api/0/teams/{organization.pk}/{team.pk}/stats/")

    assert response.status_code == 200, response.content
    assert len(response.json()) == 24
    assert sum(count for _, count in response.json()) == 4


def test_it_sums_the_generated_series_of_the_teams_projects(
    client: Client,
    team_projects: list[Project],
    other_project: Project,
    owner_token: str,
) -> None:
    now = time.time()
    first, second = team_projects
    tsdb.backend.incr_multi(
        [
            (TSDBModel.project, first.pk, now, 2),
            (TSDBModel.project, second.pk, now, 3),
            (TSDBModel.project, second.pk, now - 3 * 3600, 4),
            (TSDBModel.project, other_project.pk, now, 100),  # another team's project
            (TSDBModel.project_total_received, first.pk, now, 1000),  # another stat
        ]
    )
    hour_before = hour_floor(time.time())

    response = get(client, owner_token)
    one = get(client, owner_token, f"/api/0/projects/acme/{first.slug}/stats/", stat="generated")
    two = get(client, owner_token, f"/api/0/projects/acme/{second.slug}/stats/", stat="generated")

    assert response.status_code == 200, response.content
    series = response.json()
    assert len(series) == 24
    assert series[-1][0] in (hour_before, hour_floor(time.time()))
    assert all(isinstance(ts, float) and isinstance(count, int) for ts, count in series)
    assert series == [[ts, a + b] for (ts, a), (_, b) in zip(one.json(), two.json(), strict=True)]
    assert sum(count for _, count in series) == 9


@pytest.mark.parametrize(
    ("stat", "model"),
    [
        ("generated", TSDBModel.project),
        ("received", TSDBModel.project_total_received),
        ("rejected", TSDBModel.project_total_rejected),
    ],
)
def test_it_sums_the_stat_asked_for(
    client: Client, team_projects: list[Project], owner_token: str, stat: str, model: TSDBModel
) -> None:
    tsdb.backend.incr_multi(
        [(model, p.pk, None, n) for p, n in zip(team_projects, (5, 6), strict=True)]
    )

    response = get(client, owner_token, stat=stat)

    assert response.status_code == 200, response.content
    assert sum(count for _, count in response.json()) == 11


@pytest.mark.parametrize("stat", ["", "blacklisted", "ip-address", "lol"])
def test_it_rejects_other_stats(
    client: Client, team_projects: list[Project], owner_token: str, stat: str
) -> None:
    response = get(client, owner_token, stat=stat)

    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith("Invalid stat")


def test_it_sums_only_the_projects_a_member_can_see(
    client: Client,
    organization: Organization,
    other_team: Team,
    team_projects: list[Project],
    other_project: Project,
    make_member: Any,
    make_user_token: Callable[..., str],
) -> None:
    # A member of `frontend` reading `backend`: only the shared project is visible.
    shared, private = team_projects
    shared.teams.add(other_team)
    tsdb.backend.incr_multi(
        [(TSDBModel.project, shared.pk, None, 2), (TSDBModel.project, private.pk, None, 7)]
    )
    token = make_user_token(make_member("front", role="member", teams=[other_team]))

    response = get(client, token)

    assert response.status_code == 200, response.content
    assert sum(count for _, count in response.json()) == 2


def test_it_answers_an_empty_list_without_visible_projects(
    client: Client,
    team: Team,
    other_team: Team,
    team_projects: list[Project],
    make_member: Any,
    make_user_token: Callable[..., str],
    owner_token: str,
) -> None:
    empty_team = get(client, owner_token, "/api/0/teams/acme/frontend/stats/")
    token = make_user_token(make_member("front", role="member", teams=[other_team]))
    invisible = get(client, token)

    assert empty_team.status_code == 200, empty_team.content
    assert empty_team.json() == []
    assert invisible.status_code == 200, invisible.content
    assert invisible.json() == []


def test_it_validates_parameters_even_when_the_answer_would_be_empty(
    client: Client, other_team: Team, owner_token: str
) -> None:
    response = get(client, owner_token, "/api/0/teams/acme/frontend/stats/", since="lol")

    assert response.status_code == 400, response.content
    assert response.json() == {"detail": "since must be a numeric timestamp"}


def test_it_honours_window_and_resolution(
    client: Client, team_projects: list[Project], owner_token: str
) -> None:
    until = int(time.time())
    tsdb.backend.incr(TSDBModel.project, team_projects[0].pk, until - 30, count=3)

    response = get(client, owner_token, since=until - 600, until=until, resolution="1m")

    assert response.status_code == 200, response.content
    series = response.json()
    assert len(series) == 11
    assert series[-1][0] == until // 60 * 60
    assert sum(count for _, count in series) == 3


def test_it_writes_integer_timestamps_when_configured(
    client: Client, team_projects: list[Project], owner_token: str, settings: Any
) -> None:
    settings.STATS_INTEGER_TIMESTAMPS = True

    response = get(client, owner_token)

    assert response.status_code == 200, response.content
    assert all(isinstance(ts, int) for ts, _ in response.json())


def test_it_sends_the_api_headers_and_answers_head_and_options(
    client: Client, team_projects: list[Project], owner_token: str
) -> None:
    response = get(client, owner_token)
    head = client.head(URL, **bearer(owner_token))
    options = client.options(URL)
    delete = client.delete(URL, **bearer(owner_token))

    assert response.status_code == 200, response.content
    assert_api_headers(response)
    assert head.status_code == 200, head.content
    assert head.content == b""
    assert head["Content-Length"] == str(len(response.content))
    assert options.status_code == 200, options.content
    assert delete.status_code == 405, delete.content
    assert delete.json() == {"detail": 'Method "DELETE" not allowed.'}
    assert_api_headers(delete)


def test_it_answers_503_when_the_tsdb_is_unreachable(
    client: Client, team_projects: list[Project], owner_token: str, settings: Any
) -> None:
    settings.TSDB_OPTIONS = {"url": "redis://127.0.0.1:1/0", "prefix": "unreachable:"}

    response = get(client, owner_token)

    assert response.status_code == 503, response.content
    assert int(response["Retry-After"]) > 0
