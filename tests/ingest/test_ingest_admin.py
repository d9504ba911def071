"""Inbound filters are edited in the admin, with validation a user can read."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client
from ingest_helpers import event_envelope, post_envelope, same_everywhere, totals

from ingest.models import InboundFilters
from organizations.models import ProjectKey


def form(key: ProjectKey, **fields: Any) -> dict[str, Any]:
    data = {
        "project": key.project_id,
        "blacklisted_ips": "",
        "releases": "",
        "error_messages": "",
        "web_crawlers": "on",
    }
    data.update(fields)
    return data


def test_a_bad_ip_or_cidr_is_a_form_error(admin_client: Client, key: ProjectKey) -> None:
    response = admin_client.post(
        "/admin/ingest/inboundfilters/add/",
        form(key, blacklisted_ips="10.0.0.1\n10.0.0.300\n"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "blacklisted_ips" in errors
    assert "'10.0.0.300' is not a valid IP address or CIDR range" in errors["blacklisted_ips"][0]
    assert not InboundFilters.objects.exists()


def test_filters_saved_in_the_admin_apply_to_ingest(
    admin_client: Client, client: Client, key: ProjectKey
) -> None:
    response = admin_client.post(
        "/admin/ingest/inboundfilters/add/",
        form(key, blacklisted_ips="192.0.2.0/24", releases="*-dev"),
    )
    assert response.status_code == 302, response.content
    post_envelope(client, key, event_envelope({"release": "2.0-dev"}))
    post_envelope(client, key, event_envelope({}), REMOTE_ADDR="192.0.2.44")
    post_envelope(client, key, event_envelope({"release": "2.0"}))
    assert totals(key) == same_everywhere(3, 0, 2)


def test_the_admin_lists_filters(admin_client: Client, key: ProjectKey) -> None:
    InboundFilters.objects.create(project=key.project, localhost=True)
    response = admin_client.get("/admin/ingest/inboundfilters/")
    assert response.status_code == 200
    assert str(key.project).encode() in response.content


def test_the_project_page_shows_the_filters_inline(admin_client: Client, key: ProjectKey) -> None:
    response = admin_client.get(f"/admin/organizations/project/{key.project_id}/change/")
    assert response.status_code == 200
    assert b'name="inbound_filters-0-blacklisted_ips"' in response.content
    crawler_box = re.search(
        rb'<input[^>]*name="inbound_filters-0-web_crawlers"[^>]*>', response.content
    )
    assert crawler_box is not None
    assert b"checked" in crawler_box.group(0)
