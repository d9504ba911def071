"""The v1 stats bodies on the wire: the series are written as text in one pass
(``usage.serializers``), so check the bytes themselves against what a JSON encoder writes for
the same values: compact, float timestamps (``1536526800.0``) or ints when configured, exact
counts, one series per project for ``group=project``; and that windows of the same length but
other timestamps never share a format."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from api_helpers import bearer, hour_floor
from django.test import Client

import tsdb
from organizations.models import Organization, Project, Team
from tsdb.base import TSDBModel

pytestmark = pytest.mark.django_db

HOUR = 3600
DAY = 86_400


def compact(values: Any) -> bytes:
    return json.dumps(values, separators=(",", ":")).encode()


def expected_series(
    model: TSDBModel, key: int, since: int, until: int, rollup: int, integer: bool = False
) -> list[list[Any]]:
    pairs = tsdb.backend.get_range(model, [key], since, until, rollup=rollup)[key]
    return [[int(ts) if integer else float(ts), count] for ts, count in pairs]


def test_a_90_day_hourly_series_is_byte_for_byte_a_json_encoders(
    client: Client, organization: Organization, owner_token: str
) -> None:
    now = int(time.time())
    big = 2**40 + 3  # counts beyond 32 bits are written exactly
    tsdb.backend.incr_multi(
        [
            (TSDBModel.organization_total_received, organization.pk, now - age * HOUR, age + 1)
            for age in range(0, 90 * 24, 7)
        ]
        + [(TSDBModel.organization_total_received, organization.pk, now, big)]
    )
    since = now - 90 * DAY

    response = client.get(
        "/api/0/organizations/acme/stats/",
        {"since": since, "until": now, "resolution": "1h"},
        **bearer(owner_token),
    )

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    expected = expected_series(
        TSDBModel.organization_total_received, organization.pk, since, now, HOUR
    )
    assert len(expected) == 2161
    assert response.content == compact(expected)
    assert expected[-1][1] == big + 1


@pytest.mark.parametrize("integer", [False, True])
def test_group_project_writes_one_exact_series_per_project(
    client: Client,
    organization: Organization,
    project: Project,
    other_project: Project,
    owner_token: str,
    settings: Any,
    integer: bool,
) -> None:
    settings.STATS_INTEGER_TIMESTAMPS = integer
    quiet = Project.objects.create(organization=organization, slug="quiet", name="Quiet")
    now = int(time.time())
    tsdb.backend.incr_multi(
        [
            (TSDBModel.project_total_received, project.pk, now - 3 * HOUR, 4),
            (TSDBModel.project_total_received, other_project.pk, now, 9),
        ]
    )

    response = client.get(
        "/api/0/organizations/acme/stats/", {"group": "project"}, **bearer(owner_token)
    )

    assert response.status_code == 200, response.content
    since, until = now - 86_399, now
    expected = {
        str(pk): expected_series(TSDBModel.project_total_received, pk, since, until, HOUR, integer)
        for pk in (project.pk, other_project.pk, quiet.pk)
    }
    assert response.json() == expected
    assert response.content == compact(response.json())
    first_ts = response.json()[str(project.pk)][0][0]
    assert isinstance(first_ts, int) is integer
    assert sum(count for _, count in expected[str(project.pk)]) == 4
    assert [count for _, count in expected[str(quiet.pk)]] == [0] * 24


def test_windows_of_the_same_length_keep_their_own_timestamps(
    client: Client, organization: Organization, owner_token: str
) -> None:
    """The formats are cached per window: two windows of 24 points, a day apart, and a day
    read at 1d and at 1h, each with its own timestamps."""
    now = hour_floor(time.time())
    tsdb.backend.incr(TSDBModel.organization_total_received, organization.pk, now - DAY, count=5)
    bodies = []
    for until, resolution in ((now, "1h"), (now - DAY, "1h"), (now, "1d"), (now, "1h")):
        response = client.get(
            "/api/0/organizations/acme/stats/",
            {"since": until - 23 * HOUR, "until": until, "resolution": resolution},
            **bearer(owner_token),
        )
        assert response.status_code == 200, response.content
        bodies.append(response.json())

    today, yesterday, daily, again = bodies
    assert today == again
    assert [ts for ts, _ in yesterday] == [ts - DAY for ts, _ in today]
    assert today[-1][0] == float(now)
    assert yesterday[-1] == [float(now - DAY), 5]
    days = tsdb.backend.get_series(now - 23 * HOUR, now, DAY)
    assert [ts for ts, _ in daily] == [float(ts) for ts in days]
    assert len(days) < len(today)


def test_team_stats_and_windows_at_1970_are_written_exactly(
    client: Client, organization: Organization, team: Team, project: Project, owner_token: str
) -> None:
    response = client.get(
        f"/api/0/teams/acme/{team.slug}/stats/",
        {"since": 0, "until": 3 * HOUR, "resolution": "1h"},
        **bearer(owner_token),
    )

    assert response.status_code == 200, response.content
    assert response.content == b"[[0.0,0],[3600.0,0],[7200.0,0],[10800.0,0]]"
