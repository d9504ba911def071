"""The management commands scripts and the README use: their output and every error path."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from api_helpers import authenticate
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from live_server import database_url
from rest_framework import exceptions

import tsdb
from organizations.models import (
    ApiToken,
    Organization,
    OrganizationMember,
    OrgAuthToken,
    Project,
    ProjectKey,
    Team,
)
from tsdb.base import TSDBModel

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]


def run(*args: str) -> list[str]:
    """Run a command; its stdout lines."""
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture
def acme() -> Organization:
    run("createorg", "acme", "--owner", "alice")
    return Organization.objects.get(slug="acme")


# --- createorg ----------------------------------------------------------------------------


def test_createorg_creates_the_organization_named_after_its_slug() -> None:
    lines = run("createorg", "acme")

    organization = Organization.objects.get(slug="acme")
    assert organization.name == "acme"
    assert lines[-1] == f"Created organization acme (id {organization.pk})"
    assert not OrganizationMember.objects.exists()


def test_createorg_takes_a_name() -> None:
    run("createorg", "acme", "--name", "Acme Corp")

    assert Organization.objects.get(slug="acme").name == "Acme Corp"


def test_createorg_creates_a_missing_owner_and_makes_them_owner() -> None:
    run("createorg", "acme", "--owner", "alice")

    member = OrganizationMember.objects.get(organization__slug="acme", user__username="alice")
    assert member.role == "owner"
    assert not member.user.has_usable_password()


def test_createorg_makes_an_existing_user_owner(django_user_model: Any) -> None:
    bob = django_user_model.objects.create_user(username="bob", password="secret-pass-1")

    run("createorg", "acme", "--owner", "bob")

    assert OrganizationMember.objects.get(user=bob).role == "owner"
    bob.refresh_from_db()
    assert bob.check_password("secret-pass-1")


@pytest.mark.parametrize("slug", ["Acme", "acme corp", "1234", "acme!"])
def test_createorg_refuses_a_bad_slug_and_creates_nothing(slug: str) -> None:
    with pytest.raises(CommandError, match="slug"):
        run("createorg", slug, "--owner", "alice")

    assert not Organization.objects.exists()
    assert not get_user_model().objects.filter(username="alice").exists()


def test_createorg_refuses_a_duplicate_slug(acme: Organization) -> None:
    with pytest.raises(CommandError, match="already exists"):
        run("createorg", "acme", "--owner", "carol")

    assert not get_user_model().objects.filter(username="carol").exists()


def test_createorg_refuses_a_bad_owner_username() -> None:
    with pytest.raises(CommandError, match="username"):
        run("createorg", "acme", "--owner", "no spaces please")

    assert not Organization.objects.exists()


def test_createorg_exits_nonzero_with_a_clear_message_from_the_shell() -> None:
    env = {**os.environ, "DATABASE_URL": database_url()}
    result = subprocess.run(
        [sys.executable, "manage.py", "createorg", "Not A Slug"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("CommandError: slug: "), result.stderr
    assert "Enter a slug of lowercase letters" in result.stderr
    assert "Traceback" not in result.stderr


# --- createproject ------------------------------------------------------------------------


def test_createproject_prints_the_project_id_then_the_dsn_last(acme: Organization) -> None:
    lines = run("createproject", "acme", "api")

    project = Project.objects.get(organization=acme, slug="api")
    key = project.keys.get()
    assert lines == [str(project.pk), f"http://{key.public_key}@127.0.0.1:8000/{project.pk}"]
    assert key.is_active
    assert key.rate_limit_count is None
    assert list(project.teams.all()) == []


def test_createproject_builds_the_dsn_from_the_public_url(
    acme: Organization, settings: Any
) -> None:
    settings.STATSAPI_PUBLIC_URL = "https://stats.example.com/sentry"

    lines = run("createproject", "acme", "api")

    key = ProjectKey.objects.get()
    assert lines[-1] == f"https://{key.public_key}@stats.example.com/sentry/{key.project_id}"


def test_createproject_creates_a_missing_team(acme: Organization) -> None:
    run("createproject", "acme", "api", "--team", "backend")

    project = Project.objects.get(slug="api")
    assert [team.slug for team in project.teams.all()] == ["backend"]
    assert Team.objects.get(slug="backend").organization == acme


def test_createproject_reuses_an_existing_team(acme: Organization) -> None:
    run("createproject", "acme", "api", "--team", "backend")
    run("createproject", "acme", "web", "--team", "backend")

    team = Team.objects.get()
    assert sorted(project.slug for project in team.projects.all()) == ["api", "web"]


def test_createproject_sets_the_rate_limit_of_the_first_key(acme: Organization) -> None:
    run("createproject", "acme", "api", "--rate-limit", "3/60")

    key = ProjectKey.objects.get()
    assert (key.rate_limit_count, key.rate_limit_window) == (3, 60)


@pytest.mark.parametrize("value", ["3", "3/", "three/60", "0/60", "3/0", "-3/60", "3/60/1"])
def test_createproject_refuses_a_bad_rate_limit_and_creates_nothing(
    acme: Organization, value: str
) -> None:
    with pytest.raises(CommandError, match="Rate limit"):
        run("createproject", "acme", "api", "--team", "backend", f"--rate-limit={value}")

    assert not Project.objects.exists()
    assert not Team.objects.exists()


def test_createproject_refuses_an_unknown_organization() -> None:
    with pytest.raises(CommandError, match="Organization 'nope' does not exist"):
        run("createproject", "nope", "api")

    assert not Project.objects.exists()


def test_createproject_refuses_a_bad_slug_and_creates_no_team(acme: Organization) -> None:
    with pytest.raises(CommandError, match="slug"):
        run("createproject", "acme", "API Server", "--team", "backend")

    assert not Team.objects.exists()
    assert not ProjectKey.objects.exists()


def test_createproject_refuses_a_bad_team_slug(acme: Organization) -> None:
    with pytest.raises(CommandError, match="slug"):
        run("createproject", "acme", "api", "--team", "Back End")

    assert not Project.objects.exists()


def test_createproject_refuses_a_duplicate_and_keeps_the_first(acme: Organization) -> None:
    run("createproject", "acme", "api")

    with pytest.raises(CommandError, match="already exists"):
        run("createproject", "acme", "api", "--rate-limit", "1/1")

    assert ProjectKey.objects.get().rate_limit_count is None


# --- createtoken / createorgtoken ---------------------------------------------------------


def test_createtoken_prints_a_working_token_alone_on_the_last_line(acme: Organization) -> None:
    lines = run("createtoken", "alice")

    plaintext = lines[-1]
    assert plaintext.startswith("sntryu_")
    assert len(plaintext) == 71
    user, token = authenticate(plaintext)
    assert user.username == "alice"
    assert sorted(token.scopes) == ["member:read", "org:read", "project:read", "team:read"]
    assert token.expires_at is None
    assert plaintext not in "\n".join(lines[:-1])


def test_createtoken_takes_repeated_and_grouped_scopes(acme: Organization) -> None:
    run("createtoken", "alice", "--scope", "org:read", "--scope", "project:write", "team:read")

    token = ApiToken.objects.get()
    assert token.scopes == ["org:read", "project:write", "team:read"]


def test_createtoken_sets_the_expiry(acme: Organization) -> None:
    before = timezone.now()

    run("createtoken", "alice", "--expires-in", "3600")

    token = ApiToken.objects.get()
    assert token.expires_at is not None
    assert (
        before + timedelta(seconds=3600)
        <= token.expires_at
        <= timezone.now() + timedelta(seconds=3600)
    )


def test_createtoken_refuses_an_unknown_user() -> None:
    with pytest.raises(CommandError, match="User 'ghost' does not exist"):
        run("createtoken", "ghost")

    assert not get_user_model().objects.exists()


@pytest.mark.parametrize("scope", ["org:everything", "ORG:READ", "org"])
def test_createtoken_refuses_an_unknown_scope(acme: Organization, scope: str) -> None:
    with pytest.raises(CommandError, match="Unknown scope"):
        run("createtoken", "alice", "--scope", "org:read", "--scope", scope)

    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("value", ["0", "-60", "soon", "1.5"])
def test_createtoken_refuses_a_bad_expiry(acme: Organization, value: str) -> None:
    with pytest.raises(CommandError, match="--expires-in must be a whole number"):
        run("createtoken", "alice", f"--expires-in={value}")

    assert not ApiToken.objects.exists()


def test_createorgtoken_prints_a_working_org_token_last(acme: Organization) -> None:
    lines = run("createorgtoken", "acme", "--scope", "org:read", "project:read")

    plaintext = lines[-1]
    assert plaintext.startswith("sntrys_")
    assert len(plaintext) == 71
    _, token = authenticate(plaintext)
    assert isinstance(token, OrgAuthToken)
    assert token.organization == acme
    assert token.scopes == ["org:read", "project:read"]


def test_createorgtoken_defaults_to_the_read_scopes(acme: Organization) -> None:
    run("createorgtoken", "acme")

    token = OrgAuthToken.objects.get()
    assert token.scopes == ["member:read", "org:read", "project:read", "team:read"]


def test_createorgtoken_refuses_an_unknown_organization() -> None:
    with pytest.raises(CommandError, match="Organization 'nope' does not exist"):
        run("createorgtoken", "nope")

    assert not OrgAuthToken.objects.exists()


def test_createorgtoken_refuses_an_unknown_scope(acme: Organization) -> None:
    with pytest.raises(CommandError, match="Unknown scope"):
        run("createorgtoken", "acme", "--scope", "project:delete")

    assert not OrgAuthToken.objects.exists()


# --- demo -----------------------------------------------------------------------------------


def bare_window() -> tuple[Any, Any]:
    now = timezone.now()
    return now - timedelta(seconds=86_399), now


def hourly(model: TSDBModel, key: int) -> list[int]:
    start, end = bare_window()
    return [count for _, count in tsdb.backend.get_range(model, [key], start, end, 3600)[key]]


def test_demo_creates_the_organization_project_user_and_a_working_curl_line() -> None:
    lines = run("demo")

    organization = Organization.objects.get(slug="demo")
    project = Project.objects.get(organization=organization)
    key = project.keys.get()
    member = OrganizationMember.objects.get(organization=organization, user__username="demo")
    assert member.role == "owner"
    assert any(line.endswith(key.dsn) for line in lines)
    curl = lines[-1]
    prefix = "curl -H 'Authorization: Bearer "
    assert curl.startswith(prefix)
    plaintext, url = curl[len(prefix) :].split("' ")
    assert url == "http://127.0.0.1:8000/api/0/organizations/demo/stats/"
    user, token = authenticate(plaintext)
    assert user.username == "demo"
    assert sorted(token.scopes) == ["member:read", "org:read", "project:read", "team:read"]


def test_demo_fills_every_hour_of_a_bare_request_consistently() -> None:
    run("demo")

    organization = Organization.objects.get(slug="demo")
    project = Project.objects.get(organization=organization)
    key = project.keys.get()
    for prefix, object_id in (
        ("organization", organization.pk),
        ("project", project.pk),
        ("key", key.pk),
    ):
        received = hourly(TSDBModel[f"{prefix}_total_received"], object_id)
        rejected = hourly(TSDBModel[f"{prefix}_total_rejected"], object_id)
        blacklisted = hourly(TSDBModel[f"{prefix}_total_blacklisted"], object_id)
        assert len(received) == 24
        assert all(count > 0 for count in received), received
        assert sum(rejected) > 0
        assert sum(blacklisted) > 0
        for got, refused, filtered in zip(received, rejected, blacklisted, strict=True):
            assert got >= refused + filtered
    generated = hourly(TSDBModel.project, project.pk)
    received = hourly(TSDBModel.project_total_received, project.pk)
    rejected = hourly(TSDBModel.project_total_rejected, project.pk)
    blacklisted = hourly(TSDBModel.project_total_blacklisted, project.pk)
    assert generated == [
        got - refused - filtered
        for got, refused, filtered in zip(received, rejected, blacklisted, strict=True)
    ]


def test_demo_fills_the_last_hour_at_ten_seconds_and_one_minute() -> None:
    run("demo")

    organization = Organization.objects.get(slug="demo")
    end = timezone.now()
    start = end - timedelta(minutes=50)
    for rollup in (10, 60):
        series = tsdb.backend.get_range(
            TSDBModel.organization_total_received, [organization.pk], start, end, rollup
        )[organization.pk]
        assert all(count > 0 for _, count in series[:-1]), (rollup, series)


def test_demo_run_again_reuses_everything_but_the_token_and_does_not_double_counts() -> None:
    earlier = run("demo")
    organization = Organization.objects.get(slug="demo")
    first = hourly(TSDBModel.organization_total_received, organization.pk)

    lines = run("demo")

    assert Organization.objects.count() == 1
    assert Project.objects.count() == 1
    assert ProjectKey.objects.count() == 1
    assert Team.objects.count() == 1
    assert OrganizationMember.objects.count() == 1
    # The new token replaces the earlier one: `make run` never piles up demo tokens.
    assert ApiToken.objects.count() == 1
    assert hourly(TSDBModel.organization_total_received, organization.pk) == first
    authenticate(lines[-1].split("Bearer ")[1].split("'")[0])
    with pytest.raises(exceptions.AuthenticationFailed):
        authenticate(earlier[-1].split("Bearer ")[1].split("'")[0])


def test_demo_answers_the_stats_endpoint_with_24_non_zero_hours(client: Any) -> None:
    lines = run("demo")
    plaintext = lines[-1].split("Bearer ")[1].split("'")[0]

    response = client.get(
        "/api/0/organizations/demo/stats/", HTTP_AUTHORIZATION=f"Bearer {plaintext}"
    )

    assert response.status_code == 200, response.content
    series = response.json()
    assert len(series) == 24
    assert all(count > 0 for _, count in series), series
