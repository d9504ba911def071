"""The access cache (organizations.cache): a warm authenticated stats request reads nothing
from the database, and every change that matters is seen at once in the process making it and
within ACCESS_CACHE_TTL in every other process (two real gunicorn servers)."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from api_helpers import FORBIDDEN, NOT_FOUND, add_member, bearer, make_user, make_user_token
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from django.utils import timezone
from live_server import database_url, environment, free_port, gunicorn_server

import tsdb
from organizations import services
from organizations.models import (
    ApiToken,
    Organization,
    OrganizationMember,
    Project,
    ProjectKey,
    Team,
)
from tsdb.base import TSDBModel

ORG_STATS = "/api/0/organizations/acme/stats/"
PROJECT_STATS = "/api/0/projects/acme/api/stats/"
OTHER_PROJECT_STATS = "/api/0/projects/acme/web/stats/"
TEAM_STATS = "/api/0/teams/acme/backend/stats/"
ALL_READ = ["org:read", "project:read", "team:read"]

pytestmark = pytest.mark.django_db


def get(path: str, token: str, **params: Any) -> Any:
    return Client().get(path, params, **bearer(token))


def key_stats_url(key: ProjectKey) -> str:
    return f"/api/0/projects/acme/api/keys/{key.public_key}/stats/"


def total(body: Any) -> int:
    """The sum of the counts of any stats answer: a series, series by project, key stats."""
    if isinstance(body, dict):
        return sum(total(series) for series in body.values())
    if body and isinstance(body[0], dict):
        return sum(point["total"] for point in body)
    return sum(count for _, count in body)


@pytest.fixture
def credentials(
    request: pytest.FixtureRequest,
    organization: Organization,
    make_member: Callable[..., AbstractBaseUser],
    make_user_token: Callable[..., str],
    make_org_token: Callable[..., str],
    team: Team,
) -> str:
    """A token of the kind named by the test's `kind` parameter."""
    kind: str = request.param
    if kind == "owner token":
        return make_user_token(make_member("boss", role="owner"), ALL_READ)
    if kind == "member token":
        return make_user_token(make_member("dev", role="member", teams=[team]), ALL_READ)
    return make_org_token(organization, ALL_READ)


@pytest.mark.parametrize(
    "credentials", ["owner token", "member token", "organization token"], indirect=True
)
@pytest.mark.parametrize(
    ("path", "params"),
    [
        (ORG_STATS, {}),
        (ORG_STATS, {"group": "project"}),
        (ORG_STATS, {"stat": "rejected", "resolution": "1d"}),
        (PROJECT_STATS, {}),
        (TEAM_STATS, {}),
        ("key", {}),
    ],
    ids=["organization", "group=project", "organization 1d", "project", "team", "key"],
)
def test_a_warm_stats_request_makes_no_database_query(
    credentials: str,
    project: Project,
    project_key: ProjectKey,
    django_assert_num_queries: Any,
    path: str,
    params: dict[str, str],
) -> None:
    path = key_stats_url(project_key) if path == "key" else path
    tsdb.backend.incr(TSDBModel.project_total_received, project.pk, count=3)
    tsdb.backend.incr(TSDBModel.project, project.pk, count=3)  # team stats: `generated`
    tsdb.backend.incr(TSDBModel.organization_total_received, project.organization_id, count=3)
    tsdb.backend.incr(TSDBModel.organization_total_rejected, project.organization_id, count=3)
    tsdb.backend.incr(TSDBModel.key_total_received, project_key.pk, count=3)
    cold = get(path, credentials, **params)

    with django_assert_num_queries(0):
        warm = get(path, credentials, **params)

    assert cold.status_code == 200, cold.content
    assert warm.status_code == 200, warm.content
    assert warm.json() == cold.json()
    assert total(warm.json()) == 3


def test_a_deleted_token_is_refused_at_once(owner_token: str, project: Project) -> None:
    assert get(ORG_STATS, owner_token).status_code == 200
    ApiToken.objects.get().delete()

    assert get(ORG_STATS, owner_token).json() == {"detail": "Invalid token"}


