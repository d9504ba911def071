"""GET /api/0/organizations/{organization_id_or_slug}/stats/"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from typing import Any

import pytest
from api_helpers import (
    FORBIDDEN,
    LADDER,
    LADDER_IDS,
    NOT_FOUND,
    ORG_SCOPES,
    WWW_AUTHENTICATE,
    EndpointScopes,
    as_counts,
    assert_api_headers,
    assert_rung,
    bearer,
    hour_floor,
)
from django.test import Client

import tsdb
from organizations.models import Organization, Project
from tsdb.base import TSDBModel

URL = "/api/0/organizations/acme/stats/"

pytestmark = pytest.mark.django_db


def get(client: Client, token: str, url: str = URL, **params: Any) -> Any:
    return client.get(url, params, **bearer(token))


# --- permission ladder ----------------------------------------------------------------------


@pytest.mark.parametrize(("rung", "status", "detail"), LADDER, ids=LADDER_IDS)
def test_it_climbs_the_permission_ladder(
    client: Client,
    organization: Organization,
    ladder_headers: Callable[[str, EndpointScopes], dict[str, str]],
    rung: str,
    status: int,
    detail: str | None,
) -> None:
    response = client.get(URL, **ladder_headers(rung, ORG_SCOPES))

    assert_rung(response, status, detail)


def test_it_answers_404_for_an_unknown_organization(client: Client, owner_token: str) -> None:
    response = get(client, owner_token, "/api/0/organizations/nope/stats/")

    assert response.status_code == 404, response.content
    assert response.json() == {"detail": NOT_FOUND}


def test_it_answers_403_before_404_for_a_token_lacking_the_scope(
    client: Client, owner: Any, make_user_token: Callable[..., str]
) -> None:
    token = make_user_token(owner, ["project:read"])

    response = get(client, token, "/api/0/organizations/nope/stats/")

    assert response.status_code == 403, response.content
    assert response.json() == {"detail": FORBIDDEN}


def test_it_answers_401_before_404_without_credentials(client: Client) -> None:
    response = client.get("/api/0/organizations/nope/stats/")

    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"] == WWW_AUTHENTICATE


def test_it_finds_the_organization_by_id(
    client: Client, organization: Organization, owner_token: str
) -> None:
    response = get(client, owner_token, f"/api/0/organizations/{organization.pk}/stats/")

    assert response.status_code == 200, response.content
    assert len(response.json()) == 24


def test_it_prefers_a_slug_made_of_digits_over_an_id(
    client: Client, organization: Organization, make_member: Any, make_user_token: Any
) -> None:
    # An organization whose slug is another organization's id: the slug wins.
    digits = Organization.objects.create(slug=str(organization.pk), name="Digits")
    user = make_member("digit-owner", role="owner", org=digits)
    tsdb.backend.incr(TSDBModel.organization_total_received, digits.pk, count=4)
    tsdb.backend.incr(TSDBModel.organization_total_received, organization.pk, count=9)

    response = get(client, make_user_token(user), f"/api/0/organizations/{digits.slug}/stats/")

    assert response.status_code == 200, response.content
    assert sum(count for _, count in response.json()) == 4


def test_it_answers_404_for_an_id_too_large_for_the_database(
    client: Client, owner_token: str
) -> None:
    response = get(client, owner_token, f"/api/0/organizations/{10**30}/stats/")

    assert response.status_code == 404, response.content


def test_it_records_when_a_token_was_last_used(
    client: Client, owner: Any, make_user_token: Callable[..., str]
) -> None:
    from organizations.models import ApiToken

    token = make_user_token(owner)

    response = get(client, token)

    assert response.status_code == 200, response.content
    assert ApiToken.objects.get(user=owner).last_used_at is not None


# --- the seed example: a bare request -------------------------------------------------------


def test_it_returns_24_hourly_float_points_ending_at_the_current_hour(
    client: Client, organization: Organization, owner_token: str
) -> None:
    now = time.time()
    earlier = now - 5 * 3600
    tsdb.backend.incr(TSDBModel.organization_total_received, organization.pk, now, count=7)
    tsdb.backend.incr_multi(
        [
            (TSDBModel.organization_total_received, organization.pk, earlier, 3),
            (TSDBModel.organization_total_received, organization.pk, earlier, 2),
            (TSDBModel.organization_total_rejected, organization.pk, earlier, 11),
        ]
    )
    hour_before = hour_floor(time.time())

    response = get(client, owner_token)

    hour_after = hour_floor(time.time())
    assert response.status_code == 200, response.content
    series = response.json()
    assert len(series) == 24
    assert all(len(point) == 2 for point in series)
    assert all(isinstance(ts, float) and isinstance(count, int) for ts, count in series)
    assert b"0.0," in response.content  # written as 1536526800.0 on the wire
    assert series[-1][0] in (hour_before, hour_after)
    assert [b[0] - a[0] for a, b in itertools.pairwise(series)] == [3600.0] * 23
    counts = as_counts(series)
    assert counts[hour_floor(now)] == 7
    assert counts[hour_floor(earlier)] == 5
    assert sum(counts.values()) == 12


def test_it_reads_the_stat_asked_for(
    client: Client, organization: Organization, owner_token: str
) -> None:
    for model, count in (
        (TSDBModel.organization_total_received, 5),
        (TSDBModel.organization_total_rejected, 3),
        (TSDBModel.organization_total_blacklisted, 2),
    ):
        tsdb.backend.incr(model, organization.pk, count=count)

    totals = {}
    for stat in ("received", "rejected", "blacklisted"):
        response = get(client, owner_token, stat=stat)
        assert response.status_code == 200, response.content
        totals[stat] = sum(count for _, count in response.json())

    assert totals == {"received": 5, "rejected": 3, "blacklisted": 2}


def test_it_does_not_count_other_organizations(
    client: Client,
    organization: Organization,
    other_organization: Organization,
    owner_token: str,
) -> None:
    tsdb.backend.incr(TSDBModel.organization_total_received, other_organization.pk, count=40)

    response = get(client, owner_token)

    assert response.status_code == 200, response.content
    assert sum(count for _, count in response.json()) == 0


def test_it_writes_integer_timestamps_when_configured(
    client: Client, organization: Organization, owner_token: str, settings: Any
) -> None:
    settings.STATS_INTEGER_TIMESTAMPS = True
    tsdb.backend.incr(TSDBModel.organization_total_received, organization.pk, count=2)

    response = get(client, owner_token)

    assert response.status_code == 200, response.content
    series = response.json()
    assert len(series) == 24
    assert all(isinstance(ts, int) and isinstance(count, int) for ts, count in series)
    assert b".0," not in response.content


# --- since / until ---------------------------------------------------------------------------


def test_it_walks_buckets_backwards_from_until(
    client: Client, organization: Organization, owner_token: str
) -> None:
    until = hour_floor(time.time()) - 3 * 3600 + 1234
    since = until - 5 * 3600 - 1

    response = get(client, owner_token, since=since, until=until, resolution="1h")

    assert response.status_code == 200, response.content
    series = response.json()
    # floor((until - since) / 3600) + 1 points, the last one floor(until / 3600) * 3600
    assert len(series) == 6
    assert series[-1][0] == hour_floor(until)
    assert series[0][0] == hour_floor(until) - 5 * 3600


def test_it_returns_one_point_when_since_equals_until(
    client: Client, organization: Organization, owner_token: str
) -> None:
    until = time.time() - 100

    response = get(client, owner_token, since=until, until=until)

    assert response.status_code == 200, response.content
    assert len(response.json()) == 1


def test_it_returns_25_hourly_points_for_a_span_of_exactly_one_day(
    client: Client, organization: Organization, owner_token: str
) -> None:
    until = int(time.time())

    response = get(client, owner_token, since=until - 86400, until=until, resolution="1h")

    assert response.status_code == 200, response.content
    assert len(response.json()) == 25


def test_it_defaults_since_to_a_day_before_until(
    client: Client, organization: Organization, owner_token: str
) -> None:
    until = hour_floor(time.time()) - 7200 + 5

    response = get(client, owner_token, until=until)

    assert response.status_code == 200, response.content
    series = response.json()
    assert len(series) == 24
    assert series[-1][0] == hour_floor(until)


def test_it_accepts_float_timestamps(
    client: Client, organization: Organization, owner_token: str
) -> None:
    now = time.time()
    tsdb.backend.incr(TSDBModel.organization_total_received, organization.pk, now - 60, count=6)

    response = get(client, owner_token, since=f"{now - 3000:.6f}", until=f"{now:.6f}")

    assert response.status_code == 200, response.content
    assert sum(count for _, count in response.json()) == 6


def test_it_accepts_iso_8601_timestamps(
    client: Client, organization: Organization, owner_token: str
) -> None:
    until = hour_floor(time.time()) - 3600
    tsdb.backend.incr(TSDBModel.organization_total_received, organization.pk, until, count=8)
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(until))

    for value in (iso, iso + "Z", iso + "+00:00", iso + " 00:00"):
        response = get(client, owner_token, until=value)
        assert response.status_code == 200, (value, response.content)
        assert response.json()[-1] == [float(until), 8], value


def test_it_reads_an_iso_offset_as_that_zone(
    client: Client, organization: Organization, owner_token: str
) -> None:
    until = hour_floor(time.time()) - 3600
    local = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(until + 2 * 3600))

    response = get(client, owner_token, until=local + "+02:00")

    assert response.status_code == 200, response.content
    assert response.json()[-1][0] == until


def test_it_treats_an_empty_since_or_until_as_absent(
    client: Client, organization: Organization, owner_token: str
) -> None:
    response = get(client, owner_token, since="", until="", resolution="")

    assert response.status_code == 200, response.content
    assert len(response.json()) == 24


def test_it_treats_empty_ids_as_absent(
    client: Client,
    organization: Organization,
    owner_token: str,
    written_projects: dict[int, int],
) -> None:
    by_organization = client.get(f"{URL}?id=", **bearer(owner_token))
    by_project = client.get(f"{URL}?group=project&projectID=&id=", **bearer(owner_token))

    assert by_organization.status_code == 200, by_organization.content
    assert len(by_organization.json()) == 24
    assert by_project.status_code == 200, by_project.content
    assert totals_by_key(by_project.json()) == {str(pk): n for pk, n in written_projects.items()}


def test_it_uses_the_last_value_of_a_repeated_parameter(
    client: Client, organization: Organization, owner_token: str
) -> None:
    until = hour_floor(time.time()) - 3600
    query = f"until=lol&until={until}&stat=nope&stat=rejected"
    tsdb.backend.incr(TSDBModel.organization_total_rejected, organization.pk, until, count=3)

    response = client.get(f"{URL}?{query}", **bearer(owner_token))

    assert response.status_code == 200, response.content
    assert response.json()[-1] == [float(until), 3]


@pytest.mark.parametrize("value", ["lol", "12abc", "inf", "-inf", "nan", "0x10", " "])
def test_it_rejects_a_since_that_is_not_a_timestamp(
    client: Client, organization: Organization, owner_token: str, value: str
) -> None:
    response = get(client, owner_token, since=value)

    assert response.status_code == 400, response.content
    assert response.json() == {"detail": "since must be a numeric timestamp"}


@pytest.mark.parametrize("value", ["lol", "NaN", "Infinity"])
def test_it_rejects_an_until_that_is_not_a_timestamp(
    client: Client, organization: Organization, owner_token: str, value: str
) -> None:
    response = get(client, owner_token, until=value)

    assert response.status_code == 400, response.content
    assert response.json() == {"detail": "until must be a numeric timestamp."}


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("1700000000000", "until is out of range: 1700000000000 seconds is after the year 9999"),
        ("253402300800", "until is out of range: 253402300800 seconds is after the year 9999"),
        ("1e400", "until is out of range: 1e400 seconds is after the year 9999"),
        ("-5", "until is out of range: -5 is before 1970-01-01T00:00:00Z"),
        ("2024-13-01", "until is not a valid ISO 8601 date: 2024-13-01 (month must be in 1..12)"),
    ],
)
def test_it_says_what_is_wrong_with_an_until_that_is_a_number_or_date_out_of_range(
    client: Client, organization: Organization, owner_token: str, value: str, detail: str
) -> None:
    response = get(client, owner_token, until=value)

    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(detail)


def test_it_rejects_since_after_until(
    client: Client, organization: Organization, owner_token: str
) -> None:
    until = int(time.time()) - 100

    response = get(client, owner_token, since=until + 1, until=until)

    assert response.status_code == 400, response.content
    assert response.json() == {"detail": "start must be before or equal to end"}


def test_it_accepts_timestamps_up_to_the_end_of_year_9999(
    client: Client, organization: Organization, owner_token: str
) -> None:
    response = get(
        client, owner_token, since=253402300799 - 86400, until=253402300799, resolution="1h"
    )

    assert response.status_code == 200, response.content
    assert response.json()[-1] == [253402297200.0, 0]


# --- resolution ------------------------------------------------------------------------------


def bucket(timestamp: float, seconds: int) -> int:
    return math.floor(timestamp / seconds) * seconds


@pytest.mark.parametrize(
    ("resolution", "seconds", "span"),
    [
        ("10s", 10, 600),
        ("1m", 60, 3600),
        ("60m", 3600, 86400),
        ("1h", 3600, 86400),
        ("3600s", 3600, 86400),
        ("5m", 300, 3600),
        ("6h", 21600, 86400),
        ("1d", 86400, 3 * 86400),
    ],
)
def test_it_honours_an_explicit_resolution(
    client: Client,
    organization: Organization,
    owner_token: str,
    resolution: str,
    seconds: int,
    span: int,
) -> None:
    until = int(time.time())
    since = until - span
    written = until - 25
    tsdb.backend.incr(TSDBModel.organization_total_received, organization.pk, written, count=4)
    tsdb.backend.incr(TSDBModel.organization_total_received, organization.pk, written - 1, count=1)

    response = get(client, owner_token, since=since, until=until, resolution=resolution)

    assert response.status_code == 200, response.content
    series = response.json()
    assert len(series) == span // seconds + 1
    assert series[-1][0] == bucket(until, seconds)
    assert {b[0] - a[0] for a, b in itertools.pairwise(series)} == {seconds}
    counts = as_counts(series)
    same_bucket = bucket(written, seconds) == bucket(written - 1, seconds)
    assert counts[bucket(written, seconds)] == (5 if same_bucket else 4)
    assert sum(counts.values()) == 5


def test_it_aligns_daily_buckets_to_utc_midnight_and_sums_the_whole_day(
    client: Client, organization: Organization, owner_token: str
) -> None:
    now = int(time.time())
    midnight = bucket(now, 86400)
    # Both writes are in today's bucket, although `since` falls after the first of them.
    tsdb.backend.incr(TSDBModel.organization_total_received, organization.pk, midnight, count=2)
    tsdb.backend.incr(TSDBModel.organization_total_received, organization.pk, now, count=3)

    response = get(client, owner_token, since=now, until=now, resolution="1d")

    assert response.status_code == 200, response.content
    assert response.json() == [[float(midnight), 5]]


def test_it_picks_minutes_for_the_last_hour_and_ten_seconds_for_fifty_minutes(
    client: Client, organization: Organization, owner_token: str
) -> None:
    now = int(time.time())

    hour = get(client, owner_token, since=now - 3600, until=now)
    fifty_minutes = get(client, owner_token, since=now - 3000, until=now)

    assert hour.status_code == 200, hour.content
    assert len(hour.json()) == 61
    assert hour.json()[1][0] - hour.json()[0][0] == 60
    assert fifty_minutes.status_code == 200, fifty_minutes.content
    assert len(fifty_minutes.json()) == 301
    assert fifty_minutes.json()[1][0] - fifty_minutes.json()[0][0] == 10


def test_it_picks_a_rollup_that_still_keeps_an_old_short_window(
    client: Client, organization: Organization, owner_token: str
) -> None:
    # Two days ago only the hourly rollup still has data: a 10-minute window there reads it.
    then = int(time.time()) - 2 * 86400
    tsdb.backend.incr(TSDBModel.organization_total_received, organization.pk, then, count=9)

    response = get(client, owner_token, since=then - 600, until=then)

    assert response.status_code == 200, response.content
    assert response.json() == [[float(bucket(then, 3600)), 9]]


@pytest.mark.parametrize(
    "value", ["7s", "1.5h", "1H", "h", "-1h", "lol", "0s", "0h", "15s", "1w", "10 s", "1h1m"]
)
def test_it_rejects_an_invalid_resolution(
    client: Client, organization: Organization, owner_token: str, value: str
) -> None:
    response = get(client, owner_token, resolution=value)

    assert response.status_code == 400, response.content
    assert response.json() == {"detail": "Invalid resolution"}


def test_it_refuses_more_than_ten_thousand_points(
    client: Client, organization: Organization, owner_token: str
) -> None:
    response = get(client, owner_token, since=0, resolution="10s")

    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert "10,000 points" in detail
    assert "coarser resolution" in detail


def test_it_refuses_to_read_more_than_a_hundred_thousand_stored_buckets(
    client: Client, organization: Organization, owner_token: str
) -> None:
    # One bucket of a million hours reaches far into the future: too many hourly buckets.
    now = int(time.time())

    response = get(client, owner_token, since=now, until=now, resolution="1000000h")

    assert response.status_code == 400, response.content
    assert "100,000 stored buckets" in response.json()["detail"]


def test_it_answers_a_bare_request_from_1970_with_weekly_points(
    client: Client, organization: Organization, owner_token: str
) -> None:
    response = get(client, owner_token, since=0)

    assert response.status_code == 200, response.content
    series = response.json()
    assert len(series) <= 10_000
    assert series[1][0] - series[0][0] == 7 * 86400


# --- stat and group --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "lol", "RECEIVED", "generated", "ip-address"])
def test_it_rejects_an_unknown_stat(
    client: Client, organization: Organization, owner_token: str, value: str
) -> None:
    response = get(client, owner_token, stat=value)

    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(
        "stat=generated" if value == "generated" else "Invalid stat"
    )


@pytest.mark.parametrize("value", ["", "team", "Project"])
def test_it_rejects_an_unknown_group(
    client: Client, organization: Organization, owner_token: str, value: str
) -> None:
    response = get(client, owner_token, group=value)

    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith("Invalid group")


def test_it_answers_an_empty_list_when_id_names_another_organization(
    client: Client,
    organization: Organization,
    other_organization: Organization,
    owner_token: str,
) -> None:
    response = get(client, owner_token, id=other_organization.pk)
    own = get(client, owner_token, id=organization.pk)

    assert response.status_code == 200, response.content
    assert response.json() == []
    assert own.status_code == 200, own.content
    assert len(own.json()) == 24


@pytest.mark.parametrize("param", ["id", "projectID"])
@pytest.mark.parametrize("value", ["abc", "1.5", "1e3", str(2**63)])
def test_it_rejects_non_integer_ids(
    client: Client, organization: Organization, owner_token: str, param: str, value: str
) -> None:
    response = get(client, owner_token, group="project", **{param: value})

    assert response.status_code == 400, response.content
    assert response.json() == {"detail": f"{param} must be a list of integers"}


def test_it_validates_parameters_even_when_the_answer_would_be_empty(
    client: Client,
    organization: Organization,
    other_organization: Organization,
    owner_token: str,
) -> None:
    response = get(client, owner_token, id=other_organization.pk, resolution="7s")

    assert response.status_code == 400, response.content
    assert response.json() == {"detail": "Invalid resolution"}


# --- group=project -----------------------------------------------------------------------------


@pytest.fixture
def written_projects(
    organization: Organization, project: Project, other_project: Project
) -> dict[int, int]:
    """Received counts written for both projects of acme, and generated for one."""
    counts = {project.pk: 5, other_project.pk: 8}
    for pk, count in counts.items():
        tsdb.backend.incr(TSDBModel.project_total_received, pk, count=count)
    tsdb.backend.incr(TSDBModel.project, project.pk, count=2)
    return counts


def totals_by_key(body: dict[str, list[list[Any]]]) -> dict[str, int]:
    return {key: sum(count for _, count in series) for key, series in body.items()}


@pytest.mark.parametrize("role", ["owner", "manager", "admin"])
def test_it_shows_every_project_to_global_roles(
    client: Client,
    make_member: Any,
    make_user_token: Any,
    written_projects: dict[int, int],
    role: str,
) -> None:
    token = make_user_token(make_member(f"global-{role}", role=role))

    response = get(client, token, group="project")

    assert response.status_code == 200, response.content
    body = response.json()
    assert totals_by_key(body) == {str(pk): n for pk, n in written_projects.items()}
    assert all(len(series) == 24 for series in body.values())
    assert all(isinstance(series[0][0], float) for series in body.values())


def test_it_shows_a_member_only_the_projects_of_their_teams(
    client: Client, member_token: str, project: Project, written_projects: dict[int, int]
) -> None:
    response = get(client, member_token, group="project")

    assert response.status_code == 200, response.content
    assert totals_by_key(response.json()) == {str(project.pk): 5}


def test_it_shows_an_organization_token_every_project(
    client: Client,
    organization: Organization,
    make_org_token: Any,
    written_projects: dict[int, int],
) -> None:
    response = get(client, make_org_token(organization, ["org:read"]), group="project")

    assert response.status_code == 200, response.content
    assert totals_by_key(response.json()) == {str(pk): n for pk, n in written_projects.items()}


def test_it_answers_an_empty_list_to_a_member_without_teams(
    client: Client, make_member: Any, make_user_token: Any, written_projects: dict[int, int]
) -> None:
    token = make_user_token(make_member("loner", role="member"))

    response = get(client, token, group="project")

    assert response.status_code == 200, response.content
    assert response.json() == []


def test_it_filters_by_project_id_and_drops_invisible_ones(
    client: Client,
    member_token: str,
    owner_token: str,
    project: Project,
    other_project: Project,
    written_projects: dict[int, int],
) -> None:
    query = f"group=project&projectID={project.pk}&projectID={other_project.pk}&projectID=999999"

    as_member = client.get(f"{URL}?{query}", **bearer(member_token))
    as_owner = client.get(
        f"{URL}?group=project&projectID={other_project.pk}", **bearer(owner_token)
    )

    assert as_member.status_code == 200, as_member.content
    assert totals_by_key(as_member.json()) == {str(project.pk): 5}
    assert as_owner.status_code == 200, as_owner.content
    assert totals_by_key(as_owner.json()) == {str(other_project.pk): 8}


def test_it_ignores_project_id_without_group_project(
    client: Client, organization: Organization, owner_token: str, other_project: Project
) -> None:
    tsdb.backend.incr(TSDBModel.organization_total_received, organization.pk, count=3)

    response = get(client, owner_token, projectID=other_project.pk)

    assert response.status_code == 200, response.content
    assert sum(count for _, count in response.json()) == 3


def test_it_post_filters_projects_by_id(
    client: Client,
    owner_token: str,
    project: Project,
    other_project: Project,
    written_projects: dict[int, int],
) -> None:
    kept = get(client, owner_token, group="project", id=other_project.pk)
    none_left = client.get(
        f"{URL}?group=project&projectID={project.pk}&id={other_project.pk}",
        **bearer(owner_token),
    )

    assert kept.status_code == 200, kept.content
    assert totals_by_key(kept.json()) == {str(other_project.pk): 8}
    assert none_left.status_code == 200, none_left.content
    assert none_left.json() == []


def test_it_reads_generated_per_project(
    client: Client, owner_token: str, project: Project, written_projects: dict[int, int]
) -> None:
    response = get(client, owner_token, group="project", stat="generated")

    assert response.status_code == 200, response.content
    totals = totals_by_key(response.json())
    assert totals[str(project.pk)] == 2
    assert sum(totals.values()) == 2


def test_it_answers_an_empty_list_for_an_organization_without_projects(
    client: Client, organization: Organization, owner_token: str
) -> None:
    response = get(client, owner_token, group="project")

    assert response.status_code == 200, response.content
    assert response.json() == []


# --- headers and methods -----------------------------------------------------------------------


def test_it_sends_the_api_headers(
    client: Client, organization: Organization, owner_token: str
) -> None:
    response = get(client, owner_token)

    assert response.status_code == 200, response.content
    assert_api_headers(response)


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        (URL, {"resolution": "lol"}, 400),
        ("/api/0/organizations/nope/stats/", {}, 404),
    ],
)
def test_it_sends_the_api_headers_on_errors(
    client: Client,
    organization: Organization,
    owner_token: str,
    path: str,
    params: dict[str, str],
    status: int,
) -> None:
    response = get(client, owner_token, path, **params)

    assert response.status_code == status, response.content
    assert_api_headers(response)


def test_it_sends_the_api_headers_on_401(client: Client, organization: Organization) -> None:
    response = client.get(URL)

    assert response.status_code == 401, response.content
    assert_api_headers(response)


def test_it_answers_head_like_get_without_a_body(
    client: Client, organization: Organization, owner_token: str
) -> None:
    get_response = get(client, owner_token, until=1_700_000_000)
    head_response = client.head(f"{URL}?until=1700000000", **bearer(owner_token))

    assert head_response.status_code == 200, head_response.content
    assert head_response.content == b""
    assert head_response["Content-Length"] == str(len(get_response.content))
    assert_api_headers(head_response)


def test_it_answers_head_without_credentials_with_401(
    client: Client, organization: Organization
) -> None:
    response = client.head(URL)

    assert response.status_code == 401


def test_it_answers_options_without_credentials(client: Client, organization: Organization) -> None:
    response = client.options(URL)

    assert response.status_code == 200, response.content
    assert response["Allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_it_refuses_writes(
    client: Client, organization: Organization, owner_token: str, method: str
) -> None:
    anonymous = getattr(client, method)(URL)
    authenticated = getattr(client, method)(URL, **bearer(owner_token))

    assert anonymous.status_code == 401, anonymous.content
    assert anonymous["WWW-Authenticate"] == WWW_AUTHENTICATE
    assert authenticated.status_code == 405, authenticated.content
    assert authenticated.json() == {"detail": f'Method "{method.upper()}" not allowed.'}
    assert authenticated["Allow"] == "GET, HEAD, OPTIONS"


# --- the TSDB is down ----------------------------------------------------------------------------


def test_it_answers_503_with_retry_after_when_the_tsdb_is_unreachable(
    client: Client, organization: Organization, owner_token: str, settings: Any
) -> None:
    settings.TSDB_OPTIONS = {"url": "redis://127.0.0.1:1/0", "prefix": "unreachable:"}

    response = get(client, owner_token)
    bad_param = get(client, owner_token, stat="lol")

    assert response.status_code == 503, response.content
    assert set(response.json()) == {"detail"}
    assert int(response["Retry-After"]) > 0
    assert response["Content-Type"] == "application/json"
    assert bad_param.status_code == 400, bad_param.content
