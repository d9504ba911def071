"""GET /api/0/: what sentry-cli `info` and `login` call first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_helpers import (
    assert_api_headers,
    get,
    make_org,
    make_org_token,
    make_user,
    make_user_token,
)
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_it_answers_anonymous_callers_with_null_auth_and_user() -> None:
    response = get("/api/0/")

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"version": "0", "auth": None, "user": None}


def test_it_describes_a_personal_token_and_its_user_with_a_string_id() -> None:
    user = make_user("ada", email="ada@example.com", first_name="Ada", last_name="Lovelace")
    token = make_user_token(user, scopes=["project:read", "org:read"])

    response = get("/api/0/", token)

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["version"] == "0"
    assert body["auth"] == {"scopes": ["org:read", "project:read"]}
    assert body["user"]["id"] == str(user.pk)
    assert body["user"]["name"] == "Ada Lovelace"
    assert body["user"]["email"] == "ada@example.com"


def test_it_gives_an_empty_string_when_the_user_has_no_email() -> None:
    user = make_user("noemail", email="")
    token = make_user_token(user)

    response = get("/api/0/", token)

    assert response.status_code == 200, response.content
    assert response.json()["user"]["email"] == ""
    assert response.json()["user"]["name"] == "noemail"


def test_it_gives_an_organization_token_its_scopes_and_no_user() -> None:
    organization = make_org("acme")
    token = make_org_token(organization, scopes=["org:read", "project:releases"])

    response = get("/api/0/", token)

    assert response.status_code == 200, response.content
    assert response.json() == {
        "version": "0",
        "auth": {"scopes": ["org:read", "project:releases"]},
        "user": None,
    }


def test_it_answers_an_unknown_token_as_anonymous_with_200() -> None:
    response = get("/api/0/", "sntryu_" + "0" * 64)

    assert response.status_code == 200, response.content
    assert response.json() == {"version": "0", "auth": None, "user": None}


def test_it_answers_an_expired_token_as_anonymous_with_200() -> None:
    user = make_user("late")
    token = make_user_token(user, expires_at=timezone.now() - timedelta(seconds=1))

    response = get("/api/0/", token)

    assert response.status_code == 200, response.content
    assert response.json() == {"version": "0", "auth": None, "user": None}


def test_it_answers_a_malformed_authorization_header_with_200() -> None:
    from django.test import Client

    response = Client().get("/api/0/", HTTP_AUTHORIZATION="Bearer two words")

    assert response.status_code == 200, response.content
    assert response.json()["auth"] is None


def test_it_shows_the_logged_in_user_for_a_browser_session() -> None:
    from django.test import Client

    user = make_user("browser")
    client = Client()
    client.force_login(user)

    response = client.get("/api/0/")

    assert response.status_code == 200, response.content
    assert response.json()["auth"] is None
    assert response.json()["user"]["id"] == str(user.pk)


def test_it_answers_head_and_options() -> None:
    from django.test import Client

    head = Client().head("/api/0/")
    options = Client().options("/api/0/")

    assert head.status_code == 200
    assert head.content == b""
    assert options.status_code == 200, options.content
    assert "GET" in options["Allow"]


def test_it_refuses_writes_with_405() -> None:
    from django.test import Client

    response = Client().post("/api/0/", {}, content_type="application/json")

    assert response.status_code == 405, response.content
    assert response.json() == {"detail": 'Method "POST" not allowed.'}
    assert_api_headers(response)


def test_it_sends_the_api_security_headers() -> None:
    response = get("/api/0/")

    assert response.status_code == 200, response.content
    assert_api_headers(response)