def test_a_cached_token_is_refused_at_its_expiry_exactly(
    owner: AbstractBaseUser,
    make_user_token: Callable[..., str],
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    django_assert_num_queries: Any,
) -> None:
    expires_at = timezone.now() + timedelta(hours=1)
    token = make_user_token(owner, ALL_READ, expires_at=expires_at)
    assert get(ORG_STATS, token).status_code == 200
    monkeypatch.setattr(timezone, "now", lambda: expires_at - timedelta(microseconds=1))
    assert get(ORG_STATS, token).status_code == 200
    monkeypatch.setattr(timezone, "now", lambda: expires_at)

    with django_assert_num_queries(0):  # refused from the cached token, not a fresh read
        response = get(ORG_STATS, token)

    assert response.status_code == 401, response.content
    assert response.json() == {"detail": "Token expired"}


def test_an_expiry_moved_earlier_applies_at_once(
    owner: AbstractBaseUser, make_user_token: Callable[..., str], project: Project
) -> None:
    token = make_user_token(owner, ALL_READ)
    assert get(ORG_STATS, token).status_code == 200
    row = ApiToken.objects.get()
    row.expires_at = timezone.now() - timedelta(seconds=1)
    row.save()

    assert get(ORG_STATS, token).json() == {"detail": "Token expired"}


def test_a_deactivated_user_is_refused_at_once(owner: Any, owner_token: str) -> None:
    assert get(ORG_STATS, owner_token).status_code == 200
    owner.is_active = False
    owner.save()

    assert get(ORG_STATS, owner_token).json() == {"detail": "User inactive or deleted"}


def test_a_removed_member_is_refused_at_once(member: Any, member_token: str) -> None:
    assert get(ORG_STATS, member_token).status_code == 200
    OrganizationMember.objects.get(user=member).delete()

    response = get(ORG_STATS, member_token)

    assert response.status_code == 403, response.content
    assert response.json() == {"detail": FORBIDDEN}


def test_a_role_change_applies_at_once(
    member: Any, member_token: str, project: Project, other_project: Project
) -> None:
    assert get(OTHER_PROJECT_STATS, member_token).status_code == 403
    membership = OrganizationMember.objects.get(user=member)
    membership.role = "admin"  # admins see every project, not only their teams'
    membership.save()

    assert get(OTHER_PROJECT_STATS, member_token).status_code == 200
    grouped = get(ORG_STATS, member_token, group="project").json()
    assert sorted(grouped) == sorted([str(project.pk), str(other_project.pk)])


def test_a_member_moved_between_teams_sees_the_other_projects_at_once(
    member: Any,
    member_token: str,
    team: Team,
    other_team: Team,
    project: Project,
    other_project: Project,
) -> None:
    assert get(PROJECT_STATS, member_token).status_code == 200
    assert list(get(ORG_STATS, member_token, group="project").json()) == [str(project.pk)]
    membership = OrganizationMember.objects.get(user=member)
    membership.teams.remove(team)
    membership.teams.add(other_team)

    assert get(PROJECT_STATS, member_token).status_code == 403
    assert get(OTHER_PROJECT_STATS, member_token).status_code == 200
    assert list(get(ORG_STATS, member_token, group="project").json()) == [str(other_project.pk)]


def test_a_project_moved_to_another_team_changes_who_sees_it_at_once(
    member_token: str, team: Team, other_team: Team, project: Project
) -> None:
    tsdb.backend.incr(TSDBModel.project, project.pk, count=5)
    assert get(PROJECT_STATS, member_token).status_code == 200
    assert sum(count for _, count in get(TEAM_STATS, member_token).json()) == 5
    project.teams.set([other_team])

    assert get(PROJECT_STATS, member_token).status_code == 403
    assert get(TEAM_STATS, member_token).json() == []
    other_team.projects.remove(project)
    team.projects.add(project)  # the reverse side of the same relation
    assert get(PROJECT_STATS, member_token).status_code == 200


