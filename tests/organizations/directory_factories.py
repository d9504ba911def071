"""Plain factory functions for the directory endpoint tests (no fixtures, so no name clashes
with the shared conftest)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client

from organizations.models import (
    ApiToken,
    Organization,
    OrganizationMember,
    OrgAuthToken,
    Project,
    Team,
)
from organizations.scopes import DEFAULT_TOKEN_SCOPES

User = get_user_model()


def make_user(username: str, **fields: Any) -> AbstractBaseUser:
    fields.setdefault("email", f"{username}@example.com")
    return User.objects.create_user(username=username, **fields)


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


def make_member(
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
    plaintext = ApiToken.generate_plaintext()
    token = ApiToken(user=user, scopes=list(scopes), **fields)
    token.set_plaintext(plaintext)
    token.save()
    return plaintext


def make_org_token(
    organization: Organization, scopes: Iterable[str] = ("org:read",), **fields: Any
) -> str:
    plaintext = OrgAuthToken.generate_plaintext()
    token = OrgAuthToken(organization=organization, scopes=list(scopes), **fields)
    token.set_plaintext(plaintext)
    token.save()
    return plaintext


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def get(path: str, token: str | None = None, **extra: Any) -> Any:
    """GET `path` with an optional bearer token, through the full Django stack."""
    headers = bearer(token) if token else {}
    return Client().get(path, **headers, **extra)


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
