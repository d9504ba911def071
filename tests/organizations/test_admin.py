"""The Django admin: every page renders, bad input re-renders with errors, and a token created
in the admin is shown exactly once and works as displayed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from api_helpers import authenticate
from django.test import Client
from django.urls import reverse
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

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser(
        username="root", email="root@example.com", password="root-pass-1"
    )


@pytest.fixture
def staff_client(client: Client, superuser: Any) -> Client:
    client.force_login(superuser)
    return client


@pytest.fixture
def world(superuser: Any) -> dict[str, Any]:
    """One of everything, made through the services."""
    acme = services.organization_create(slug="acme", name="Acme", owner=superuser)
    team = services.team_create(organization=acme, slug="backend")
    project = services.project_create(
        organization=acme, slug="api", teams=[team], rate_limit=(5, 60)
    )
    token, _ = services.api_token_create(user=superuser, scopes=["org:read"], name="laptop")
    org_token, _ = services.org_token_create(organization=acme, scopes=["org:read"], name="ci")
    return {
        "organization": acme,
        "team": team,
        "project": project,
        "projectkey": project.keys.get(),
        "organizationmember": OrganizationMember.objects.get(organization=acme),
        "apitoken": token,
        "orgauthtoken": org_token,
    }


MODELS = [
    "organization",
    "team",
    "project",
    "projectkey",
    "organizationmember",
    "apitoken",
    "orgauthtoken",
]


def admin_url(model: str, view: str, *args: Any) -> str:
    return reverse(f"admin:organizations_{model}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS)
def test_it_renders_the_changelist_add_and_change_pages(
    staff_client: Client, world: dict[str, Any], model: str
) -> None:
    for url in (
        admin_url(model, "changelist"),
        admin_url(model, "changelist") + "?q=acme",
        admin_url(model, "add"),
        admin_url(model, "change", world[model].pk),
    ):
        response = staff_client.get(url)
        assert response.status_code == 200, (url, response.content[:2000])


@pytest.fixture
def other_world(world: dict[str, Any], django_user_model: Any) -> None:
    """Rows each changelist filter in test_it_filters_the_changelists must leave out."""
    globex = services.organization_create(slug="globex")
    Organization.objects.filter(pk=globex.pk).update(status="pending_deletion")
    project = services.project_create(organization=globex, slug="web")
    project.keys.update(is_active=False)
    services.member_add(organization=globex, user=django_user_model.objects.create(username="m"))
    token, _ = services.api_token_create(user=world["apitoken"].user, scopes=["org:read"])
    services.token_revoke(token=token)
    services.org_token_create(organization=globex, scopes=["org:read"])


@pytest.mark.parametrize(
    ("model", "query"),
    [
        ("organization", "status__exact=active"),
        ("project", "organization__id__exact={org}"),
        ("projectkey", "is_active__exact=1"),
        ("organizationmember", "role__exact=owner"),
        ("apitoken", "status=revoked"),
        ("orgauthtoken", "organization__id__exact={org}"),
    ],
)
def test_it_filters_the_changelists(
    staff_client: Client, world: dict[str, Any], other_world: None, model: str, query: str
) -> None:
    url = admin_url(model, "changelist") + "?" + query.format(org=world["organization"].pk)

    response = staff_client.get(url)

    # An unknown filter would redirect to ?e=1; a working one lists only the matching row.
    assert response.status_code == 200, response.content[:2000]
    verbose_name = type(world[model])._meta.verbose_name
    assert f"1 {verbose_name}" in response.content.decode()


def test_it_redirects_anonymous_visitors_to_the_login_page(client: Client) -> None:
    response = client.get(admin_url("apitoken", "changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_project_page_lists_each_key_dsn(staff_client: Client, world: dict[str, Any]) -> None:
    key = world["projectkey"]

    project_page = staff_client.get(admin_url("project", "change", world["project"].pk))
    key_list = staff_client.get(admin_url("projectkey", "changelist"))

    assert key.dsn in project_page.content.decode()
    assert key.dsn in key_list.content.decode()
    assert "5 per 60 s" in key_list.content.decode()


# --- token creation -------------------------------------------------------------------------


def create_user_token(client: Client, owner: Any, **extra: Any) -> Any:
    """POST the add form; a valid one is followed to the page its redirect names."""
    data = {"name": "deploy", "user": owner.pk, "scopes": ["org:read", "project:read"]}
    data.update(extra)
    return follow_created(client, client.post(admin_url("apitoken", "add"), data))


def follow_created(client: Client, response: Any) -> Any:
    if response.status_code != 303:
        return response
    assert "sntry" not in response.content.decode()
    return client.get(response["Location"])


def shown_token(response: Any) -> str:
    content = response.content.decode()
    start = content.index('value="sntry') + len('value="')
    return content[start : content.index('"', start)]


def test_it_shows_a_new_personal_token_once_and_it_works(
    staff_client: Client, superuser: Any
) -> None:
    response = create_user_token(staff_client, superuser)

    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    plaintext = shown_token(response)
    assert plaintext.startswith("sntryu_")
    assert "It is shown only this once" in response.content.decode()
    token = ApiToken.objects.get()
    assert token.name == "deploy"
    assert token.scopes == ["org:read", "project:read"]
    assert token.token_hash != plaintext
    user, auth = authenticate(plaintext)
    assert user == superuser
    assert auth.pk == token.pk


def test_the_token_is_never_shown_again(staff_client: Client, superuser: Any) -> None:
    plaintext = shown_token(create_user_token(staff_client, superuser))
    token = ApiToken.objects.get()
    secret_part = plaintext[len(token.token_lookup) : -4]

    for url in (
        admin_url("apitoken", "change", token.pk),
        admin_url("apitoken", "changelist"),
        admin_url("apitoken", "history", token.pk),
        reverse("admin:index"),
    ):
        response = staff_client.get(url)
        assert response.status_code == 200, url
        content = response.content.decode()
        assert secret_part not in content, url
        assert token.token_hash not in content, url
    change_page = staff_client.get(admin_url("apitoken", "change", token.pk)).content.decode()
    assert token.display in change_page


def test_the_add_form_redirects_and_a_reload_neither_shows_nor_creates_a_token(
    staff_client: Client, superuser: Any
) -> None:
    data = {"name": "deploy", "user": superuser.pk, "scopes": ["org:read"]}
    posted = staff_client.post(admin_url("apitoken", "add"), data)
    token = ApiToken.objects.get()

    assert posted.status_code == 303
    assert posted["Location"] == reverse("admin:organizations_apitoken_created", args=[token.pk])
    assert "sntryu_" not in posted.content.decode()
    first = staff_client.get(posted["Location"])
    plaintext = shown_token(first)
    reload = staff_client.get(posted["Location"], follow=True)

    assert authenticate(plaintext)[1].pk == token.pk
    assert ApiToken.objects.count() == 1
    assert reload.redirect_chain == [(admin_url("apitoken", "change", token.pk), 302)]
    content = reload.content.decode()
    assert plaintext[len(token.token_lookup) : -4] not in content
    assert "was shown once, when it was created, and cannot be shown again" in content
    assert "statsapi_new_token" not in staff_client.session


def test_another_admin_session_cannot_see_a_new_token(
    staff_client: Client, superuser: Any, django_user_model: Any
) -> None:
    """The secret lives in the creating admin's session only."""
    posted = staff_client.post(
        admin_url("apitoken", "add"),
        {"name": "deploy", "user": superuser.pk, "scopes": ["org:read"]},
    )
    other = Client()
    other.force_login(
        django_user_model.objects.create_superuser(username="other", password="other-pass-1")
    )

    response = other.get(posted["Location"], follow=True)

    assert 'value="sntryu_' not in response.content.decode()
    assert "cannot be shown again" in response.content.decode()
    assert shown_token(staff_client.get(posted["Location"])).startswith("sntryu_")


