"""The stats endpoints read what ingest counted: events go in through the DSN endpoints and come
out of the key, project and organization stats with every outcome accounted for."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from ingest_helpers import QUOTA_WINDOW, post_store

from ingest.models import InboundFilters
from organizations.models import ApiToken, OrganizationMember, ProjectKey

pytestmark = pytest.mark.django_db


def owner_headers(key: ProjectKey) -> dict[str, str]:
    user = User.objects.create_user("stats-owner")
    OrganizationMember.objects.create(
        organization=key.project.organization, user=user, role="owner"
    )
    plaintext = ApiToken.generate_plaintext()
    token = ApiToken(user=user, scopes=["org:read", "project:read"])
    token.set_plaintext(plaintext)
    token.save()
    return {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}


def get_json(client: Client, path: str, headers: dict[str, str]) -> Any:
    response = client.get(path, **headers)
    assert response.status_code == 200, response.content
    return response.json()


def test_it_reports_ingested_outcomes_in_key_project_and_organization_stats(
    client: Client, key: ProjectKey
) -> None:
    key.rate_limit_count, key.rate_limit_window = 3, QUOTA_WINDOW
    key.save()
    InboundFilters.objects.create(project=key.project, releases="1.0-bad*")

    statuses = [
        post_store(client, key, {"message": f"boom {n}", "release": "2.0"}).status_code
        for n in range(5)
    ]
    statuses += [
        post_store(client, key, {"message": "old", "release": "1.0-bad.3"}).status_code
        for _ in range(2)
    ]
    assert statuses == [200, 200, 200, 429, 429, 200, 200]

    headers = owner_headers(key)
    org, project = key.project.organization, key.project

    key_stats = get_json(
        client, f"/api/0/projects/{org.slug}/{project.slug}/keys/{key.public_key}/stats/", headers
    )
    totals = {
        field: sum(point[field] for point in key_stats)
        for field in ("total", "dropped", "filtered", "accepted")
    }
    assert totals == {"total": 7, "dropped": 2, "filtered": 2, "accepted": 3}
    assert all(
        point["accepted"] == point["total"] - point["dropped"] - point["filtered"]
        for point in key_stats
    )

    def project_sum(stat: str) -> int:
        series = get_json(
            client, f"/api/0/projects/{org.slug}/{project.slug}/stats/?stat={stat}", headers
        )
        return sum(count for _, count in series)

    assert project_sum("received") == 7
    assert project_sum("rejected") == 2
    assert project_sum("blacklisted") == 2
    assert project_sum("release-version") == 2
    assert project_sum("generated") == 3

    org_received = get_json(client, f"/api/0/organizations/{org.slug}/stats/", headers)
    assert sum(count for _, count in org_received) == 7
