"""A `since`/`until` the stats endpoints refuse gets a message saying what is wrong with it
(Sentry's own message only for a value that is neither a number nor a date)."""

from __future__ import annotations

import pytest
from django.test import Client

from organizations.models import Organization, Project

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (
            "-5",
            "since is out of range: -5 is before 1970-01-01T00:00:00Z; Unix timestamps are "
            "seconds since then and cannot be negative",
        ),
        (
            "1e30",
            "since is out of range: 1e30 seconds is after the year 9999; send Unix seconds "
            "(a timestamp in milliseconds must be divided by 1000)",
        ),
        (
            "1764633600000",
            "since is out of range: 1764633600000 seconds is after the year 9999; send Unix "
            "seconds (a timestamp in milliseconds must be divided by 1000)",
        ),
        ("2026-13-45", "since is not a valid ISO 8601 date: 2026-13-45 (month must be in 1..12)"),
        (
            "2026-02-30",
            "since is not a valid ISO 8601 date: 2026-02-30 (day is out of range for month)",
        ),
        ("1969-12-31", "since is out of range: 1969-12-31 is before 1970-01-01T00:00:00Z"),
        ("yesterday", "since must be a numeric timestamp"),
    ],
)
def test_each_bad_since_says_what_is_wrong(
    client: Client, project: Project, owner_token: str, value: str, detail: str
) -> None:
    for path in ("/api/0/organizations/acme/stats/", "/api/0/projects/acme/api/stats/"):
        response = client.get(path, {"since": value}, HTTP_AUTHORIZATION=f"Bearer {owner_token}")
        assert response.status_code == 400, response.content
        assert response.json() == {"detail": detail}


def test_an_iso_since_with_a_bad_time_says_so(
    client: Client, organization: Organization, owner_token: str
) -> None:
    response = client.get(
        "/api/0/organizations/acme/stats/",
        {"since": "2026-11-30T25:00:00"},
        HTTP_AUTHORIZATION=f"Bearer {owner_token}",
    )
    assert response.status_code == 400, response.content
    assert response.json() == {
        "detail": "since is not a valid ISO 8601 date: 2026-11-30T25:00:00 (the time or zone "
        "after the date is malformed)"
    }
