"""Constants, factories and assertions shared by the organizations tests (imported by
conftest.py and the test modules; a plain module, no fixtures).

The factories write rows straight through the models, so that a test of the API does not
depend on organizations.services; test_services.py and test_commands.py test those.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client, RequestFactory
from rest_framework.request import Request

from organizations.authentication import TokenAuthentication
from organizations.models import (
    ApiToken,
    Organization,
    OrganizationMember,
    OrgAuthToken,
    Project,
    Team,
)
from organizations.scopes import DEFAULT_TOKEN_SCOPES

FORBIDDEN = "You do not have permission to perform this action."
NOT_FOUND = "The requested resource does not exist"
WWW_AUTHENTICATE = 'Bearer realm="api"'


# --- factories ---------------------------------------------------------------------------------


def make_user(username: str, **fields: Any) -> AbstractBaseUser:
    fields.setdefault("email", f"{username}@example.com")
    user: AbstractBaseUser = get_user_model().objects.create_user(username=username, **fields)
    return user


def make_org(slug: str, **fields: Any) -> Organization:
    fields.setdefault("name", slug.replace("-", " ").title())
    return Organization.objects.create(slug=slug, **fields)


def make_team(organization: Organization, slug: str) -> Team:
    return Team.objects.create(organization=organization, slug=slug, name=slug.title())


def make_project(
    organization: Organization, slug: str, teams: Iterable[Team] = (), **fields: Any
) -> Project:
    fields.setdefault("name", slug.title())
    project = Project.objects.create(organization=organization, slug=slug, **fields)
    project.teams.set(list(teams))
    return project


def add_member(
    organization: Organization,
    user: AbstractBaseUser,
    role: str = "member",
    teams: Iterable[Team] = (),
) -> OrganizationMember:
    member = OrganizationMember.objects.create(organization=organization, user=user, role=role)
    member.teams.set(list(teams))
    return member


def make_user_token(
    user: AbstractBaseUser, scopes: Iterable[str] = DEFAULT_TOKEN_SCOPES, **fields: Any
) -> str:
    """A personal token of `user`; returns the plaintext."""
    plaintext = ApiToken.generate_plaintext()
    token = ApiToken(user=user, scopes=list(scopes), **fields)
    token.set_plaintext(plaintext)
    token.save()
    return plaintext


def make_org_token(
    organization: Organization, scopes: Iterable[str] = ("org:read",), **fields: Any
) -> str:
    """An organization token of `organization`; returns the plaintext."""
    plaintext = OrgAuthToken.generate_plaintext()
    token = OrgAuthToken(organization=organization, scopes=list(scopes), **fields)
    token.set_plaintext(plaintext)
    token.save()
    return plaintext


# --- requests ----------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    """Test-client keyword arguments sending `Authorization: Bearer <token>`."""
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def get(path: str, token: str | None = None, **extra: Any) -> Any:
    """GET `path` with an optional bearer token, through the full Django stack."""
    headers = bearer(token) if token else {}
    return Client().get(path, **headers, **extra)


def authenticate(plaintext: str) -> tuple[Any, Any]:
    """(user, token) as the API's authentication class sees `Bearer <plaintext>`; raises
    AuthenticationFailed as it would."""
    request = Request(RequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {plaintext}"))
    result = TokenAuthentication().authenticate(request)
    assert result is not None
    return result


def parse_link_header(value: str) -> dict[str, dict[str, str]]:
    """`{rel: {"url": ..., "results": ..., "cursor": ...}}` from a Sentry-style Link header."""
    links: dict[str, dict[str, str]] = {}
    for part in value.split(", <"):
        url, _, params = part.lstrip("<").partition(">;")
        attributes = {"url": url}
        for param in params.split(";"):
            key, _, val = param.strip().partition("=")
            attributes[key] = val.strip('"')
        links[attributes["rel"]] = attributes
    return links


# --- assertions --------------------------------------------------------------------------------


def assert_api_headers(response: Any) -> None:
    """The headers every API response carries (spec/stats-api.md section 4)."""
    assert response["X-Frame-Options"] == "deny"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-XSS-Protection"] == "1; mode=block"
    assert response["Content-Language"]
    assert response["Vary"] == "Accept-Language, Cookie"
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert response["Content-Type"] == "application/json"


# --- the permission ladder -----------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointScopes:
    """The scopes of one endpoint's permission: `read` grants GET, `write` also grants it
    but the `member` role lacks it, `unrelated` does not grant it."""

    read: str
    write: str
    unrelated: str = "event:read"


ORG_SCOPES = EndpointScopes(read="org:read", write="org:write")
PROJECT_SCOPES = EndpointScopes(read="project:read", write="project:write")
TEAM_SCOPES = EndpointScopes(read="team:read", write="team:write")

# (rung, expected status, expected detail or None for a success)
LADDER: list[tuple[str, int, str | None]] = [
    ("no credentials", 401, "Authentication credentials were not provided."),
    ("bearer without token", 401, "Invalid token header. No credentials provided."),
    (
        "token with spaces",
        401,
        "Invalid token header. Token string should not contain spaces.",
    ),
    ("unknown token", 401, "Invalid token"),
    ("not a token", 401, "Invalid token"),
    ("expired token", 401, "Token expired"),
    ("revoked token", 401, "Invalid token"),
    ("inactive user", 401, "User inactive or deleted"),
    ("token missing the scope", 403, FORBIDDEN),
    ("member whose role lacks the scope", 403, FORBIDDEN),
    ("non-member", 403, FORBIDDEN),
    ("other organization's org token", 403, FORBIDDEN),
    ("org token without any scope", 403, FORBIDDEN),
    ("owner token", 200, None),
    ("owner token with the write scope", 200, None),
    ("member token", 200, None),
    ("org token", 200, None),
]
LADDER_IDS = [rung for rung, _, _ in LADDER]


def assert_rung(response: Any, status: int, detail: str | None) -> None:
    """One rung of LADDER on a stats endpoint: an error with its body (401s with
    `WWW-Authenticate`), or a bare request's 24 points; the API headers either way."""
    assert response.status_code == status, response.content
    if detail is None:
        assert len(response.json()) == 24
    else:
        assert response.json() == {"detail": detail}
    if status == 401:
        assert response["WWW-Authenticate"] == WWW_AUTHENTICATE
    assert_api_headers(response)


# --- series ------------------------------------------------------------------------------------


def hour_floor(timestamp: float) -> int:
    return math.floor(timestamp / 3600) * 3600


def as_counts(series: list[list[Any]]) -> dict[int, int]:
    """`{int timestamp: count}` of a `[[ts, count], ...]` series."""
    return {int(ts): count for ts, count in series}