def test_an_expiry_can_be_set_when_creating_a_token(staff_client: Client, superuser: Any) -> None:
    expires = timezone.localtime(timezone.now() + timedelta(days=2))

    response = create_user_token(
        staff_client,
        superuser,
        expires_at_0=expires.strftime("%Y-%m-%d"),
        expires_at_1=expires.strftime("%H:%M:%S"),
    )

    assert response.status_code == 200, response.content
    token = ApiToken.objects.get()
    assert token.expires_at is not None
    assert abs(token.expires_at - expires) < timedelta(seconds=1)


def test_it_shows_a_new_organization_token_once_and_it_works(
    staff_client: Client, world: dict[str, Any], superuser: Any
) -> None:
    acme = world["organization"]

    response = follow_created(
        staff_client,
        staff_client.post(
            admin_url("orgauthtoken", "add"),
            {"name": "ci-2", "organization": acme.pk, "scopes": ["org:read"]},
        ),
    )

    assert response.status_code == 200, response.content
    plaintext = shown_token(response)
    assert plaintext.startswith("sntrys_")
    token = OrgAuthToken.objects.get(name="ci-2")
    assert token.created_by == superuser
    _, auth = authenticate(plaintext)
    assert auth.pk == token.pk
    assert auth.organization == acme


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"scopes": []}, "Choose at least one scope."),
        ({"scopes": ["org:read", "org:everything"]}, "Select a valid choice."),
        ({"user": ""}, "This field is required."),
        ({"user": "999999"}, "Select a valid choice."),
        ({"expires_at_0": "2001-01-01", "expires_at_1": "00:00:00"}, "must be in the future"),
        ({"expires_at_0": "tomorrow", "expires_at_1": "noon"}, "Enter a valid date"),
    ],
)
def test_it_re_renders_a_bad_token_form_with_errors(
    staff_client: Client, superuser: Any, data: dict[str, Any], error: str
) -> None:
    response = create_user_token(staff_client, superuser, **data)

    assert response.status_code == 200, response.content
    assert error in response.content.decode()
    assert "sntryu_" not in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_revoke_action_stops_the_tokens_working(staff_client: Client, superuser: Any) -> None:
    _, first = services.api_token_create(user=superuser, scopes=["org:read"])
    _, second = services.api_token_create(user=superuser, scopes=["org:read"])
    _, kept = services.api_token_create(user=superuser, scopes=["org:read"])
    selected = [authenticate(first)[1].pk, authenticate(second)[1].pk]

    response = staff_client.post(
        admin_url("apitoken", "changelist"),
        {"action": "revoke", "_selected_action": selected},
        follow=True,
    )

    assert response.status_code == 200
    assert "Revoked 2 token(s)." in response.content.decode()
    for plaintext in (first, second):
        with pytest.raises(exceptions.AuthenticationFailed):
            authenticate(plaintext)
    authenticate(kept)


