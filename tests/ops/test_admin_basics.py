"""What a new admin hit first: "View site" and the index link to the API docs, the
organization form's order, read-only creation dates, and the member inline's user search."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from organizations.models import Organization, OrganizationMember, Project, Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Client, django_user_model: Any) -> Client:
    client.force_login(
        django_user_model.objects.create_superuser("root", "root@example.com", "root-pass-1")
    )
    return client


@pytest.fixture
def organization() -> Organization:
    return Organization.objects.create(slug="acme", name="Acme")


def test_view_site_and_the_index_link_to_the_api_docs(staff_client: Client) -> None:
    page = staff_client.get("/admin/").content.decode()
    assert re.search(r'<a href="/api/0/docs/">View site</a>', page), page
    assert '<a href="/api/0/docs/">API documentation</a>' in page
    assert '<a href="/api/0/schema/">' in page


def test_the_organization_form_starts_with_slug_and_name(staff_client: Client) -> None:
    page = staff_client.get("/admin/organizations/organization/add/").content.decode()
    positions = [page.index(f'name="{field}"') for field in ("slug", "name", "rate_limit_count")]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    ("model", "make"),
    [
        ("organization", lambda org: org),
        ("team", lambda org: Team.objects.create(organization=org, slug="core", name="Core")),
        ("project", lambda org: Project.objects.create(organization=org, slug="web", name="W")),
    ],
)
def test_date_created_is_shown_but_not_editable(
    staff_client: Client, organization: Organization, model: str, make: Any
) -> None:
    obj = make(organization)
    page = staff_client.get(f"/admin/organizations/{model}/{obj.pk}/change/").content.decode()
    assert "Date created" in page
    assert 'name="date_created_0"' not in page


def test_a_posted_creation_date_changes_nothing(
    staff_client: Client, organization: Organization
) -> None:
    created = organization.date_created
    response = staff_client.post(
        f"/admin/organizations/organization/{organization.pk}/change/",
        {
            "slug": "acme",
            "name": "Acme Renamed",
            "status": "active",
            "date_created_0": "2001-01-01",
            "date_created_1": "00:00:00",
            "teams-TOTAL_FORMS": "0",
            "teams-INITIAL_FORMS": "0",
            "members-TOTAL_FORMS": "0",
            "members-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    organization.refresh_from_db()
    assert organization.name == "Acme Renamed"
    assert organization.date_created == created


def test_the_member_inline_searches_users_instead_of_asking_for_an_id(
    staff_client: Client, organization: Organization, django_user_model: Any
) -> None:
    user = django_user_model.objects.create_user("alice", "alice@example.com")
    OrganizationMember.objects.create(organization=organization, user=user, role="member")
    page = staff_client.get(
        f"/admin/organizations/organization/{organization.pk}/change/"
    ).content.decode()
    select = re.search(r'<select name="members-0-user"[^>]*>', page)
    assert select is not None, page
    assert "admin-autocomplete" in select.group(0)
    assert 'class="vForeignKeyRawIdAdminField"' not in page
    # the search the widget calls finds the user by name
    found = staff_client.get(
        "/admin/autocomplete/",
        {
            "term": "ali",
            "app_label": "organizations",
            "model_name": "organizationmember",
            "field_name": "user",
        },
    ).json()
    assert [result["text"] for result in found["results"]] == ["alice"]
