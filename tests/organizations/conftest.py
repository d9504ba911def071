"""Shared fixtures for the organizations API tests.

An organization `acme` with two teams (`backend`, `frontend`) and a project in each, a DSN
key, one user per role (the `member` belongs to `backend` only), an outsider, a second
organization, and token factories that write tokens straight through the models.

`ladder_headers(rung, scopes)` builds the credentials of one rung of the permission ladder
(`api_helpers.LADDER`) for an endpoint needing `scopes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import api_helpers
import pytest
from api_helpers import EndpointScopes, bearer
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from organizations.models import (
    ApiToken,
    Organization,
    Project,
    ProjectKey,
    Team,
)
from organizations.scopes import ALL_SCOPES

UserTokenFactory = Callable[..., str]
OrgTokenFactory = Callable[..., str]


@pytest.fixture
def organization(db: None) -> Organization:
    return Organization.objects.create(slug="acme", name="Acme")


@pytest.fixture
def other_organization(db: None) -> Organization:
    return Organization.objects.create(slug="globex", name="Globex")


@pytest.fixture
def team(organization: Organization) -> Team:
    return Team.objects.create(organization=organization, slug="backend", name="Backend")


@pytest.fixture
def other_team(organization: Organization) -> Team:
    return Team.objects.create(organization=organization, slug="frontend", name="Frontend")


@pytest.fixture
def project(organization: Organization, team: Team) -> Project:
    project = Project.objects.create(organization=organization, slug="api", name="API")
    project.teams.add(team)
    return project


@pytest.fixture
def other_project(organization: Organization, other_team: Team) -> Project:
    """A project of `frontend`: invisible to the `member` user."""
    project = Project.objects.create(organization=organization, slug="web", name="Web")
    project.teams.add(other_team)
    return project


@pytest.fixture
def project_key(project: Project) -> ProjectKey:
    return ProjectKey.objects.create(project=project, label="Default")


@pytest.fixture
def make_user(db: None) -> Callable[..., AbstractBaseUser]:
    """`make_user(username, **fields)` -> the user (api_helpers.make_user)."""
    return api_helpers.make_user


@pytest.fixture
def make_member(organization: Organization) -> Callable[..., AbstractBaseUser]:
    """`make_member(username, role="member", teams=(), org=acme, **user_fields)` -> the user."""

    def make(
        username: str,
        role: str = "member",
        teams: Iterable[Team] = (),
        org: Organization | None = None,
        **user_fields: Any,
    ) -> AbstractBaseUser:
        user = api_helpers.make_user(username, **user_fields)
        api_helpers.add_member(org or organization, user, role=role, teams=teams)
        return user

    return make


@pytest.fixture
def owner(make_member: Callable[..., AbstractBaseUser]) -> AbstractBaseUser:
    return make_member("olivia", role="owner")


@pytest.fixture
def manager(make_member: Callable[..., AbstractBaseUser]) -> AbstractBaseUser:
    return make_member("manny", role="manager")


@pytest.fixture
def admin_user(make_member: Callable[..., AbstractBaseUser]) -> AbstractBaseUser:
    """An organization member with the `admin` role (not a Django superuser)."""
    return make_member("adele", role="admin")


@pytest.fixture
def member(make_member: Callable[..., AbstractBaseUser], team: Team) -> AbstractBaseUser:
    """A `member` of `acme`, in team `backend` only."""
    return make_member("mo", role="member", teams=[team])


@pytest.fixture
def outsider(make_user: Callable[..., AbstractBaseUser]) -> AbstractBaseUser:
    """A user who belongs to no organization."""
    return make_user("otto")


@pytest.fixture
def make_user_token(db: None) -> UserTokenFactory:
    """`make_user_token(user, scopes=DEFAULT_TOKEN_SCOPES, **fields)` -> the plaintext."""
    return api_helpers.make_user_token


@pytest.fixture
def make_org_token(db: None) -> OrgTokenFactory:
    """`make_org_token(organization, scopes=("org:read",), **fields)` -> the plaintext."""
    return api_helpers.make_org_token


@pytest.fixture
def owner_token(owner: AbstractBaseUser, make_user_token: UserTokenFactory) -> str:
    return make_user_token(owner)


@pytest.fixture
def member_token(member: AbstractBaseUser, make_user_token: UserTokenFactory) -> str:
    return make_user_token(member)


@pytest.fixture
def ladder_headers(
    organization: Organization,
    other_organization: Organization,
    make_member: Callable[..., AbstractBaseUser],
    make_user: Callable[..., AbstractBaseUser],
    make_user_token: UserTokenFactory,
    make_org_token: OrgTokenFactory,
    team: Team,
) -> Callable[[str, EndpointScopes], dict[str, str]]:
    """`ladder_headers(rung, scopes)` -> test-client headers for that rung of `LADDER`."""

    def build(rung: str, scopes: EndpointScopes) -> dict[str, str]:
        past = timezone.now() - timedelta(minutes=1)
        if rung == "no credentials":
            return {}
        if rung == "bearer without token":
            return {"HTTP_AUTHORIZATION": "Bearer"}
        if rung == "token with spaces":
            return {"HTTP_AUTHORIZATION": "Bearer sntryu_abc def"}
        if rung == "unknown token":
            return bearer(ApiToken.generate_plaintext())
        if rung == "not a token":
            return bearer("lol")
        if rung == "expired token":
            owner = make_member("expired-owner", role="owner")
            return bearer(make_user_token(owner, [scopes.read], expires_at=past))
        if rung == "revoked token":
            owner = make_member("revoked-owner", role="owner")
            return bearer(make_user_token(owner, [scopes.read], revoked_at=past))
        if rung == "inactive user":
            owner = make_member("inactive-owner", role="owner", is_active=False)
            return bearer(make_user_token(owner, [scopes.read]))
        if rung == "token missing the scope":
            owner = make_member("narrow-owner", role="owner")
            return bearer(make_user_token(owner, [scopes.unrelated]))
        if rung == "member whose role lacks the scope":
            member = make_member("write-member", role="member", teams=[team])
            return bearer(make_user_token(member, [scopes.write]))
        if rung == "non-member":
            stranger = make_user("stranger")
            return bearer(make_user_token(stranger, ALL_SCOPES))
        if rung == "other organization's org token":
            return bearer(make_org_token(other_organization, ALL_SCOPES))
        if rung == "org token without any scope":
            return bearer(make_org_token(organization, [scopes.unrelated]))
        if rung == "owner token":
            return bearer(make_user_token(make_member("good-owner", role="owner"), [scopes.read]))
        if rung == "owner token with the write scope":
            owner = make_member("write-owner", role="owner")
            return bearer(make_user_token(owner, [scopes.write]))
        if rung == "member token":
            member = make_member("team-member", role="member", teams=[team])
            return bearer(make_user_token(member, [scopes.read]))
        if rung == "org token":
            return bearer(make_org_token(organization, [scopes.read]))
        raise AssertionError(f"unknown ladder rung {rung!r}")

    return build
