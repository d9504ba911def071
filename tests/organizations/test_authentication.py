"""Bearer-token authentication, effective scopes and session login, through the stats API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from api_helpers import FORBIDDEN, WWW_AUTHENTICATE, bearer
from django.test import Client
from django.utils import timezone

from organizations import services
from organizations.models import ApiToken, Organization, OrgAuthToken

URL = "/api/0/organizations/acme/stats/"

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_it_accepts_the_scheme_in_any_case(
    client: Client, organization: Organization, owner_token: str, scheme: str
) -> None:
    response = client.get(URL, HTTP_AUTHORIZATION=f"{scheme} {owner_token}")

    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Bearer", "Invalid token header. No credentials provided."),
        ("Bearer   ", "Invalid token header. No credentials provided."),
        ("Bearer a b", "Invalid token header. Token string should not contain spaces."),
        ("Bearer sntryu_", "Invalid token"),
        ("Bearer sntrys_", "Invalid token"),
        ("Bearer " + "a" * 64, "Invalid token"),
    ],
)
def test_it_refuses_malformed_bearer_headers(
    client: Client, organization: Organization, header: str, detail: str
) -> None:
    response = client.get(URL, HTTP_AUTHORIZATION=header)

    assert response.status_code == 401, response.content
    assert response.json() == {"detail": detail}
    assert response["WWW-Authenticate"] == WWW_AUTHENTICATE


def test_it_refuses_a_token_whose_lookup_matches_but_secret_differs(
    client: Client, organization: Organization, owner_token: str
) -> None:
    forged = owner_token[:-4] + ("0000" if not owner_token.endswith("0000") else "1111")

    response = client.get(URL, **bearer(forged))

    assert response.status_code == 401, response.content
    assert response.json() == {"detail": "Invalid token"}


def test_it_treats_other_schemes_as_no_credentials(
    client: Client, organization: Organization, owner_token: str
) -> None:
    response = client.get(URL, HTTP_AUTHORIZATION=f"Token {owner_token}")

    assert response.status_code == 401, response.content
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_it_refuses_a_token_once_revoked(
    client: Client, organization: Organization, owner_token: str
) -> None:
    before = client.get(URL, **bearer(owner_token))
    services.token_revoke(token=ApiToken.objects.get())  # a save: the cache forgets at once

    after = client.get(URL, **bearer(owner_token))

    assert before.status_code == 200, before.content
    assert after.status_code == 401, after.content
    assert after.json() == {"detail": "Invalid token"}


def test_it_accepts_a_token_until_it_expires(
    client: Client, organization: Organization, owner: Any, make_user_token: Callable[..., str]
) -> None:
    future = make_user_token(owner, expires_at=timezone.now() + timedelta(hours=1))
    past = make_user_token(owner, expires_at=timezone.now() - timedelta(seconds=1))

    assert client.get(URL, **bearer(future)).status_code == 200
    response = client.get(URL, **bearer(past))
    assert response.status_code == 401, response.content
    assert response.json() == {"detail": "Token expired"}


def test_it_refuses_a_revoked_or_expired_organization_token(
    client: Client, organization: Organization, make_org_token: Callable[..., str]
) -> None:
    revoked = make_org_token(organization, revoked_at=timezone.now())
    expired = make_org_token(organization, expires_at=timezone.now() - timedelta(seconds=1))

    assert client.get(URL, **bearer(revoked)).json() == {"detail": "Invalid token"}
    assert client.get(URL, **bearer(expired)).json() == {"detail": "Token expired"}


def test_it_records_the_last_use_of_an_organization_token(
    client: Client, organization: Organization, make_org_token: Callable[..., str]
) -> None:
    token = make_org_token(organization)

    response = client.get(URL, **bearer(token))

    assert response.status_code == 200, response.content
    assert OrgAuthToken.objects.get().last_used_at is not None


def test_it_intersects_token_scopes_with_the_role(
    client: Client,
    organization: Organization,
    make_member: Callable[..., Any],
    make_user_token: Callable[..., str],
) -> None:
    # org:admin is granted to owners only: a member holding it still has no org scope.
    member = make_member("ambitious", role="member")
    owner = make_member("boss", role="owner")

    as_member = client.get(URL, **bearer(make_user_token(member, ["org:admin"])))
    as_owner = client.get(URL, **bearer(make_user_token(owner, ["org:admin"])))

    assert as_member.status_code == 403, as_member.content
    assert as_member.json() == {"detail": FORBIDDEN}
    assert as_owner.status_code == 200, as_owner.content


def test_it_uses_the_role_in_the_organization_being_accessed(
    client: Client,
    organization: Organization,
    other_organization: Organization,
    make_member: Callable[..., Any],
    make_user_token: Callable[..., str],
) -> None:
    from organizations.models import OrganizationMember

    user = make_member("twofaced", role="owner", org=other_organization)
    OrganizationMember.objects.create(organization=organization, user=user, role="member")
    token = make_user_token(user, ["org:write"])

    in_other = client.get("/api/0/organizations/globex/stats/", **bearer(token))
    in_acme = client.get(URL, **bearer(token))

    assert in_other.status_code == 200, in_other.content
    assert in_acme.status_code == 403, in_acme.content


def test_it_lets_a_logged_in_member_use_the_api_in_a_browser(
    client: Client, organization: Organization, owner: Any
) -> None:
    client.force_login(owner)

    response = client.get(URL)

    assert response.status_code == 200, response.content
    assert len(response.json()) == 24


def test_it_refuses_a_logged_in_user_of_another_organization(
    client: Client, organization: Organization, outsider: Any
) -> None:
    client.force_login(outsider)

    response = client.get(URL)

    assert response.status_code == 403, response.content
    assert response.json() == {"detail": FORBIDDEN}


def test_it_lets_a_logged_in_superuser_read_any_organization(
    client: Client, organization: Organization, django_user_model: Any
) -> None:
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)

    response = client.get(URL)

    assert response.status_code == 200, response.content


def test_it_refuses_a_superusers_token_outside_their_organizations(
    client: Client,
    organization: Organization,
    django_user_model: Any,
    make_user_token: Callable[..., str],
) -> None:
    # A token acts with the memberships of its user, never with admin-site powers.
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")

    response = client.get(URL, **bearer(make_user_token(root)))

    assert response.status_code == 403, response.content