def test_editing_a_token_keeps_its_secret(staff_client: Client, superuser: Any) -> None:
    token, plaintext = services.api_token_create(user=superuser, scopes=["org:read"])

    response = staff_client.post(
        admin_url("apitoken", "change", token.pk),
        {"name": "renamed", "scopes": ["org:read", "team:read"]},
    )

    assert response.status_code == 302, response.content
    token.refresh_from_db()
    assert token.name == "renamed"
    assert token.scopes == ["org:read", "team:read"]
    assert authenticate(plaintext)[1].pk == token.pk


# --- other forms: bad input re-renders with errors ------------------------------------------


def test_a_duplicate_organization_slug_re_renders_with_an_error(
    staff_client: Client, world: dict[str, Any]
) -> None:
    response = staff_client.post(
        admin_url("organization", "add"),
        {
            "slug": "acme",
            "name": "Again",
            "status": "active",
            "date_created_0": "2024-01-01",
            "date_created_1": "00:00:00",
            "teams-TOTAL_FORMS": "0",
            "teams-INITIAL_FORMS": "0",
            "members-TOTAL_FORMS": "0",
            "members-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "Organization with this Slug already exists." in response.content.decode()
    assert Organization.objects.count() == 1


def test_a_rate_limit_without_its_window_re_renders_with_an_error(
    staff_client: Client, world: dict[str, Any]
) -> None:
    key = world["projectkey"]

    response = staff_client.post(
        admin_url("projectkey", "change", key.pk),
        {
            "project": key.project_id,
            "label": "Default",
            "secret_key": key.secret_key,
            "is_active": "on",
            "rate_limit_count": "10",
            "rate_limit_window": "",
        },
    )

    assert response.status_code == 200
    assert "Give both the count and the window, or neither." in response.content.decode()
    key.refresh_from_db()
    assert (key.rate_limit_count, key.rate_limit_window) == (5, 60)


def test_a_project_cannot_take_another_organizations_team(
    staff_client: Client, world: dict[str, Any]
) -> None:
    globex = services.organization_create(slug="globex")
    foreign = services.team_create(organization=globex, slug="ops")
    project = world["project"]

    response = staff_client.post(
        admin_url("project", "change", project.pk),
        project_form(project.organization, "api", teams=[foreign.pk]),
    )

    assert response.status_code == 200
    assert "belong to another organization than acme: ops" in response.content.decode()
    assert list(project.teams.all()) == [world["team"]]


def test_a_team_slug_must_be_unique_in_its_organization(
    staff_client: Client, world: dict[str, Any]
) -> None:
    response = staff_client.post(
        admin_url("team", "add"),
        {
            "organization": world["organization"].pk,
            "slug": "backend",
            "name": "Backend again",
            "date_created_0": "2024-01-01",
            "date_created_1": "00:00:00",
        },
    )

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Team.objects.count() == 1


def test_project_keys_created_in_the_admin_get_a_dsn(
    staff_client: Client, world: dict[str, Any]
) -> None:
    response = staff_client.post(
        admin_url("projectkey", "add"),
        {"project": world["project"].pk, "label": "Second", "secret_key": "", "is_active": "on"},
    )

    assert response.status_code == 302, response.content
    key = ProjectKey.objects.get(label="Second")
    assert len(key.public_key) == 32
    assert Project.objects.get().keys.count() == 2


@pytest.mark.parametrize("status", ["active", "expired", "revoked"])
def test_the_token_list_filters_by_status(
    staff_client: Client, superuser: Any, status: str
) -> None:
    past = timezone.now() - timedelta(minutes=1)
    tokens = {
        "active": services.api_token_create(user=superuser, scopes=["org:read"], name="a")[0],
        "expired": services.api_token_create(
            user=superuser, scopes=["org:read"], name="e", expires_at=past
        )[0],
        "revoked": services.api_token_create(user=superuser, scopes=["org:read"], name="r")[0],
    }
    services.token_revoke(token=tokens["revoked"])

    response = staff_client.get(admin_url("apitoken", "changelist") + f"?status={status}")

    assert response.status_code == 200
    content = response.content.decode()
    for name, token in tokens.items():
        assert (token.display in content) == (name == status), name


def project_form(organization: Organization, slug: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "organization": organization.pk,
        "slug": slug,
        "name": slug,
        "platform": "",
        "date_created_0": "2024-01-01",
        "date_created_1": "00:00:00",
        "keys-TOTAL_FORMS": "0",
        "keys-INITIAL_FORMS": "0",
        "inbound_filters-TOTAL_FORMS": "0",
        "inbound_filters-INITIAL_FORMS": "0",
    }
    data.update(extra)
    return data


def test_a_project_added_in_the_admin_gets_its_first_dsn_key(
    staff_client: Client, world: dict[str, Any]
) -> None:
    response = staff_client.post(
        admin_url("project", "add"), project_form(world["organization"], "mobile")
    )

    assert response.status_code == 302, response.content
    key = Project.objects.get(slug="mobile").keys.get()
    assert key.is_active


def test_a_key_added_inline_with_a_new_project_is_its_only_key(
    staff_client: Client, world: dict[str, Any]
) -> None:
    response = staff_client.post(
        admin_url("project", "add"),
        project_form(
            world["organization"],
            "mobile",
            **{
                "keys-TOTAL_FORMS": "1",
                "keys-0-label": "Limited",
                "keys-0-is_active": "on",
                "keys-0-rate_limit_count": "3",
                "keys-0-rate_limit_window": "60",
            },
        ),
    )

    assert response.status_code == 302, response.content
    key = Project.objects.get(slug="mobile").keys.get()
    assert (key.label, key.rate_limit_count, key.rate_limit_window) == ("Limited", 3, 60)
