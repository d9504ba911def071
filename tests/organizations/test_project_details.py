"""GET /api/0/projects/{org}/{project}/: one project, with its organization."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import (
    add_member,
    get,
    make_org,
    make_org_token,
    make_project,
    make_team,
    make_user,
    make_user_token,
)
from django.test import Client

from organizations.models import Organization, Project

pytestmark = pytest.mark.django_db

URL = "/api/0/projects/acme/web/"
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
NOT_FOUND = {"detail": "The requested resource does not exist"}


@pytest.fixture
def acme() -> Organization:
    organization = make_org("acme")
    frontend = make_team(organization, "frontend")
    make_project(organization, "web", teams=[frontend], platform="javascript")
    make_project(organization, "backend")
    return organization


def member_token(organization: Organization, role: str = "member", teams: tuple = ()) -> str:
    user = make_user(f"{role}-{len(teams)}")
    add_member(organization, user, role=role, teams=organization.teams.filter(slug__in=teams))
    return make_user_token(user)


def test_it_requires_credentials(acme: Organization) -> None:
    response = get(URL)

    assert response.status_code == 401, response.content
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_it_refuses_a_token_without_a_project_scope_before_the_lookup(
    acme: Organization,
) -> None:
    user = make_user("ada")
    add_member(acme, user, role="owner")
    token = make_user_token(user, scopes=["org:read"])

    assert get(URL, token).json() == FORBIDDEN
    assert get("/api/0/projects/nope/nope/", token).status_code == 403


def test_it_answers_404_for_an_unknown_organization_or_project(acme: Organization) -> None:
    token = member_token(acme, "owner")

    unknown_org = get("/api/0/projects/nope/web/", token)
    unknown_project = get("/api/0/projects/acme/nope/", token)

    assert unknown_org.status_code == 404, unknown_org.content
    assert unknown_org.json() == NOT_FOUND
    assert unknown_project.status_code == 404, unknown_project.content
    assert unknown_project.json() == NOT_FOUND


def test_it_does_not_find_a_project_through_another_organization(acme: Organization) -> None:
    other = make_org("other")
    make_project(other, "theirs")
    token = member_token(acme, "owner")

    response = get("/api/0/projects/acme/theirs/", token)

    assert response.status_code == 404, response.content


def test_it_refuses_a_non_member_and_a_foreign_organization_token(acme: Organization) -> None:
    outsider = make_user("eve")
    add_member(make_org("evil"), outsider, role="owner")

    assert get(URL, make_user_token(outsider)).json() == FORBIDDEN
    assert get(URL, make_org_token(make_org("other"), scopes=["project:read"])).status_code == 403


def test_it_refuses_a_member_outside_the_projects_teams(acme: Organization) -> None:
    response = get(URL, member_token(acme, "member"))

    assert response.status_code == 403, response.content
    assert response.json() == FORBIDDEN


def test_it_shows_the_project_to_a_member_of_its_team(acme: Organization) -> None:
    response = get(URL, member_token(acme, "member", ("frontend",)))

    assert response.status_code == 200, response.content
    assert response.json()["isMember"] is True


@pytest.mark.parametrize("role", ["admin", "manager", "owner"])
def test_it_shows_any_project_to_admins_managers_and_owners(acme: Organization, role: str) -> None:
    response = get("/api/0/projects/acme/backend/", member_token(acme, role))

    assert response.status_code == 200, response.content
    assert response.json()["isMember"] is False


def test_it_shows_any_project_to_an_organization_token_with_org_read(
    acme: Organization,
) -> None:
    token = make_org_token(acme, scopes=["org:read", "project:read"])

    response = get("/api/0/projects/acme/backend/", token)

    assert response.status_code == 200, response.content


def test_it_shows_any_project_to_an_organization_token_with_only_project_read(
    acme: Organization,
) -> None:
    # An organization token is organization-wide, not bound to teams (organizations/access.py).
    response = get("/api/0/projects/acme/backend/", make_org_token(acme, scopes=["project:read"]))

    assert response.status_code == 200, response.content
    assert response.json()["slug"] == "backend"


def test_it_refuses_an_organization_token_without_a_project_scope(acme: Organization) -> None:
    response = get(URL, make_org_token(acme, scopes=["org:read"]))

    assert response.status_code == 403, response.content
    assert response.json() == FORBIDDEN


def test_it_returns_the_project_with_its_organization_and_teams(acme: Organization) -> None:
    response = get(URL, member_token(acme, "member", ("frontend",)))

    body = response.json()
    project = Project.objects.get(slug="web")
    frontend = acme.teams.get(slug="frontend")
    assert body["id"] == str(project.pk)
    assert body["slug"] == "web"
    assert body["name"] == "Web"
    assert body["platform"] == "javascript"
    assert "dateCreated" in body
    assert body["hasAccess"] is True
    assert body["organization"]["slug"] == "acme"
    assert body["organization"]["id"] == str(acme.pk)
    assert body["organization"]["require2FA"] is False
    assert body["team"] == {"id": str(frontend.pk), "slug": "frontend", "name": "Frontend"}
    assert body["teams"] == [body["team"]]
    assert "project:read" in body["access"]


def test_it_finds_organization_and_project_by_numeric_id(acme: Organization) -> None:
    project = Project.objects.get(slug="web")
    token = make_org_token(acme, scopes=["org:read", "project:read"])

    response = get(f"/api/0/projects/{acme.pk}/{project.pk}/", token)

    assert response.status_code == 200, response.content
    assert response.json()["slug"] == "web"


def test_it_answers_options_without_credentials(acme: Organization) -> None:
    response = Client().options("/api/0/projects/nope/nope/")

    assert response.status_code == 200, response.content


def test_it_reads_the_project_once_however_many_teams_it_has(
    acme: Organization, django_assert_num_queries: Any
) -> None:
    web = Project.objects.get(organization=acme, slug="web")
    token = member_token(acme, "owner")
    get(URL, token)  # the first use of a token records it; later ones within a minute do not

    # The token comes from the access cache; the organization, membership, project, its
    # teams and its inbound filters (the `filters:*` options) from the database (provisioning
    # reads do not trust another process's cache): six queries, however many teams.
    with django_assert_num_queries(6):
        assert get(URL, token).status_code == 200
    web.teams.add(make_team(acme, "design"), make_team(acme, "mobile"))
    get(URL, token)  # the change cleared this process's cache: the token is read again once
    with django_assert_num_queries(6):
        response = get(URL, token)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["organization"]["slug"] == "acme"
    assert [team["slug"] for team in body["teams"]] == ["design", "frontend", "mobile"]
