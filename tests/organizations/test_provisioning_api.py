"""What the provisioning endpoints store and answer: Sentry's bodies and status codes, field
errors in Sentry's shape, conflicts, one transaction per request, and the admin history."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import add_member, make_org, make_org_token, make_project, make_team, make_user
from api_helpers import make_user_token as user_token
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from provisioning_helpers import assert_json_types, call, snapshot

from ingest.models import InboundFilters
from organizations.audit import ORG_TOKEN_USERNAME
from organizations.models import Organization, OrganizationMember, Project, ProjectKey, Team
from organizations.scopes import ALL_SCOPES

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme() -> Organization:
    organization = make_org("acme")
    make_project(organization, "api", teams=[make_team(organization, "backend")])
    return organization


@pytest.fixture
def owner(acme: Organization) -> Any:
    user = make_user("olivia")
    add_member(acme, user, role="owner")
    return user


@pytest.fixture
def token(owner: Any) -> str:
    return user_token(owner, ALL_SCOPES)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    if status == 204:
        assert response.content == b""
        return None
    body = response.json()
    assert_json_types(body)
    return body


# --- health -------------------------------------------------------------------------------------


def test_health_answers_200_to_any_valid_token_and_401_without_one(acme: Organization) -> None:
    assert ok(call("GET", "/api/0/internal/health/", make_org_token(acme, ["event:read"])))
    assert call("GET", "/api/0/internal/health/", None).status_code == 401
    assert call("GET", "/api/0/internal/health/", "sntryu_" + "0" * 64).status_code == 401


# --- teams --------------------------------------------------------------------------------------


def test_a_team_is_created_read_renamed_and_deleted(acme: Organization, token: str) -> None:
    created = ok(
        call("POST", "/api/0/organizations/acme/teams/", token, {"name": "Ops", "x": 1}), 201
    )
    assert (created["slug"], created["name"], created["isMember"]) == ("ops", "Ops", True)
    assert created["memberCount"] == 1  # the creator joins it, as in Sentry

    read = ok(call("GET", "/api/0/teams/acme/ops/", token))
    assert read["id"] == created["id"]
    assert read["organization"]["slug"] == "acme"
    assert "organization" not in ok(
        call("GET", "/api/0/teams/acme/ops/?collapse=organization", token)
    )

    renamed = ok(call("PUT", "/api/0/teams/acme/ops/", token, {"name": "Ops!", "slug": "sre"}))
    assert (renamed["slug"], renamed["name"], renamed["id"]) == ("sre", "Ops!", created["id"])

    ok(call("DELETE", "/api/0/teams/acme/sre/", token), 204)
    assert call("GET", "/api/0/teams/acme/sre/", token).status_code == 404
    assert Project.objects.filter(slug="api").exists()


def test_team_errors_have_sentrys_bodies(acme: Organization, token: str) -> None:
    path = "/api/0/organizations/acme/teams/"
    duplicate = call("POST", path, token, {"slug": "backend"})
    assert duplicate.status_code == 409
    assert duplicate.json() == {
        "non_field_errors": ["A team with this slug already exists."],
        "detail": "A team with this slug already exists.",
    }
    empty = call("POST", path, token, {})
    assert (empty.status_code, empty.json()) == (
        400,
        {"non_field_errors": ["Name or slug is required"]},
    )
    bad = call("POST", path, token, {"slug": "Not A Slug"})
    assert bad.status_code == 400
    assert list(bad.json()) == ["slug"]
    wrong_type = call("POST", path, token, {"slug": ["list"]})
    assert (wrong_type.status_code, wrong_type.json()) == (400, {"slug": ["Not a valid string."]})
    make_team(acme, "frontend")
    taken = call("PUT", "/api/0/teams/acme/frontend/", token, {"slug": "backend"})
    assert (taken.status_code, taken.json()) == (
        400,
        {"slug": ['The slug "backend" is already in use.']},
    )
    not_json = call("POST", path, token, None, data="{", content_type="application/json")
    assert not_json.status_code == 400
    assert Team.objects.filter(organization=acme).count() == 2


def test_team_list_is_paginated_and_detailed_unless_asked_not_to(
    acme: Organization, token: str
) -> None:
    response = call("GET", "/api/0/organizations/acme/teams/", token)
    teams = ok(response)
    assert [team["slug"] for team in teams] == ["backend"]
    assert [project["slug"] for project in teams[0]["projects"]] == ["api"]
    assert 'rel="next"; results="false"' in response["Link"]
    brief = ok(call("GET", "/api/0/organizations/acme/teams/?detailed=0", token))
    assert "projects" not in brief[0]


# --- admin history ------------------------------------------------------------------------------


def test_writes_are_recorded_with_the_acting_user_or_organization_token(
    acme: Organization, owner: Any, token: str
) -> None:
    ok(call("POST", "/api/0/organizations/acme/teams/", token, {"slug": "ops"}), 201)
    team = Team.objects.get(slug="ops")
    entry = LogEntry.objects.get(object_id=str(team.pk), action_flag=ADDITION)
    assert entry.user == owner
    assert entry.content_type.model == "team"
    assert "olivia with token sntryu_" in entry.change_message

    org_token = make_org_token(acme, ["team:admin", "team:write"], name="terraform")
    ok(call("PUT", "/api/0/teams/acme/ops/", org_token, {"name": "Operations"}))
    ok(call("DELETE", "/api/0/teams/acme/ops/", org_token), 204)
    change = LogEntry.objects.get(object_id=str(team.pk), action_flag=CHANGE)
    deletion = LogEntry.objects.get(object_id=str(team.pk), action_flag=DELETION)
    for logged in (change, deletion):
        assert logged.user.get_username() == ORG_TOKEN_USERNAME
        assert not logged.user.is_active
        assert "organization token sntrys_" in logged.change_message
        assert '"terraform"' in logged.change_message
    assert "Changed name." in change.change_message


# --- projects -----------------------------------------------------------------------------------


def test_a_project_is_created_with_a_default_key(acme: Organization, token: str) -> None:
    body = {"name": "My App", "platform": "python", "default_rules": True}
    created = ok(call("POST", "/api/0/teams/acme/backend/projects/", token, body), 201)
    assert (created["slug"], created["name"], created["platform"]) == ("my-app", "My App", "python")
    assert [team["slug"] for team in created["teams"]] == ["backend"]
    keys = ok(call("GET", "/api/0/projects/acme/my-app/keys/", token))
    assert [key["name"] for key in keys] == ["Default"]

    second = ok(call("POST", "/api/0/teams/acme/backend/projects/", token, {"name": "My App"}), 201)
    assert second["slug"] == "my-app-2"
    assert second["platform"] is None

    duplicate = call(
        "POST", "/api/0/teams/acme/backend/projects/", token, {"name": "X", "slug": "api"}
    )
    assert (duplicate.status_code, duplicate.json()) == (
        409,
        {"detail": "A project with this slug already exists."},
    )
    missing = call("POST", "/api/0/teams/acme/backend/projects/", token, {"slug": "nameless"})
    assert (missing.status_code, missing.json()) == (400, {"name": ["This field is required."]})
    unknown_team = call("POST", "/api/0/teams/acme/nope/projects/", token, {"name": "X"})
    assert unknown_team.status_code == 404


PROJECT_SETTINGS = {
    "name": "API",
    "digestsMinDelay": 600,
    "digestsMaxDelay": 1200,
    "resolveAge": 72,
    "fingerprintingRules": "error.type:DatabaseUnavailable -> system-down\n",
    "groupingEnhancements": "stack.function:panic_handler ^-group\n",
    "allowedDomains": ["https://example.com", "*.example.org"],
    "scrapeJavaScript": False,
    "securityToken": "s3cr3t",
    "securityTokenHeader": "X-Sentry-Token",
    "verifySSL": True,
    "highlightTags": ["handled", "environment"],
    "options": {
        "filters:blacklisted_ips": "10.0.0.0/8\n192.0.2.7",
        "filters:releases": "1.0.*\n*-beta",
        "filters:error_messages": "*ConnectionError*",
        "sentry:unknown": "ignored",
    },
}


def test_project_settings_and_filter_options_round_trip(acme: Organization, token: str) -> None:
    put = ok(call("PUT", "/api/0/projects/acme/api/", token, PROJECT_SETTINGS))
    got = ok(call("GET", "/api/0/projects/acme/api/", token))

    for body in (put, got):
        for field, value in PROJECT_SETTINGS.items():
            if field != "options":
                assert body[field] == value, field
        assert body["options"] == {
            key: value
            for key, value in PROJECT_SETTINGS["options"].items()
            if key != "sentry:unknown"
        }
        assert body["organization"]["slug"] == "acme"
    filters = InboundFilters.objects.get(project__slug="api")
    assert filters.blacklisted_ips == "10.0.0.0/8\n192.0.2.7"
    assert filters.releases == "1.0.*\n*-beta"
    assert filters.error_messages == "*ConnectionError*"


def test_project_put_errors_change_nothing(acme: Organization, token: str) -> None:
    make_project(acme, "web")
    before = snapshot()
    cases = [
        ({"slug": "web"}, {"slug": ["Another project (Web) is already using that slug"]}),
        (
            {"digestsMinDelay": 3000, "digestsMaxDelay": 600},
            {"digestsMinDelay": ["The minimum delay on digests must be lower than the maximum."]},
        ),
        ({"resolveAge": "soon"}, {"resolveAge": ["A valid integer is required."]}),
        ({"allowedDomains": []}, {"allowedDomains": ["This list may not be empty."]}),
    ]
    for body, errors in cases:
        response = call("PUT", "/api/0/projects/acme/api/", token, body)
        assert (response.status_code, response.json()) == (400, errors)
    # A valid slug with an invalid option: the whole request is refused.
    mixed = {"slug": "renamed", "options": {"filters:blacklisted_ips": "not-an-ip"}}
    response = call("PUT", "/api/0/projects/acme/api/", token, mixed)
    assert response.status_code == 400
    assert list(response.json()["options"]) == ["filters:blacklisted_ips"]
    assert snapshot() == before


def test_project_teams_are_added_and_removed(acme: Organization, token: str) -> None:
    make_team(acme, "frontend")
    added = ok(call("POST", "/api/0/projects/acme/api/teams/frontend/", token), 201)
    assert [team["slug"] for team in added["teams"]] == ["backend", "frontend"]
    removed = ok(call("DELETE", "/api/0/projects/acme/api/teams/backend/", token))
    assert [team["slug"] for team in removed["teams"]] == ["frontend"]
    missing = call("POST", "/api/0/projects/acme/api/teams/nope/", token)
    assert (missing.status_code, missing.json()) == (404, {"detail": "Team does not exist."})


def test_a_project_is_deleted_by_slug_and_its_keys_by_numeric_project_id(
    acme: Organization, token: str
) -> None:
    project = Project.objects.get(slug="api")
    key = ProjectKey.objects.create(project=project, label="Default")
    ok(call("DELETE", f"/api/0/projects/acme/{project.pk}/keys/{key.public_key}/", token), 204)
    assert not ProjectKey.objects.filter(pk=key.pk).exists()
    ok(call("DELETE", "/api/0/projects/acme/api/", token), 204)
    assert call("GET", "/api/0/projects/acme/api/", token).status_code == 404


# --- DSN keys -----------------------------------------------------------------------------------


def test_a_key_echoes_what_was_set(acme: Organization, token: str) -> None:
    body = {
        "name": "ci",
        "rateLimit": {"count": 100, "window": 3600},
        "browserSdkVersion": "7.x",
        "dynamicSdkLoaderOptions": {"hasReplay": False, "hasPerformance": True, "hasDebug": True},
    }
    created = ok(call("POST", "/api/0/projects/acme/api/keys/", token, body), 201)
    project = Project.objects.get(slug="api")
    assert created["id"] == created["public"]
    assert (created["name"], created["label"]) == ("ci", "ci")
    assert created["projectId"] == project.pk
    assert created["rateLimit"] == {"window": 3600, "count": 100}
    assert created["browserSdkVersion"] == "7.x"
    assert created["dynamicSdkLoaderOptions"]["hasReplay"] is False
    assert created["dynamicSdkLoaderOptions"]["hasDebug"] is True
    assert created["dsn"]["public"] == f"http://{created['public']}@127.0.0.1:8000/{project.pk}"
    assert created["dsn"]["secret"].startswith(f"http://{created['public']}:{created['secret']}@")
    assert all(isinstance(value, str) for value in created["dsn"].values())
    assert ok(call("GET", f"/api/0/projects/acme/api/keys/{created['id']}/", token)) == created

    path = f"/api/0/projects/acme/api/keys/{created['id']}/"
    changed = ok(call("PUT", path, token, {"name": "ci", "rateLimit": None, "isActive": False}))
    assert (changed["rateLimit"], changed["isActive"]) == (None, False)
    key = ProjectKey.objects.get(public_key=created["id"])
    assert (key.rate_limit_count, key.rate_limit_window, key.is_active) == (None, None, False)
    inactive = ok(call("GET", "/api/0/projects/acme/api/keys/?status=inactive", token))
    assert [k["id"] for k in inactive] == [created["id"]]
    assert ok(call("GET", "/api/0/projects/acme/api/keys/?status=other", token)) == []


def test_a_fresh_key_has_sentrys_defaults(acme: Organization, token: str) -> None:
    created = ok(call("POST", "/api/0/projects/acme/api/keys/", token, {}), 201)
    assert created["name"] == created["public"][:14]
    assert created["rateLimit"] is None
    assert created["dynamicSdkLoaderOptions"] == {
        "hasReplay": True,
        "hasPerformance": True,
        "hasDebug": False,
        "hasFeedback": False,
        "hasLogsAndMetrics": False,
    }
    zero = ok(
        call(
            "POST",
            "/api/0/projects/acme/api/keys/",
            token,
            {"rateLimit": {"count": 0, "window": 60}},
        ),
        201,
    )
    assert zero["rateLimit"] is None


def test_key_errors_are_nested_like_sentrys(acme: Organization, token: str) -> None:
    before = snapshot()
    cases = [
        ({"rateLimit": {"count": 1, "window": 86401}}, "window"),
        ({"rateLimit": {"count": "many", "window": 60}}, "count"),
        ({"rateLimit": {"count": -1, "window": 60}}, "count"),
    ]
    for body, field in cases:
        response = call("POST", "/api/0/projects/acme/api/keys/", token, body)
        assert response.status_code == 400
        assert list(response.json()["rateLimit"]) == [field]
    bad_version = call("POST", "/api/0/projects/acme/api/keys/", token, {"browserSdkVersion": "6"})
    assert bad_version.json() == {"browserSdkVersion": ['"6" is not a valid choice.']}
    unknown = call("GET", "/api/0/projects/acme/api/keys/" + "0" * 32 + "/", token)
    assert unknown.status_code == 404
    assert snapshot() == before


# --- inbound filters ----------------------------------------------------------------------------


def test_inbound_filters_follow_sentrys_semantics(acme: Organization, token: str) -> None:
    base = "/api/0/projects/acme/api/filters/"
    states = {f["id"]: f["active"] for f in ok(call("GET", base, token))}
    assert states == {
        "browser-extensions": False,
        "legacy-browsers": False,
        "localhost": False,
        "web-crawlers": True,
    }
    ok(call("PUT", base + "localhost/", token, {"active": True}), 204)
    ok(call("PUT", base + "web-crawlers/", token, {}), 204)
    ok(call("PUT", base + "legacy-browsers/", token, {"subfilters": ["safari", "ie"]}), 204)
    states = {f["id"]: f["active"] for f in ok(call("GET", base, token))}
    assert states["localhost"] is True
    assert states["web-crawlers"] is False
    assert states["legacy-browsers"] == ["ie", "safari"]
    row = InboundFilters.objects.get(project__slug="api")
    assert (row.localhost, row.web_crawlers, row.legacy_browsers) == (True, False, True)

    ok(call("PUT", base + "legacy-browsers/", token, {"active": True, "subfilters": ["ie"]}), 204)
    assert {f["id"]: f["active"] for f in ok(call("GET", base, token))}["legacy-browsers"] is True
    ok(call("PUT", base + "legacy-browsers/", token, {"subfilters": []}), 204)
    assert not InboundFilters.objects.get(project__slug="api").legacy_browsers

    unknown = call("PUT", base + "nope/", token, {"active": True})
    assert unknown.status_code == 404
    bad = call("PUT", base + "legacy-browsers/", token, {"subfilters": ["netscape"]})
    assert bad.status_code == 400
    assert "subfilters" in bad.json()


# --- members ------------------------------------------------------------------------------------


def test_a_member_is_added_by_email_read_updated_and_removed(
    acme: Organization, token: str
) -> None:
    path = "/api/0/organizations/acme/members/"
    created = ok(call("POST", path, token, {"email": "bo@example.com", "orgRole": "member"}), 201)
    assert (created["email"], created["orgRole"]) == ("bo@example.com", "member")
    assert (created["pending"], created["expired"]) == (False, False)
    member = OrganizationMember.objects.get(pk=int(created["id"]))
    assert member.user.email == "bo@example.com"
    assert not member.user.has_usable_password()

    read = ok(call("GET", f"{path}{created['id']}/", token))
    assert read["teamRoleList"]
    assert [role["id"] for role in read["orgRoleList"]] == [
        "billing", "member", "admin", "manager", "owner",
    ]  # fmt: skip
    body = {"orgRole": "admin", "teamRoles": [{"teamSlug": "backend", "role": None}]}
    updated = ok(call("PUT", f"{path}{created['id']}/", token, body))
    assert updated["orgRole"] == "admin"
    assert updated["teamRoles"] == [{"teamSlug": "backend", "role": "admin"}]
    # What the provider does: copy teamRoles from the GET into the PUT.
    again = ok(
        call(
            "PUT",
            f"{path}{created['id']}/",
            token,
            {"orgRole": "admin", "teamRoles": updated["teamRoles"]},
        )
    )
    assert again["teamRoles"] == updated["teamRoles"]

    ok(call("DELETE", f"{path}{created['id']}/", token), 204)
    assert call("GET", f"{path}{created['id']}/", token).status_code == 404


def test_member_rules(acme: Organization, owner: Any, token: str) -> None:
    path = "/api/0/organizations/acme/members/"
    existing = make_user("sam", email="sam@example.com")
    old_style = {"email": "SAM@example.com", "role": "manager", "teams": ["backend"]}
    created = ok(call("POST", path, token, old_style), 201)
    assert created["user"]["id"] == str(existing.pk)  # the user with that email, reused
    assert created["orgRole"] == "manager"

    duplicate = call("POST", path, token, {"email": "sam@example.com"})
    assert (duplicate.status_code, duplicate.json()) == (
        400,
        {"email": ["The user sam@example.com is already a member"]},
    )
    missing = call("POST", path, token, {"orgRole": "member"})
    assert missing.json() == {"email": ["This field is required."]}
    bad_role = call("POST", path, token, {"email": "x@example.com", "orgRole": "god"})
    assert bad_role.json() == {"orgRole": ['"god" is not a valid choice.']}

    manager_token = user_token(existing, ALL_SCOPES)
    too_high = call("POST", path, manager_token, {"email": "y@example.com", "orgRole": "owner"})
    assert too_high.json() == {"orgRole": ["You do not have permission to set that org-level role"]}
    me = OrganizationMember.objects.get(user=owner)
    demote_owner = call("PUT", f"{path}{me.pk}/", manager_token, {"orgRole": "member"})
    assert demote_owner.status_code == 403
    own = call("PUT", f"{path}{me.pk}/", token, {"orgRole": "member"})
    assert own.json() == {"detail": "You cannot make changes to your own role."}
    only_owner = call("DELETE", f"{path}{me.pk}/", token)
    assert only_owner.status_code == 403
    assert OrganizationMember.objects.filter(pk=me.pk, role="owner").exists()


# --- organization -------------------------------------------------------------------------------


def test_the_organization_is_renamed_and_rate_limited(acme: Organization, token: str) -> None:
    make_org("globex")
    body = {"name": "Acme Inc", "slug": "acme-inc", "rateLimit": {"count": 1000, "window": 60}}
    updated = ok(call("PUT", "/api/0/organizations/acme/", token, body))
    assert (updated["name"], updated["slug"], updated["rateLimit"]) == (
        "Acme Inc",
        "acme-inc",
        {"window": 60, "count": 1000},
    )
    acme.refresh_from_db()
    assert (acme.rate_limit_count, acme.rate_limit_window) == (1000, 60)
    taken = call("PUT", "/api/0/organizations/acme-inc/", token, {"slug": "globex"})
    assert (taken.status_code, taken.json()) == (
        409,
        {"slug": ["An organization with this slug already exists."]},
    )
    cleared = ok(call("PUT", "/api/0/organizations/acme-inc/", token, {"rateLimit": None}))
    assert cleared["rateLimit"] is None


@pytest.mark.parametrize(
    "path",
    [
        "/api/0/projects/acme/api/teams/backend/",
        "/api/0/projects/acme/api/filters/localhost/",
    ],
)
def test_head_on_a_write_only_route_is_405(acme: Organization, token: str, path: str) -> None:
    response = call("HEAD", path, token)

    assert response.status_code == 405


def test_nul_characters_are_refused_not_stored(acme: Organization, token: str) -> None:
    before = snapshot()
    bodies = [
        ("PUT", "/api/0/projects/acme/api/", {"highlightContext": {"trace": ["a\x00b"]}}),
        ("PUT", "/api/0/projects/acme/api/", {"name": "a\x00b"}),
        ("POST", "/api/0/organizations/acme/teams/", {"slug": "ok", "name": "a\x00b"}),
        ("POST", "/api/0/projects/acme/api/keys/", {"name": "a\x00b"}),
    ]
    for method, path, body in bodies:
        response = call(method, path, token, body)
        assert response.status_code == 400, (path, response.content)
    assert snapshot() == before


def test_a_member_joins_and_leaves_a_team(acme: Organization, owner: Any, token: str) -> None:
    bo = add_member(acme, make_user("bo"), role="member")
    path = f"/api/0/organizations/acme/members/{bo.pk}/teams/backend/"

    joined = ok(call("POST", path, token), 201)
    assert (joined["slug"], joined["isMember"], joined["teamRole"]) == (
        "backend",
        True,
        "contributor",
    )
    assert ok(call("POST", path, token), 204) is None
    assert ok(call("PUT", path, token, {"teamRole": "contributor"})) == {
        "isActive": True,
        "teamRole": "contributor",
    }
    refused = call("PUT", path, token, {"teamRole": "admin"})
    assert refused.status_code == 400
    assert list(refused.json()) == ["teamRole"]
    left = ok(call("DELETE", path, token))
    assert (left["isMember"], left["teamRole"]) == (False, None)
    assert not bo.teams.exists()
    messages = LogEntry.objects.filter(object_id=str(bo.pk)).values_list(
        "change_message", flat=True
    )
    assert sorted(message.split(" Through")[0] for message in messages) == [
        "Changed teams (added backend).",
        "Changed teams (removed backend).",
    ]
