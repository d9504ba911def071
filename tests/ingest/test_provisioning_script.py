"""Terraform's Sentry provider, replayed over HTTP against the app under gunicorn: the exact
call sequence of `sentry_team`, `sentry_project` (create, PUT, default-key removal by numeric
project id, extra team, read-back), `sentry_key` with a rate limit,
`sentry_project_inbound_data_filter` and `sentry_organization_member`, with the status codes
the provider accepts and the fields it reads back (spec/provisioning.md section 4). Then the
real sentry-sdk sends events to the new key's DSN: they are counted, rate-limited and
filtered as provisioned, and read back in the project and key stats. Last, a key change made
through the API reaches ingest within 10 seconds."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from ingest_helpers import event_envelope, fresh_window, gunicorn_server, http_post

from organizations.models import ApiToken, Organization, OrganizationMember
from organizations.scopes import ALL_SCOPES

SENDER = Path(__file__).with_name("provision_sdk_sender.py")
KEY_WINDOW = 86_400  # the largest window Sentry's API accepts
PROPAGATION_LIMIT = 10.0  # seconds: INGEST_CONFIG_CACHE_TTL is at most 10


class Api:
    """A client sending what go-sentry sends: `Authorization: Bearer`, a JSON body ending in
    a newline, `Content-Type: application/json` only with a body."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token

    def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        parts = urlsplit(self.base_url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        headers = {
            "Authorization": f"Bearer {self.token}",
            "User-Agent": "Terraform/1.9.0 terraform-provider-sentry/0.14.5",
        }
        data = None
        if body is not None:
            data = (json.dumps(body) + "\n").encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            content_type = response.getheader("Content-Type", "")
        finally:
            conn.close()
        # The provider's generated client panics on a non-JSON content type.
        assert content_type == "application/json", (method, path, response.status, raw)
        return response.status, json.loads(raw) if raw else None


def run_sdk(dsn: str, count: int, release: str, user_ip: str | None = None) -> None:
    argv = [sys.executable, str(SENDER), dsn, str(count), release]
    subprocess.run([*argv, *([user_ip] if user_ip else [])], check=True, timeout=60)


def send_one(base_url: str, project_id: int, public_key: str) -> int:
    headers = {
        "Content-Type": "application/x-sentry-envelope",
        "X-Sentry-Auth": f"Sentry sentry_key={public_key}, sentry_version=7",
    }
    status, _, _ = http_post(base_url, f"/api/{project_id}/envelope/", event_envelope(), headers)
    return status


def seconds_until(predicate: Any, limit: float) -> float:
    """Poll `predicate()` every 0.2 s; the seconds it took to hold. Fails past `limit` plus
    2 s for the polling requests themselves (the server runs with the default
    INGEST_CONFIG_CACHE_TTL, 5 s)."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < limit + 2, "the change did not reach ingest"
        time.sleep(0.2)
    return time.monotonic() - start


@pytest.fixture
def owner_token(transactional_db: None) -> str:
    organization = Organization.objects.create(slug="acme", name="Acme")
    user = User.objects.create_user("terraform", email="tf@example.com")
    OrganizationMember.objects.create(organization=organization, user=user, role="owner")
    plaintext = ApiToken.generate_plaintext()
    token = ApiToken(user=user, scopes=list(ALL_SCOPES))
    token.set_plaintext(plaintext)
    token.save()
    return plaintext


def test_the_providers_call_sequence_then_sdk_events(owner_token: str, redis_prefix: str) -> None:
    fresh_window(KEY_WINDOW, needed=120)
    with gunicorn_server(redis_prefix) as base_url:
        api = Api(base_url, owner_token)
        assert api("GET", "/api/0/internal/health/")[0] == 200  # provider Configure

        # sentry_team: create, then read back.
        for name, slug in (("Backend", "backend"), ("Frontend", "frontend")):
            status, team = api(
                "POST", "/api/0/organizations/acme/teams/", {"name": name, "slug": slug}
            )
            assert status == 201
            status, read = api("GET", f"/api/0/teams/acme/{team['slug']}/")
            assert status == 200
            assert (read["name"], read["slug"], read["id"]) == (name, slug, team["id"])
            assert (read["hasAccess"], read["isPending"], read["isMember"]) == (True, False, True)

        # sentry_project: POST to the first team (exactly 201), PUT, drop the default key,
        # add the other team, read back.
        status, created = api(
            "POST",
            "/api/0/teams/acme/backend/projects/",
            {"name": "Checkout", "platform": "python", "default_rules": True, "slug": "checkout"},
        )
        assert status == 201
        filters = {
            "filters:blacklisted_ips": "192.0.2.0/24",
            "filters:releases": "bad-*",
            "filters:error_messages": "*IgnoreMe*",
        }
        put_body = {
            "name": "Checkout",
            "slug": created["slug"],
            "platform": "python",
            "digestsMinDelay": 300,
            "digestsMaxDelay": 1200,
            "resolveAge": 24,
            "options": filters,
            "allowedDomains": ["*"],
            "scrapeJavaScript": True,
            "securityTokenHeader": "X-Token",
            "verifySSL": True,
        }
        status, updated = api("PUT", f"/api/0/projects/acme/{created['slug']}/", put_body)
        assert status == 200
        project_id = updated["id"]
        assert (updated["slug"], project_id) == ("checkout", created["id"])
        status, keys = api("GET", "/api/0/projects/acme/checkout/keys/")
        assert status == 200
        default = next(key for key in keys if key["name"] == "Default")
        status, _ = api("DELETE", f"/api/0/projects/acme/{project_id}/keys/{default['id']}/")
        assert status == 204
        assert api("POST", "/api/0/projects/acme/checkout/teams/frontend/", None)[0] == 201
        status, project = api("GET", "/api/0/projects/acme/checkout/")
        assert status == 200
        assert project["organization"]["slug"] == "acme"
        assert {team["slug"] for team in project["teams"]} == {"backend", "frontend"}
        assert (project["name"], project["platform"], project["id"]) == (
            "Checkout",
            "python",
            project_id,
        )
        for field in ("digestsMinDelay", "digestsMaxDelay", "resolveAge", "allowedDomains",
                      "scrapeJavaScript", "securityTokenHeader", "verifySSL"):  # fmt: skip
            assert project[field] == put_body[field], field
        for option, value in filters.items():
            assert project["options"][option].split("\n") == value.split("\n")
        assert api("GET", "/api/0/projects/acme/checkout/keys/")[1] == []

        # sentry_key with a rate limit: state comes from the 201 body alone.
        status, key = api(
            "POST",
            "/api/0/projects/acme/checkout/keys/",
            {"name": "sdk", "rateLimit": {"count": 5, "window": KEY_WINDOW}},
        )
        assert status == 201
        assert (key["name"], key["rateLimit"]) == ("sdk", {"window": KEY_WINDOW, "count": 5})
        assert str(key["projectId"]) == project_id
        assert all(key["dsn"][name] for name in ("public", "secret", "csp"))
        assert key["public"]
        assert key["secret"]
        assert api("GET", f"/api/0/projects/acme/checkout/keys/{key['id']}/") == (200, key)

        # sentry_project_inbound_data_filter: PUT (any 2xx), read back from the list.
        path = "/api/0/projects/acme/checkout/filters/"
        assert api("PUT", path + "localhost/", {"active": True})[0] == 204
        assert api("PUT", path + "legacy-browsers/", {"subfilters": ["ie", "safari"]})[0] == 204
        status, states = api("GET", path)
        assert status == 200
        active = {state["id"]: state["active"] for state in states}
        assert (active["localhost"], active["legacy-browsers"]) == (True, ["ie", "safari"])

        # sentry_organization_member: create (exactly 201), read, update after a GET, delete.
        members = "/api/0/organizations/acme/members/"
        status, member = api("POST", members, {"email": "dev@example.com", "orgRole": "member"})
        assert status == 201
        status, read = api("GET", f"{members}{member['id']}/")
        assert status == 200
        assert (read["id"], read["email"], read["orgRole"]) == (
            member["id"],
            "dev@example.com",
            "member",
        )
        assert (read["pending"], read["expired"]) == (False, False)
        status, updated_member = api(
            "PUT", f"{members}{member['id']}/", {"orgRole": "admin", "teamRoles": read["teamRoles"]}
        )
        assert (status, updated_member["orgRole"]) == (200, "admin")
        assert api("GET", f"{members}{member['id']}/")[1]["orgRole"] == "admin"
        assert api("DELETE", f"{members}{member['id']}/")[0] == 204

        # The real SDK, on the DSN the provider stored.
        dsn = key["dsn"]["public"]
        run_sdk(dsn, 3, "bad-1.0")  # filtered: release
        run_sdk(dsn, 2, "good-1.0", user_ip="127.0.0.1")  # filtered: localhost
        run_sdk(dsn, 8, "good-1.0")  # 5 accepted, the 6th refused, the SDK drops the rest

        stats = f"/api/0/projects/acme/checkout/keys/{key['id']}/stats/"
        status, points = api("GET", stats)
        assert status == 200
        totals = {
            field: sum(point[field] for point in points)
            for field in ("total", "dropped", "filtered", "accepted")
        }
        assert totals == {"total": 11, "dropped": 1, "filtered": 5, "accepted": 5}

        def project_sum(stat: str) -> int:
            status, series = api("GET", f"/api/0/projects/acme/checkout/stats/?stat={stat}")
            assert status == 200
            return sum(count for _, count in series)

        assert project_sum("received") == 11
        assert project_sum("rejected") == 1
        assert project_sum("blacklisted") == 5
        assert project_sum("release-version") == 3
        assert project_sum("localhost") == 2
        assert project_sum("generated") == 5

        # A key disabled through the API is refused by every gunicorn worker within 10 s,
        # and accepted again (here: rate-limited, its quota spent) once re-enabled.
        public, pid = key["id"], int(project_id)
        key_path = f"/api/0/projects/acme/checkout/keys/{public}/"
        assert api("PUT", key_path, {"name": "sdk", "isActive": False})[0] == 200
        seconds_until(
            lambda: all(send_one(base_url, pid, public) == 401 for _ in range(4)), PROPAGATION_LIMIT
        )
        assert api("PUT", key_path, {"name": "sdk", "isActive": True})[0] == 200
        seconds_until(
            lambda: all(send_one(base_url, pid, public) == 429 for _ in range(4)), PROPAGATION_LIMIT
        )
