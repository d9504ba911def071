"""Every route under /api/0/ answers odd input with a JSON 4xx, never a 500.

Path segments holding NUL (PostgreSQL refuses it in a query), all-digit segments too long for
int() or a bigint, non-ASCII digits, floods of query parameters and malformed tokens.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import NOT_FOUND, bearer
from django.test import Client

from organizations.models import Organization, Project, ProjectKey

pytestmark = pytest.mark.django_db

ROUTES = [
    "/api/0/organizations/{org}/",
    "/api/0/organizations/{org}/stats/",
    "/api/0/organizations/{org}/projects/",
    "/api/0/projects/{org}/{project}/",
    "/api/0/projects/{org}/{project}/stats/",
    "/api/0/projects/{org}/{project}/keys/{key}/stats/",
    "/api/0/teams/{org}/{team}/stats/",
]
GOOD = {"org": "acme", "project": "api", "team": "backend"}
# Decoded by Django before routing: "%00" is NUL, "%D9%A1" is the Arabic-Indic digit one.
# Digits str.isdigit() and re's \\d accept but the API must not: int() takes them, or fails.
ARABIC_ONE, ARABIC_ZERO = "\u0661", "\u0660"
BAD_SEGMENTS = ["%00", "acme%00", "9" * 5000, "9" * 20, "%D9%A1", "%C2%B2"]


@pytest.fixture
def owner_client(
    client: Client,
    organization: Organization,
    project: Project,
    project_key: ProjectKey,
    owner_token: str,
) -> Client:
    client.defaults.update(bearer(owner_token))
    GOOD["key"] = project_key.public_key
    return client


def urls_with(segment: str) -> list[str]:
    """Each route with one of its segments replaced by `segment`, for every segment."""
    urls = []
    for route in ROUTES:
        for name in ("org", "project", "team", "key"):
            if "{" + name + "}" in route:
                urls.append(route.format(**{**GOOD, name: segment}))
    return urls


@pytest.mark.parametrize("segment", BAD_SEGMENTS)
@pytest.mark.parametrize("method", ["get", "head"])
def test_it_answers_404_for_a_segment_no_row_can_have(
    owner_client: Client, segment: str, method: str
) -> None:
    for url in urls_with(segment):
        response = getattr(owner_client, method)(url)

        assert response.status_code == 404, (url[:80], response.content[:300])
        assert response["Content-Type"] == "application/json"
        if method == "get":
            assert response.json() == {"detail": NOT_FOUND}, url[:80]


def test_it_answers_404_for_a_key_that_is_not_32_hex(owner_client: Client) -> None:
    key = GOOD["key"]
    for bad in (key.upper(), key + "0", key[:-1], "x" * 32):
        response = owner_client.get(f"/api/0/projects/acme/api/keys/{bad}/stats/")

        assert response.status_code == 404, (bad, response.content)
        assert response.json() == {"detail": NOT_FOUND}


@pytest.mark.parametrize("path", ["/api/0/organizations/", "/api/0/organizations/acme/projects/"])
@pytest.mark.parametrize("per_page", ["²", ARABIC_ONE + ARABIC_ZERO, "9" * 5000, "+5", " 5"])
def test_it_refuses_a_per_page_that_is_not_ascii_digits(
    owner_client: Client, path: str, per_page: str
) -> None:
    response = owner_client.get(path, {"per_page": per_page})

    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith("Invalid per_page parameter")


@pytest.mark.parametrize(
    "cursor", ["²:0:0", f"100:{ARABIC_ONE}:0", "9" * 5000 + ":0:0", "100:0:0\n"]
)
def test_it_refuses_a_cursor_that_is_not_ascii_digits(owner_client: Client, cursor: str) -> None:
    response = owner_client.get("/api/0/organizations/acme/projects/", {"cursor": cursor})

    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith("Invalid cursor parameter")


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"resolution": ARABIC_ONE + "h"}, "Invalid resolution"),
        ({"since": ARABIC_ONE + "7" + ARABIC_ZERO * 8}, "since must be a numeric timestamp"),
        ({"group": "project", "id": ARABIC_ONE}, "id must be a list of integers"),
        ({"group": "project", "projectID": ARABIC_ONE}, "projectID must be a list of integers"),
    ],
)
def test_it_refuses_non_ascii_digits_in_stats_parameters(
    owner_client: Client, params: dict[str, str], detail: str
) -> None:
    response = owner_client.get("/api/0/organizations/acme/stats/", params)

    assert response.status_code == 400, response.content
    assert response.json() == {"detail": detail}


@pytest.mark.parametrize(
    "path",
    [
        "/api/0/",
        "/api/0/organizations/",
        "/api/0/organizations/acme/",
        "/api/0/organizations/acme/stats/",
        "/api/0/organizations/acme/projects/",
        "/api/0/projects/acme/api/stats/",
        "/api/0/teams/acme/backend/stats/",
    ],
)
def test_it_answers_a_flood_of_query_parameters_with_a_json_400(
    owner_client: Client, path: str
) -> None:
    query = "&".join(f"id={index}" for index in range(1200))

    response = owner_client.get(f"{path}?{query}")

    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Bad request")


@pytest.mark.parametrize(
    "token",
    [
        "sntryu_" + "\x00" * 64,
        "sntryu_" + "0" * 8 + "\x00" * 56,
        "sntrys_\x00",
        "sntryu_" + "A" * 64,
        "sntryu_" + "0" * 63,
        "sntryu_" + "0" * 65,
        "sntryu_" + "a" * 100_000,
    ],
)
def test_it_answers_a_malformed_token_with_401_or_as_anonymous(
    client: Client, organization: Organization, token: str
) -> None:
    stats = client.get("/api/0/organizations/acme/stats/", **bearer(token))
    index = client.get("/api/0/", **bearer(token))

    assert stats.status_code == 401, stats.content
    assert stats.json() == {"detail": "Invalid token"}
    assert index.status_code == 200, index.content
    assert index.json() == {"version": "0", "auth": None, "user": None}


def test_it_still_accepts_a_well_formed_token(
    client: Client, organization: Organization, owner_token: str, make_org_token: Any
) -> None:
    user = client.get("/api/0/organizations/acme/", **bearer(owner_token))
    org = client.get("/api/0/organizations/acme/", **bearer(make_org_token(organization)))

    assert user.status_code == 200, user.content
    assert org.status_code == 200, org.content
