"""Usage charts on the admin's organization, project and DSN-key pages and the overview page:
real counts in Redis, the same numbers as the API, and a page that still renders (saying so)
when Redis is down."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from organizations.models import Organization, Project
from usage.admin_charts import UNAVAILABLE
from usage.seeding import DemoSeed, demo_seed

CLOSED = "redis://127.0.0.1:1/0"


@pytest.fixture
def seed(db: None) -> DemoSeed:
    seed = demo_seed(slug="charts", username="charts")
    # One more accepted error through ingest, so there are outcomes by category too.
    assert (
        Client()
        .post(
            f"/api/{seed.project.pk}/store/?sentry_key={seed.key.public_key}",
            data=b'{"message": "chart me"}',
            content_type="application/json",
        )
        .status_code
        == 200
    )
    return seed


@pytest.fixture
def staff(client: Client, django_user_model: Any) -> Client:
    client.force_login(
        django_user_model.objects.create_superuser("root", "root@example.com", "root-pass-1")
    )
    return client


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.content[:2000]
    return response.content.decode()


def shown_total(html: str, stat: str) -> int:
    match = re.search(rf"{stat}: <strong>(\d+)</strong>", html)
    assert match is not None, html
    return int(match.group(1))


def buckets(html: str) -> int:
    """Hover columns of the line chart: one per bucket."""
    return len(re.findall(r'<rect [^>]*fill="transparent"><title>', html))


def test_the_organization_page_charts_the_same_counts_as_the_api(
    staff: Client, seed: DemoSeed
) -> None:
    html = page(staff, f"/admin/organizations/organization/{seed.organization.pk}/change/")
    assert "Usage, last 24 hours" in html
    assert html.count("<svg") >= 2
    assert buckets(html) == 24

    for stat in ("received", "rejected", "blacklisted"):
        series = staff.get(
            "/api/0/organizations/charts/stats/",
            {"stat": stat},
            HTTP_AUTHORIZATION=f"Bearer {seed.plaintext}",
        ).json()
        assert shown_total(html, stat) == sum(count for _, count in series), stat
    assert shown_total(html, "received") > 0
    # outcomes by category: the ingested error is an accepted error
    assert re.search(r"<title>error accepted: [1-9][\d,]*</title>", html), html


@pytest.mark.parametrize(("choice", "expected"), [("24h", 24), ("7d", 168), ("90d", 90)])
def test_the_window_toggles(staff: Client, seed: DemoSeed, choice: str, expected: int) -> None:
    html = page(
        staff, f"/admin/organizations/organization/{seed.organization.pk}/change/?usage={choice}"
    )
    assert buckets(html) == expected
    for other in ("24h", "7d", "90d"):
        if other != choice:
            assert f'href="?usage={other}"' in html


def test_the_project_and_key_pages_chart_their_own_counts(staff: Client, seed: DemoSeed) -> None:
    project_html = page(staff, f"/admin/organizations/project/{seed.project.pk}/change/")
    series = staff.get(
        f"/api/0/projects/charts/{seed.project.slug}/stats/",
        HTTP_AUTHORIZATION=f"Bearer {seed.plaintext}",
    ).json()
    assert shown_total(project_html, "received") == sum(count for _, count in series)
    assert "error accepted" in project_html

    key_html = page(staff, f"/admin/organizations/projectkey/{seed.key.pk}/change/")
    rows = staff.get(
        f"/api/0/projects/charts/{seed.project.slug}/keys/{seed.key.public_key}/stats/",
        HTTP_AUTHORIZATION=f"Bearer {seed.plaintext}",
    ).json()
    assert shown_total(key_html, "received") == sum(row["total"] for row in rows)
    assert shown_total(key_html, "received") >= 1
    assert "counted per project" in key_html


def test_saving_the_form_still_works(staff: Client, seed: DemoSeed) -> None:
    project = seed.project
    response = staff.post(
        f"/admin/organizations/project/{project.pk}/change/",
        {
            "organization": seed.organization.pk,
            "slug": project.slug,
            "name": "Renamed",
            "platform": "",
            "teams": [team.pk for team in project.teams.all()],
            "keys-TOTAL_FORMS": "0",
            "keys-INITIAL_FORMS": "0",
            "inbound_filters-TOTAL_FORMS": "0",
            "inbound_filters-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Project.objects.get(pk=project.pk).name == "Renamed"


def test_the_overview_ranks_and_links_the_busiest(staff: Client, seed: DemoSeed) -> None:
    quiet = Organization.objects.create(slug="quiet", name="Quiet")
    html = page(staff, "/admin/usage/")
    assert "Last hour" in html
    assert "Last day" in html
    org_link = (
        f'<a href="/admin/organizations/organization/{seed.organization.pk}/change/">charts</a>'
    )
    assert org_link in html
    assert f'/admin/organizations/project/{seed.project.pk}/change/"' in html
    assert f"/admin/organizations/organization/{quiet.pk}/change/" not in html
    assert "Usage overview" in page(staff, "/admin/")


def test_every_page_renders_and_says_so_when_redis_is_down(
    staff: Client, seed: DemoSeed, settings: Any
) -> None:
    settings.REDIS_URL = CLOSED
    settings.TSDB_OPTIONS = {**settings.TSDB_OPTIONS, "url": CLOSED}
    for url in (
        f"/admin/organizations/organization/{seed.organization.pk}/change/",
        f"/admin/organizations/project/{seed.project.pk}/change/?usage=7d",
        f"/admin/organizations/projectkey/{seed.key.pk}/change/",
        "/admin/usage/",
    ):
        html = page(staff, url)
        assert UNAVAILABLE in html, url
        assert 'class="usage-chart"' not in html


def test_the_overview_is_for_staff_only(client: Client, seed: DemoSeed) -> None:
    response = client.get("/admin/usage/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
