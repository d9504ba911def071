"""GET /api/0/organizations/{org}/: one organization."""

from __future__ import annotations

import pytest
from api_helpers import (
    add_member,
    get,
    make_org,
    make_org_token,
    make_user,
    make_user_token,
)
from django.test import Client

from organizations.models import Organization

pytestmark = pytest.mark.django_db

FORBIDDEN = {"detail": "You do not have permission to perform this action."}


@pytest.fixture
def acme() -> Organization:
    return make_org("acme", name="Acme Inc")


def test_it_requires_credentials(acme: Organization) -> None:
    response = get("/api/0/organizations/acme/")

    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_it_refuses_a_token_without_an_org_scope_even_for_an_unknown_org(
    acme: Organization,
) -> None:
    user = make_user("ada")
    add_member(acme, user)
    token = make_user_token(user, scopes=["project:read"])

    assert get("/api/0/organizations/acme/", token).status_code == 403
    assert get("/api/0/organizations/nope/", token).json() == FORBIDDEN


def test_it_answers_404_for_an_unknown_organization(acme: Organization) -> None:
    user = make_user("ada")
    add_member(acme, user)

    response = get("/api/0/organizations/nope/", make_user_token(user))

    assert response.status_code == 404, response.content
    assert response.json() == {"detail": "The requested resource does not exist"}


def test_it_refuses_a_user_who_is_not_a_member(acme: Organization) -> None:
    outsider = make_user("eve")
    add_member(make_org("evil"), outsider, role="owner")

    response = get("/api/0/organizations/acme/", make_user_token(outsider))

    assert response.status_code == 403, response.content
    assert response.json() == FORBIDDEN


def test_it_refuses_an_organization_token_of_another_organization(acme: Organization) -> None:
    response = get("/api/0/organizations/acme/", make_org_token(make_org("other")))

    assert response.status_code == 403, response.content


def test_it_refuses_an_organization_token_without_org_read(acme: Organization) -> None:
    response = get("/api/0/organizations/acme/", make_org_token(acme, scopes=["project:read"]))

    assert response.status_code == 403, response.content


@pytest.mark.parametrize("role", ["member", "admin", "manager", "owner"])
def test_it_shows_the_organization_to_every_role(acme: Organization, role: str) -> None:
    user = make_user("ada")
    add_member(acme, user, role=role)

    response = get("/api/0/organizations/acme/", make_user_token(user))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(acme.pk)
    assert body["slug"] == "acme"
    assert body["name"] == "Acme Inc"
    for field in ("dateCreated", "isEarlyAdopter", "require2FA", "requireEmailVerification"):
        assert field in body
    assert body["features"] == []


def test_it_shows_the_organization_to_its_own_organization_token(acme: Organization) -> None:
    response = get("/api/0/organizations/acme/", make_org_token(acme))

    assert response.status_code == 200, response.content
    assert response.json()["slug"] == "acme"


def test_it_finds_the_organization_by_numeric_id(acme: Organization) -> None:
    response = get(f"/api/0/organizations/{acme.pk}/", make_org_token(acme))

    assert response.status_code == 200, response.content
    assert response.json()["slug"] == "acme"


def test_it_tries_an_all_digit_segment_as_a_slug_first(acme: Organization) -> None:
    # Slugs may no longer be all digits, but rows created before that rule must still win.
    legacy = make_org(str(acme.pk))

    response = get(f"/api/0/organizations/{acme.pk}/", make_org_token(legacy))

    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(legacy.pk)


def test_it_answers_options_without_credentials(acme: Organization) -> None:
    response = Client().options("/api/0/organizations/acme/")

    assert response.status_code == 200, response.content


def test_it_answers_head_like_get_without_a_body(acme: Organization) -> None:
    response = Client().head(
        "/api/0/organizations/acme/", **{"HTTP_AUTHORIZATION": f"Bearer {make_org_token(acme)}"}
    )

    assert response.status_code == 200, response.content
    assert response.content == b""