def test_a_deleted_project_is_gone_at_once(owner_token: str, project: Project) -> None:
    assert get(PROJECT_STATS, owner_token).status_code == 200
    project_id = str(project.pk)
    assert project_id in get(ORG_STATS, owner_token, group="project").json()
    project.delete()

    assert get(PROJECT_STATS, owner_token).json() == {"detail": NOT_FOUND}
    assert get(ORG_STATS, owner_token, group="project").json() == []


def test_a_renamed_project_answers_under_its_new_slug_at_once(
    owner_token: str, project: Project
) -> None:
    assert get(PROJECT_STATS, owner_token).status_code == 200
    project.slug = "api-v2"
    project.save()

    assert get(PROJECT_STATS, owner_token).status_code == 404
    assert get("/api/0/projects/acme/api-v2/stats/", owner_token).status_code == 200


def test_an_organization_slug_change_applies_at_once(
    organization: Organization, owner_token: str
) -> None:
    assert get(ORG_STATS, owner_token).status_code == 200
    organization.slug = "acme-corp"
    organization.save()

    assert get(ORG_STATS, owner_token).json() == {"detail": NOT_FOUND}
    assert get("/api/0/organizations/acme-corp/stats/", owner_token).status_code == 200


def test_a_new_organization_is_found_at_once(owner: Any, owner_token: str) -> None:
    # "initech" is looked up (and its absence cached) before it exists.
    assert get("/api/0/organizations/initech/stats/", owner_token).status_code == 404
    initech = Organization.objects.create(slug="initech", name="Initech")
    add_member(initech, owner, role="owner")

    assert get("/api/0/organizations/initech/stats/", owner_token).status_code == 200


def test_a_deleted_key_is_gone_at_once(owner_token: str, project_key: ProjectKey) -> None:
    assert get(key_stats_url(project_key), owner_token).status_code == 200
    project_key.delete()

    assert get(key_stats_url(project_key), owner_token).json() == {"detail": NOT_FOUND}


def test_a_team_gaining_a_project_sums_it_at_once(
    organization: Organization, owner_token: str, team: Team, project: Project
) -> None:
    second = Project.objects.create(organization=organization, slug="worker", name="Worker")
    tsdb.backend.incr(TSDBModel.project, project.pk, count=2)
    tsdb.backend.incr(TSDBModel.project, second.pk, count=3)
    assert sum(count for _, count in get(TEAM_STATS, owner_token).json()) == 2
    second.teams.add(team)

    assert sum(count for _, count in get(TEAM_STATS, owner_token).json()) == 5


def test_a_bulk_update_without_signals_is_seen_within_the_ttl(
    settings: Any, owner_token: str, project: Project
) -> None:
    settings.ACCESS_CACHE_TTL = 0.5
    assert get(ORG_STATS, owner_token).status_code == 200
    ApiToken.objects.update(revoked_at=timezone.now())  # QuerySet.update sends no signal

    time.sleep(0.6)

    assert get(ORG_STATS, owner_token).json() == {"detail": "Invalid token"}


def test_last_use_is_written_once_a_minute_not_per_request(
    owner_token: str,
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    django_assert_num_queries: Any,
) -> None:
    get(ORG_STATS, owner_token)
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    with django_assert_num_queries(0):
        get(ORG_STATS, owner_token)
    later = first + timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)

    with django_assert_num_queries(1):  # the one UPDATE of last_used_at
        get(ORG_STATS, owner_token)
    with django_assert_num_queries(0):
        get(ORG_STATS, owner_token)

    assert ApiToken.objects.get().last_used_at == later


# -- across processes ---------------------------------------------------------------------------


