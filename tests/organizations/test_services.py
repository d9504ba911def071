"""organizations.services: what each write stores, and what it refuses to store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from api_helpers import authenticate
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework import exceptions

from organizations import services
from organizations.models import (
    ApiToken,
    Organization,
    OrganizationMember,
    OrgAuthToken,
    Project,
    ProjectKey,
    Team,
)


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username="alice")


@pytest.fixture
def acme(db: None) -> Organization:
    return services.organization_create(slug="acme")


def test_it_creates_an_organization_named_after_its_slug_with_an_owner(alice: Any) -> None:
    organization = services.organization_create(slug="initech", owner=alice)

    assert organization.name == "initech"
    member = OrganizationMember.objects.get(organization=organization, user=alice)
    assert member.role == "owner"


@pytest.mark.parametrize("slug", ["Acme", "has space", "123", "", "acme\n", "123\n"])
def test_it_refuses_a_bad_organization_slug(db: None, slug: str) -> None:
    with pytest.raises(ValidationError):
        services.organization_create(slug=slug)

    assert not Organization.objects.exists()


def test_it_refuses_a_duplicate_organization_slug(acme: Organization) -> None:
    with pytest.raises(ValidationError, match="already exists"):
        services.organization_create(slug="acme")


def test_it_creates_a_project_with_its_first_dsn_key(acme: Organization) -> None:
    team = services.team_create(organization=acme, slug="backend")

    project = services.project_create(
        organization=acme, slug="api", teams=[team], rate_limit=(10, 60)
    )

    key = project.keys.get()
    assert key.is_active
    assert (key.rate_limit_count, key.rate_limit_window) == (10, 60)
    assert key.dsn == f"http://{key.public_key}@127.0.0.1:8000/{project.pk}"
    assert list(project.teams.all()) == [team]


def test_it_refuses_a_team_of_another_organization_for_a_project(acme: Organization) -> None:
    other = services.organization_create(slug="globex")
    foreign_team = services.team_create(organization=other, slug="backend")

    with pytest.raises(ValidationError, match="another organization"):
        services.project_create(organization=acme, slug="api", teams=[foreign_team])

    assert not Project.objects.exists()
    assert not ProjectKey.objects.exists()


def test_it_names_every_foreign_team_when_adding_a_member(acme: Organization, alice: Any) -> None:
    own = services.team_create(organization=acme, slug="backend")
    other = services.organization_create(slug="globex")
    ops = services.team_create(organization=other, slug="ops")
    web = services.team_create(organization=other, slug="web")

    with pytest.raises(ValidationError) as caught:
        services.member_add(organization=acme, user=alice, teams=[own, ops, web])

    assert caught.value.messages == [
        "These teams belong to another organization than acme: ops, web."
    ]
    assert not OrganizationMember.objects.filter(user=alice).exists()


@pytest.mark.parametrize("value", ["10", "10/", "/60", "a/b", "0/60", "10/0", "-1/60", "1.5/60"])
def test_it_refuses_a_malformed_rate_limit(value: str) -> None:
    with pytest.raises(ValidationError):
        services.rate_limit_parse(value)


def test_it_parses_a_rate_limit() -> None:
    assert services.rate_limit_parse("100/3600") == (100, 3600)


def test_team_get_or_create_reuses_the_team(acme: Organization) -> None:
    first, created = services.team_get_or_create(organization=acme, slug="backend")
    again, created_again = services.team_get_or_create(organization=acme, slug="backend")

    assert (created, created_again) == (True, False)
    assert first == again
    assert Team.objects.count() == 1


def test_member_add_changes_the_role_of_an_existing_member(acme: Organization, alice: Any) -> None:
    services.member_add(organization=acme, user=alice, role="member")
    member = services.member_add(organization=acme, user=alice, role="admin")

    assert member.role == "admin"
    assert OrganizationMember.objects.filter(organization=acme).count() == 1


def test_member_add_refuses_an_unknown_role(acme: Organization, alice: Any) -> None:
    with pytest.raises(ValidationError, match="Unknown role"):
        services.member_add(organization=acme, user=alice, role="boss")

    assert not OrganizationMember.objects.exists()


def test_it_issues_a_personal_token_that_authenticates_as_its_user(alice: Any) -> None:
    expires_at = timezone.now() + timedelta(hours=1)

    token, plaintext = services.api_token_create(
        user=alice,
        scopes=["project:read", "org:read", "org:read"],
        name="ci",
        expires_at=expires_at,
    )

    assert plaintext.startswith("sntryu_")
    assert len(plaintext) == 7 + 64
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.scopes == ["org:read", "project:read"]
    assert stored.expires_at == expires_at
    assert plaintext not in {stored.token_hash, stored.token_lookup, stored.display}
    user, auth = authenticate(plaintext)
    assert user == alice
    assert auth.pk == token.pk


def test_it_issues_an_organization_token_bound_to_its_organization(
    acme: Organization, alice: Any
) -> None:
    _token, plaintext = services.org_token_create(
        organization=acme, scopes=["org:read"], created_by=alice
    )

    assert plaintext.startswith("sntrys_")
    _, auth = authenticate(plaintext)
    assert isinstance(auth, OrgAuthToken)
    assert auth.organization == acme
    assert auth.created_by == alice


@pytest.mark.parametrize("scopes", [[], ["org:read", "org:everything"], ["ORG:READ"]])
def test_it_refuses_a_token_with_no_or_unknown_scopes(alice: Any, scopes: list[str]) -> None:
    with pytest.raises(ValidationError):
        services.api_token_create(user=alice, scopes=scopes)

    assert not ApiToken.objects.exists()


def test_a_revoked_token_no_longer_authenticates(alice: Any) -> None:
    token, plaintext = services.api_token_create(user=alice, scopes=["org:read"])

    assert services.token_revoke(token=token) is True
    assert services.token_revoke(token=token) is False
    with pytest.raises(exceptions.AuthenticationFailed, match="Invalid token"):
        authenticate(plaintext)


def test_it_refuses_a_key_rate_limit_without_its_window(acme: Organization) -> None:
    project = services.project_create(organization=acme, slug="half-limited")

    with pytest.raises(ValidationError, match="Give both the count and the window"):
        services.project_key_create(project=project, rate_limit_count=5)

    assert project.keys.count() == 1


@pytest.mark.parametrize("public_key", ["A" * 32, "a" * 31, "g" * 32, "a" * 31 + "\n"])
def test_it_refuses_a_public_key_that_is_not_32_lowercase_hex(
    acme: Organization, public_key: str
) -> None:
    project = services.project_create(organization=acme, slug="api")
    key = ProjectKey(project=project, public_key=public_key)

    with pytest.raises(ValidationError, match="32 lowercase hex characters"):
        key.full_clean()
