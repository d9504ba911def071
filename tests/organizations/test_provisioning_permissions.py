"""Every provisioning endpoint through HTTP with each organization role, a token missing the
endpoint's scopes, organization tokens (own and foreign) and another organization's owner:
2xx or 403, and a refused request changes nothing (organizations/provisioning.py,
ingest/api.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from api_helpers import add_member, make_org, make_org_token, make_project, make_team, make_user
from api_helpers import make_user_token as user_token
from django.db import transaction
from provisioning_helpers import assert_json_types, call, snapshot

from organizations.models import Organization, OrganizationMember, ProjectKey
from organizations.scopes import ALL_SCOPES, ROLE_ORDER

pytestmark = pytest.mark.django_db

FORBIDDEN = {"detail": "You do not have permission to perform this action."}
MEMBER_TEAM = ("member:write", "member:admin", "team:write", "team:admin")
READ = {r: (f"{r}:read", f"{r}:write", f"{r}:admin") for r in ("org", "team", "project", "member")}


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # formatted with World.ids
    scopes: tuple[str, ...]  # any of them lets the token through
    min_role: str  # the lowest organization role that succeeds
    ok: int
    body: Any = None
    writes: bool = True  # a success changes stored rows

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


CASES = [
    Case("GET", "/api/0/organizations/acme/", READ["org"], "member", 200),
    Case("PUT", "/api/0/organizations/acme/", ("org:write", "org:admin"), "manager", 200,
         {"name": "Acme 2"}),
    Case("GET", "/api/0/organizations/acme/teams/", READ["org"], "member", 200),
    Case("POST", "/api/0/organizations/acme/teams/",
         ("org:write", "org:admin", "team:write", "team:admin"), "admin", 201, {"slug": "new"}),
    Case("GET", "/api/0/teams/acme/backend/", READ["team"], "member", 200),
    Case("PUT", "/api/0/teams/acme/backend/", ("team:write", "team:admin"), "admin", 200,
         {"name": "Back"}),
    Case("DELETE", "/api/0/teams/acme/frontend/", ("team:admin",), "admin", 204),
    Case("GET", "/api/0/teams/acme/backend/projects/", READ["project"], "member", 200),
    Case("POST", "/api/0/teams/acme/backend/projects/", ("project:write", "project:admin"),
         "admin", 201, {"name": "New"}),
    Case("GET", "/api/0/projects/acme/api/", READ["project"], "member", 200),
    Case("PUT", "/api/0/projects/acme/api/", ("project:write", "project:admin"), "admin", 200,
         {"name": "API 2", "options": {"filters:releases": "1.*"}}),
    Case("DELETE", "/api/0/projects/acme/api/", ("project:admin",), "admin", 204),
    Case("GET", "/api/0/projects/acme/api/teams/", READ["project"], "member", 200),
    Case("POST", "/api/0/projects/acme/api/teams/frontend/", ("project:write", "project:admin"),
         "admin", 201),
    Case("DELETE", "/api/0/projects/acme/api/teams/backend/",
         ("project:write", "project:admin"), "admin", 200),
    Case("GET", "/api/0/projects/acme/api/keys/", READ["project"], "member", 200),
    Case("POST", "/api/0/projects/acme/api/keys/", ("project:write", "project:admin"), "admin",
         201, {"name": "ci"}),
    Case("GET", "/api/0/projects/acme/api/keys/{key}/", READ["project"], "member", 200),
    Case("PUT", "/api/0/projects/acme/api/keys/{key}/", ("project:write", "project:admin"),
         "admin", 200, {"name": "renamed", "rateLimit": {"count": 1, "window": 60}}),
    Case("DELETE", "/api/0/projects/acme/api/keys/{key}/", ("project:admin",), "admin", 204),
    Case("GET", "/api/0/projects/acme/api/filters/", READ["project"], "member", 200),
    Case("PUT", "/api/0/projects/acme/api/filters/localhost/",
         ("project:write", "project:admin"), "admin", 204, {"active": True}),
    Case("GET", "/api/0/organizations/acme/members/", READ["member"], "member", 200),
    Case("POST", "/api/0/organizations/acme/members/",
         ("member:write", "member:admin", "member:invite"), "manager", 201,
         {"email": "new@example.com"}),
    Case("GET", "/api/0/organizations/acme/members/{target}/", READ["member"], "member", 200),
    Case("PUT", "/api/0/organizations/acme/members/{target}/", ("member:write", "member:admin"),
         "manager", 200, {"orgRole": "admin"}),
    Case("DELETE", "/api/0/organizations/acme/members/{target}/", READ["member"], "manager",
         204),
    Case("POST", "/api/0/organizations/acme/members/{target}/teams/backend/", MEMBER_TEAM,
         "admin", 201),
    Case("PUT", "/api/0/organizations/acme/members/{target}/teams/frontend/", MEMBER_TEAM,
         "admin", 200, {"teamRole": "contributor"}, writes=False),
    Case("DELETE", "/api/0/organizations/acme/members/{target}/teams/frontend/", MEMBER_TEAM,
         "admin", 200),
]  # fmt: skip


@dataclass
class World:
    acme: Organization
    globex: Organization
    ids: dict[str, Any]


@pytest.fixture
def world() -> World:
    acme, globex = make_org("acme"), make_org("globex")
    backend, frontend = make_team(acme, "backend"), make_team(acme, "frontend")
    api = make_project(acme, "api", teams=[backend])
    make_project(acme, "web", teams=[frontend])
    key = ProjectKey.objects.create(project=api)
    target = add_member(acme, make_user("target"), role="member", teams=[frontend])
    make_project(globex, "theirs", teams=[make_team(globex, "ops")])
    return World(acme, globex, {"key": key.public_key, "target": target.pk})


def role_token(organization: Organization, role: str, scopes: Any = ALL_SCOPES) -> str:
    user = make_user(f"{role}-{organization.slug}-{OrganizationMember.objects.count()}")
    teams = organization.teams.filter(slug="backend") if role == "member" else []
    add_member(organization, user, role=role, teams=teams)
    return user_token(user, scopes)


def rungs(world: World, case: Case) -> list[tuple[str, str, bool]]:
    """(rung, token, succeeds)."""
    rank = ROLE_ORDER.index
    without = [scope for scope in ALL_SCOPES if scope not in case.scopes]
    result = [
        (f"{role} role", role_token(world.acme, role), rank(role) >= rank(case.min_role))
        for role in ROLE_ORDER
    ]
    result += [
        ("owner token missing the scopes", role_token(world.acme, "owner", without), False),
        ("organization token", make_org_token(world.acme, ALL_SCOPES), True),
        ("organization token missing the scopes", make_org_token(world.acme, without), False),
        ("another organization's token", make_org_token(world.globex, ALL_SCOPES), False),
        ("another organization's owner", role_token(world.globex, "owner"), False),
    ]
    return result


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_role_and_scope_gets_2xx_or_403(world: World, case: Case) -> None:
    path = case.path.format(**world.ids)
    for rung, token, succeeds in rungs(world, case):
        with transaction.atomic():
            before = snapshot()
            response = call(case.method, path, token, case.body)
            if succeeds:
                assert response.status_code == case.ok, (rung, response.content)
                assert response["Content-Type"] == "application/json", rung
                if response.content:
                    assert_json_types(response.json())
                if case.method != "GET" and case.writes:
                    assert snapshot() != before, rung
            else:
                assert response.status_code == 403, (rung, response.content)
                assert response.json() == FORBIDDEN, rung
                assert snapshot() == before, rung
            transaction.set_rollback(True)


FOREIGN = [
    ("GET", "/api/0/teams/acme/ops/", None),
    ("PUT", "/api/0/teams/acme/ops/", {"name": "Mine"}),
    ("DELETE", "/api/0/teams/acme/ops/", None),
    ("POST", "/api/0/teams/acme/ops/projects/", {"name": "Sneaky"}),
    ("GET", "/api/0/projects/acme/theirs/", None),
    ("PUT", "/api/0/projects/acme/theirs/", {"name": "Mine"}),
    ("DELETE", "/api/0/projects/acme/theirs/", None),
    ("GET", "/api/0/projects/acme/theirs/keys/", None),
    ("POST", "/api/0/projects/acme/theirs/keys/", {"name": "mine"}),
    ("GET", "/api/0/projects/acme/{their_project_id}/keys/{their_key}/", None),
    ("GET", "/api/0/projects/acme/api/keys/{their_key}/", None),
    ("PUT", "/api/0/projects/acme/api/keys/{their_key}/", {"isActive": False}),
    ("DELETE", "/api/0/projects/acme/api/keys/{their_key}/", None),
    ("POST", "/api/0/projects/acme/api/teams/ops/", None),
    ("DELETE", "/api/0/projects/acme/theirs/teams/ops/", None),
    ("PUT", "/api/0/projects/acme/theirs/filters/localhost/", {"active": True}),
    ("GET", "/api/0/organizations/acme/members/{their_member}/", None),
    ("PUT", "/api/0/organizations/acme/members/{their_member}/", {"orgRole": "member"}),
    ("DELETE", "/api/0/organizations/acme/members/{their_member}/", None),
    ("POST", "/api/0/organizations/acme/members/", {"email": "x@example.com", "teams": ["ops"]}),
    ("POST", "/api/0/organizations/acme/members/{their_member}/teams/backend/", None),
    ("DELETE", "/api/0/organizations/acme/members/{their_member}/teams/ops/", None),
    ("PUT", "/api/0/organizations/globex/", {"name": "Mine"}),
    ("POST", "/api/0/organizations/globex/teams/", {"slug": "mine"}),
    ("DELETE", "/api/0/projects/globex/theirs/", None),
    ("DELETE", "/api/0/projects/globex/theirs/keys/{their_key}/", None),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), FOREIGN, ids=[f"{m} {p}" for m, p, _ in FOREIGN]
)
def test_another_organizations_objects_are_never_reached(
    world: World, method: str, path: str, body: Any
) -> None:
    their_project = world.globex.projects.get()
    their_key = ProjectKey.objects.create(project=their_project)
    their_member = add_member(world.globex, make_user("their-owner"), role="owner")
    path = path.format(
        their_key=their_key.public_key,
        their_project_id=their_project.pk,
        their_member=their_member.pk,
    )
    tokens = (role_token(world.acme, "owner"), make_org_token(world.acme, ALL_SCOPES))
    before = snapshot()

    for token in tokens:
        response = call(method, path, token, body)

        assert response.status_code in (400, 403, 404), (path, response.content)
        assert "theirs" not in response.content.decode()
        assert snapshot() == before
