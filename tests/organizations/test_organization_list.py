"""GET /api/0/organizations/: the caller's organizations, cursor-paginated."""

from __future__ import annotations

import pytest
from api_helpers import (
    add_member,
    get,
    make_org,
    make_org_token,
    make_user,
    make_user_token,
    parse_link_header,
)

from organizations.models import OrganizationStatus

pytestmark = pytest.mark.django_db

URL = "/api/0/organizations/"


def slugs(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [organization["slug"] for organization in response.json()]


def test_it_requires_credentials() -> None:
    response = get(URL)

    assert response.status_code == 401, response.content
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_it_refuses_a_token_without_an_org_scope() -> None:
    user = make_user("ada")
    add_member(make_org("acme"), user)

    response = get(URL, make_user_token(user, scopes=["project:read"]))

    assert response.status_code == 403, response.content
    assert response.json() == {"detail": "You do not have permission to perform this action."}


def test_it_lists_only_the_users_own_organizations() -> None:
    user = make_user("ada")
    add_member(make_org("beta"), user)
    add_member(make_org("alpha"), user, role="owner")
    add_member(make_org("someone-else"), make_user("bob"))

    response = get(URL, make_user_token(user))

    assert response.status_code == 200, response.content
    assert slugs(response) == ["alpha", "beta"]


def test_it_leaves_out_organizations_being_deleted() -> None:
    user = make_user("ada")
    add_member(make_org("alive"), user)
    add_member(make_org("dying", status=OrganizationStatus.PENDING_DELETION), user)

    response = get(URL, make_user_token(user))

    assert slugs(response) == ["alive"]


def test_it_lists_only_its_own_organization_for_an_organization_token() -> None:
    acme = make_org("acme")
    make_org("other")

    response = get(URL, make_org_token(acme))

    assert response.status_code == 200, response.content
    assert slugs(response) == ["acme"]


def test_it_returns_sentrys_organization_shape_with_string_ids() -> None:
    user = make_user("ada")
    organization = make_org("acme", name="Acme Inc", require_2fa=True, is_early_adopter=True)
    add_member(organization, user)

    response = get(URL, make_user_token(user))

    assert response.status_code == 200, response.content
    [body] = response.json()
    assert body["id"] == str(organization.pk)
    assert body["slug"] == "acme"
    assert body["name"] == "Acme Inc"
    assert body["dateCreated"].startswith(organization.date_created.strftime("%Y-%m-%dT%H:%M:%S"))
    assert body["isEarlyAdopter"] is True
    assert body["require2FA"] is True
    assert body["requireEmailVerification"] is False
    assert body["features"] == []
    assert body["status"] == {"id": "active", "name": "active"}
    assert body["avatar"]["avatarType"] == "letter_avatar"
    assert set(body["links"]) == {"organizationUrl", "regionUrl"}


def test_it_carries_both_links_even_on_a_single_page() -> None:
    user = make_user("ada")
    add_member(make_org("acme"), user)

    response = get(URL, make_user_token(user))

    links = parse_link_header(response["Link"])
    assert links["previous"]["results"] == "false"
    assert links["previous"]["cursor"] == "100:0:1"
    assert links["next"]["results"] == "false"
    assert links["next"]["cursor"] == "100:1:0"


def test_it_pages_with_per_page_and_cursor() -> None:
    user = make_user("ada")
    for index in range(5):
        add_member(make_org(f"org-{index}"), user)
    token = make_user_token(user)

    first = get(URL, token, data={"per_page": "2"})
    first_links = parse_link_header(first["Link"])
    second = get(URL, token, data={"per_page": "2", "cursor": first_links["next"]["cursor"]})
    third = get(URL, token, data={"cursor": parse_link_header(second["Link"])["next"]["cursor"]})

    assert slugs(first) == ["org-0", "org-1"]
    assert first_links["next"] == {
        "url": first_links["next"]["url"],
        "rel": "next",
        "results": "true",
        "cursor": "2:1:0",
    }
    assert slugs(second) == ["org-2", "org-3"]
    assert parse_link_header(second["Link"])["previous"]["results"] == "true"
    assert slugs(third) == ["org-4"]
    assert parse_link_header(third["Link"])["next"]["results"] == "false"


@pytest.mark.parametrize("per_page", ["0", "101", "-1", "ten", "1.5"])
def test_it_refuses_a_bad_per_page(per_page: str) -> None:
    user = make_user("ada")
    add_member(make_org("acme"), user)

    response = get(URL, make_user_token(user), data={"per_page": per_page})

    assert response.status_code == 400, response.content
    assert "per_page" in response.json()["detail"]


@pytest.mark.parametrize("cursor", ["lol", "100:1", "100:1:0:0", "101:0:0", "100:-1:0", "1:2:3"])
def test_it_refuses_a_bad_cursor(cursor: str) -> None:
    user = make_user("ada")
    add_member(make_org("acme"), user)

    response = get(URL, make_user_token(user), data={"cursor": cursor})

    assert response.status_code == 400, response.content
    assert "cursor" in response.json()["detail"]
