"""GET /api/0/organizations/{org}/projects/: the projects the caller can see, paginated."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import (
    add_member,
    assert_api_headers,
    get,
    make_org,
    make_org_token,
    make_project,
    make_team,
    make_user,
    make_user_token,
    parse_link_header,
)
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from organizations.models import Organization, Project

pytestmark = pytest.mark.django_db

URL = "/api/0/organizations/acme/projects/"


@pytest.fixture
def acme() -> Organization:
    """acme with teams red (projects apple, cherry) and blue (blueberry, cherry), and an
    orphan project without a team."""
    organization = make_org("acme")
    red = make_team(organization, "red")
    blue = make_team(organization, "blue")
    make_project(organization, "apple", teams=[red], platform="python")
    make_project(organization, "blueberry", teams=[blue])
    make_project(organization, "cherry", teams=[red, blue])
    make_project(organization, "orphan")
    return organization


def slugs(response: Any) -> list[str]:
    return [project["slug"] for project in response.json()]


def member_token(organization: Organization, role: str, teams: list[str]) -> str:
    user = make_user(f"{role}-{'-'.join(teams) or 'none'}")
    add_member(organization, user, role=role, teams=organization.teams.filter(slug__in=teams))
    return make_user_token(user)


def test_it_requires_credentials(acme: Organization) -> None:
    assert get(URL).status_code == 401


def test_it_refuses_a_token_without_an_org_scope(acme: Organization) -> None:
    user = make_user("ada")
    add_member(acme, user, role="owner")

    response = get(URL, make_user_token(user, scopes=["project:read"]))

    assert response.status_code == 403, response.content


def test_it_answers_404_for_an_unknown_organization(acme: Organization) -> None:
    response = get("/api/0/organizations/nope/projects/", make_org_token(acme))

    assert response.status_code == 404, response.content
    assert response.json() == {"detail": "The requested resource does not exist"}


def test_it_refuses_a_non_member_and_a_foreign_organization_token(acme: Organization) -> None:
    outsider = make_user("eve")
    add_member(make_org("evil"), outsider, role="owner")

    assert get(URL, make_user_token(outsider)).status_code == 403
    assert get(URL, make_org_token(make_org("other"))).status_code == 403


def test_it_shows_a_member_only_their_teams_projects(acme: Organization) -> None:
    response = get(URL, member_token(acme, "member", ["red"]))

    assert response.status_code == 200, response.content
    assert slugs(response) == ["apple", "cherry"]


def test_it_shows_a_member_without_teams_no_projects(acme: Organization) -> None:
    response = get(URL, member_token(acme, "member", []))

    assert response.status_code == 200, response.content
    assert response.json() == []


@pytest.mark.parametrize("role", ["admin", "manager", "owner"])
def test_it_shows_every_project_to_admins_managers_and_owners(
    acme: Organization, role: str
) -> None:
    response = get(URL, member_token(acme, role, []))

    assert response.status_code == 200, response.content
    assert slugs(response) == ["apple", "blueberry", "cherry", "orphan"]


def test_it_shows_every_project_to_an_organization_token_with_org_read(
    acme: Organization,
) -> None:
    response = get(URL, make_org_token(acme, scopes=["org:read"]))

    assert response.status_code == 200, response.content
    assert slugs(response) == ["apple", "blueberry", "cherry", "orphan"]


def test_it_lists_a_project_in_two_of_the_callers_teams_once(acme: Organization) -> None:
    response = get(URL, member_token(acme, "member", ["red", "blue"]))

    assert slugs(response) == ["apple", "blueberry", "cherry"]


def test_it_returns_sentrys_project_shape(acme: Organization) -> None:
    response = get(URL, member_token(acme, "member", ["red"]))

    apple, cherry = response.json()
    project = Project.objects.get(slug="apple")
    assert apple["id"] == str(project.pk)
    assert apple["slug"] == "apple"
    assert apple["name"] == "Apple"
    assert apple["platform"] == "python"
    assert apple["dateCreated"].startswith(project.date_created.strftime("%Y-%m-%dT%H:%M:%S"))
    assert apple["isMember"] is True
    assert apple["hasAccess"] is True
    assert apple["features"] == []
    assert apple["status"] == "active"
    assert apple["organization"]["slug"] == "acme"
    assert apple["organization"]["id"] == str(acme.pk)
    assert apple["organization"]["name"] == "Acme"
    red = acme.teams.get(slug="red")
    assert apple["team"] == {"id": str(red.pk), "slug": "red", "name": "Red"}
    assert apple["teams"] == [{"id": str(red.pk), "slug": "red", "name": "Red"}]
    assert [team["slug"] for team in cherry["teams"]] == ["blue", "red"]
    assert cherry["team"]["slug"] == "blue"


def test_it_gives_a_project_without_teams_a_null_team(acme: Organization) -> None:
    response = get(URL, make_org_token(acme))

    orphan = response.json()[-1]
    assert orphan["slug"] == "orphan"
    assert orphan["team"] is None
    assert orphan["teams"] == []
    assert orphan["platform"] is None
    assert orphan["isMember"] is False


def test_it_says_whether_an_admin_is_a_member_of_each_project(acme: Organization) -> None:
    response = get(URL, member_token(acme, "admin", ["blue"]))

    assert {project["slug"]: project["isMember"] for project in response.json()} == {
        "apple": False,
        "blueberry": True,
        "cherry": True,
        "orphan": False,
    }


def test_it_finds_the_organization_by_numeric_id(acme: Organization) -> None:
    response = get(f"/api/0/organizations/{acme.pk}/projects/", make_org_token(acme))

    assert response.status_code == 200, response.content
    assert len(response.json()) == 4


def test_it_pages_250_projects_100_at_a_time_each_exactly_once() -> None:
    organization = make_org("big")
    Project.objects.bulk_create(
        Project(organization=organization, slug=f"p-{index:03d}", name=f"P {index}")
        for index in range(250)
    )
    token = make_org_token(organization)
    client = Client()
    url = "/api/0/organizations/big/projects/?per_page=100"
    seen: list[str] = []
    pages: list[dict[str, dict[str, str]]] = []

    while True:
        response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 200, response.content
        seen.extend(project["id"] for project in response.json())
        links = parse_link_header(response["Link"])
        pages.append(links)
        if links["next"]["results"] != "true":
            break
        url = links["next"]["url"]
        assert len(pages) < 10

    assert len(seen) == 250
    assert set(seen) == {str(pk) for pk in organization.projects.values_list("pk", flat=True)}
    assert [(page["previous"]["results"], page["next"]["results"]) for page in pages] == [
        ("false", "true"),
        ("true", "true"),
        ("true", "false"),
    ]
    assert [page["next"]["cursor"] for page in pages] == ["100:1:0", "100:2:0", "100:3:0"]
    assert [page["previous"]["cursor"] for page in pages] == ["100:0:1", "100:0:1", "100:1:1"]
    assert all(page["next"]["url"].startswith("http://testserver/") for page in pages)


def test_it_follows_the_previous_link_back(acme: Organization) -> None:
    token = make_org_token(acme)
    second = get(URL, token, data={"cursor": "2:1:0"})

    previous = parse_link_header(second["Link"])["previous"]
    first = get(URL, token, data={"cursor": previous["cursor"]})

    assert slugs(second) == ["cherry", "orphan"]
    assert slugs(first) == ["apple", "blueberry"]


def test_it_refuses_a_bad_cursor_with_400(acme: Organization) -> None:
    response = get(URL, make_org_token(acme), data={"cursor": "x:y:z"})

    assert response.status_code == 400, response.content
    assert "cursor" in response.json()["detail"]


def test_it_sends_the_api_headers_on_success_and_error(acme: Organization) -> None:
    ok = get(URL, make_org_token(acme))
    denied = get(URL)

    assert ok.status_code == 200, ok.content
    assert denied.status_code == 401, denied.content
    for response in (ok, denied):
        assert_api_headers(response)


@pytest.mark.parametrize("role", ["member", "owner", None])
def test_it_serves_100_projects_in_as_many_queries_as_1(
    django_assert_num_queries: Any, role: str | None
) -> None:
    """No query per project: teams come prefetched, the organization is serialized once."""
    organization = make_org("big")
    teams = [make_team(organization, "red"), make_team(organization, "blue")]
    if role is None:
        token = make_org_token(organization)
    else:
        user = make_user("reader")
        add_member(organization, user, role=role, teams=teams[:1])
        token = make_user_token(user)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = "/api/0/organizations/big/projects/"
    make_project(organization, "p-000", teams=teams)
    client.get(url)  # records last_used_at, which later requests within a minute skip
    with CaptureQueriesContext(connection) as one_project:
        assert len(client.get(url).json()) == 1
    queries = len(one_project)  # now: the next request empties the connection's query log
    for index in range(1, 150):
        make_project(organization, f"p-{index:03d}", teams=teams)
    client.get(url)  # the saves emptied the access cache; both measured requests are warm

    with django_assert_num_queries(queries):
        response = client.get(url)

    assert response.status_code == 200, response.content
    page = response.json()
    assert len(page) == 100
    assert all([team["slug"] for team in project["teams"]] == ["blue", "red"] for project in page)
    assert all(project["organization"]["slug"] == "big" for project in page)
