"""Requests and snapshots for the provisioning API tests (a plain module, no fixtures)."""

from __future__ import annotations

import json
import re
from typing import Any

from django.contrib.admin.models import LogEntry
from django.test import Client

from ingest.models import InboundFilters
from organizations.models import Organization, OrganizationMember, Project, ProjectKey, Team

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def call(method: str, path: str, token: str | None, body: Any = None, **extra: Any) -> Any:
    """One request through the full Django stack, with a JSON body (sent as go-sentry
    does: `Content-Type: application/json` only when there is a body)."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    client = Client()
    if body is None:
        return client.generic(method, path, **headers, **extra)
    data = json.dumps(body) + "\n"
    return client.generic(method, path, data, content_type="application/json", **headers, **extra)


def snapshot() -> dict[str, Any]:
    """Every row the provisioning API can change, to compare before and after a request."""
    return {
        "organizations": list(Organization.objects.order_by("pk").values()),
        "teams": list(Team.objects.order_by("pk").values()),
        "projects": list(Project.objects.order_by("pk").values()),
        "project_teams": sorted(Project.teams.through.objects.values_list("project", "team")),
        "keys": list(ProjectKey.objects.order_by("pk").values()),
        "members": list(OrganizationMember.objects.order_by("pk").values()),
        "member_teams": sorted(
            OrganizationMember.teams.through.objects.values_list("organizationmember", "team")
        ),
        "filters": list(InboundFilters.objects.order_by("pk").values()),
        "log": LogEntry.objects.count(),
    }


def assert_json_types(value: Any, path: str = "") -> None:
    """Every `id` is a string, every `date*`/`last*` time RFC 3339 with a zone, no float."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}"
            if key == "id":
                assert isinstance(item, str), where
            if key.startswith(("date", "lastLogin", "lastActive")) and item is not None:
                assert isinstance(item, str), where
                assert RFC3339.fullmatch(item), (where, item)
            assert_json_types(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            assert_json_types(item, f"{path}[{index}]")
    else:
        assert not isinstance(value, float), path