def live_get(port: int, path: str, token: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def seconds_until(
    ports: list[int], path: str, token: str, status: int, timeout: float
) -> list[float]:
    """Per server, the seconds until `path` first answers `status` (polling every 0.1 s)."""
    start = time.monotonic()
    waited: dict[int, float] = {}
    while len(waited) < len(ports) and time.monotonic() - start < timeout:
        for port in ports:
            if port not in waited and live_get(port, path, token)[0] == status:
                waited[port] = time.monotonic() - start
        time.sleep(0.1)
    return [waited.get(port, float("inf")) for port in ports]


def test_a_revocation_reaches_every_gunicorn_process_within_10_seconds(
    transactional_db: None, redis_prefix: str
) -> None:
    organization = Organization.objects.create(slug="acme", name="Acme")
    owner = make_user("olivia")
    member = make_user("mo")
    add_member(organization, owner, role="owner")
    add_member(organization, member, role="member")
    owner_token = make_user_token(owner, ALL_READ)
    member_token = make_user_token(member, ALL_READ)
    env = environment(
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        TSDB_PREFIX=redis_prefix + "ts:",
        QUOTAS_PREFIX=redis_prefix + "quota:",
        DEBUG="False",
        SECRET_KEY="access-cache-tests-" + uuid.uuid4().hex,
        ACCESS_CACHE_TTL="5",
    )
    servers = [free_port(), free_port()]
    with gunicorn_server(servers[0], env), gunicorn_server(servers[1], env):
        for port in servers:  # each process caches both tokens and both memberships
            assert live_get(port, ORG_STATS, owner_token)[0] == 200
            assert live_get(port, ORG_STATS, member_token)[0] == 200

        services.token_revoke(token=ApiToken.objects.get(user=owner))
        revoked_after = seconds_until(servers, ORG_STATS, owner_token, 401, timeout=15)
        OrganizationMember.objects.get(user=member).delete()
        removed_after = seconds_until(servers, ORG_STATS, member_token, 403, timeout=15)

        assert max(revoked_after) <= 10, revoked_after
        assert max(removed_after) <= 10, removed_after
        for port in servers:
            assert live_get(port, ORG_STATS, owner_token) == (401, {"detail": "Invalid token"})
            assert live_get(port, ORG_STATS, member_token) == (403, {"detail": FORBIDDEN})


def test_a_cached_lookup_hands_out_copies(organization: Organization, project: Project) -> None:
    from organizations import selectors

    first = selectors.project_get(organization=organization, id_or_slug="api", cached=True)
    assert first is not None
    first.name = "changed by a caller"
    first.organization = Organization(slug="elsewhere")
    second = selectors.project_get(organization=organization, id_or_slug="api", cached=True)

    assert second is not None
    assert second is not first
    assert second.name == "API"
    assert second.organization.slug == "acme"
    assert not second._state.adding
    assert second._state.db == "default"


def test_provisioning_reads_see_a_change_made_elsewhere_at_once(
    owner: Any, owner_token: str, organization: Organization, team: Team
) -> None:
    """A tool that writes through one process and reads back through another must see its
    write: the provisioning endpoints read from the database, not the access cache. Writes
    without signals stand in for another process's (they leave this process's cache as it
    was)."""
    url = f"/api/0/teams/acme/{team.slug}/"
    before = get(url, owner_token)
    assert before.status_code == 200, before.content
    assert (before.json()["hasAccess"], before.json()["isMember"]) == (True, False)

    OrganizationMember.objects.filter(user=owner).update(role="member")
    [new_team] = Team.objects.bulk_create([Team(organization=organization, slug="ops", name="Ops")])
    member = OrganizationMember.objects.get(user=owner)
    OrganizationMember.teams.through.objects.bulk_create(
        [OrganizationMember.teams.through(organizationmember=member, team=new_team)]
    )

    after = get(url, owner_token).json()
    assert (after["hasAccess"], after["isMember"]) == (False, False)
    created = get("/api/0/teams/acme/ops/", owner_token)
    assert created.status_code == 200, created.content
    assert (created.json()["isMember"], created.json()["hasAccess"]) == (True, True)
    # The stats endpoints still answer from this process's cache until its TTL: the owner's
    # cached role lets it read the team stats of a team it is not in.
    assert get(TEAM_STATS, owner_token).status_code == 200
