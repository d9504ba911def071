"""stats_v2 and stats-summary after real ingest: events go in through the envelope endpoint
(accepted errors and a security report, a transaction pair, an attachment, a filtered event,
rate-limited events, a client report, an invalid item with a valid DSN) and come out with
exactly the numbers counted by hand below."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.test import Client
from ingest_helpers import QUOTA_WINDOW, event_envelope, post_envelope

from ingest.models import InboundFilters
from organizations.models import Project, ProjectKey

pytestmark = pytest.mark.django_db

V2 = "/api/0/organizations/acme/stats_v2/"
SUMMARY = "/api/0/organizations/acme/stats-summary/"


@pytest.fixture
def ingested(client: Client, project: Project, other_project: Project) -> dict[str, ProjectKey]:
    """Counts of project `api` (key `main`) and `web` (key `web`), sent through ingest."""
    main = ProjectKey.objects.create(
        project=project, label="main", rate_limit_count=3, rate_limit_window=QUOTA_WINDOW
    )
    web = ProjectKey.objects.create(project=other_project, label="web")
    InboundFilters.objects.create(project=project, releases="bad-*")

    def send(key: ProjectKey, body: bytes) -> int:
        return int(post_envelope(client, key, body).status_code)

    security = b'{}\n{"type":"security"}\n{"csp-report":{}}\n'
    statuses = [
        send(main, event_envelope()),  # accepted error
        send(main, event_envelope({"release": "bad-1"})),  # filtered (release-version)
        send(main, event_envelope()),  # accepted error
        send(main, security),  # accepted security (reported as error)
        send(main, event_envelope()),  # rate limited: the quota of 3 is used up
        send(main, event_envelope()),  # rate limited
        send(main, b'{}\n{"type":"transaction"}\n{}\n{"type":"transaction"}\n{}\n'),
        send(main, b'{}\n{"type":"attachment","length":10}\n0123456789\n'),
        send(
            main,
            b'{}\n{"type":"client_report"}\n'
            + json.dumps(
                {
                    "discarded_events": [
                        {"reason": "queue_overflow", "category": "error", "quantity": 4},
                        {"reason": "ratelimit_backoff", "category": "transaction", "quantity": 2},
                    ]
                }
            ).encode()
            + b"\n",
        ),
        send(main, b'{}\n{"type":"event"}\n{not json}\n'),  # invalid (invalid_json)
        send(web, event_envelope()),  # accepted error in the other project
    ]
    assert statuses == [200, 200, 200, 200, 429, 429, 200, 200, 200, 400, 200]
    return {"main": main, "web": web}


def v2(client: Client, token: str, query: str, path: str = V2) -> Any:
    response = client.get(f"{path}?{query}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    return response.json()


def totals_by(answer: dict[str, Any], field: str = "sum(quantity)") -> dict[Any, int]:
    """{tuple of by values: total} of a stats_v2 answer, checking each group's shape."""
    result = {}
    for group in answer["groups"]:
        for name, series in group["series"].items():
            assert len(series) == len(answer["intervals"])
            assert all(type(n) is int for n in series)
            assert group["totals"][name] == sum(series)
        result[tuple(group["by"].values())] = group["totals"][field]
    return result


def test_groupby_outcome_and_category_counts_every_outcome(
    client: Client, ingested: dict[str, ProjectKey], owner_token: str
) -> None:
    answer = v2(
        client,
        owner_token,
        "field=sum(quantity)&groupBy=outcome&groupBy=category&statsPeriod=1h&interval=1m",
    )
    assert totals_by(answer) == {
        ("accepted", "attachment"): 10,
        ("accepted", "error"): 4,  # 2 errors + 1 security in api, 1 error in web
        ("accepted", "transaction"): 2,
        ("client_discard", "error"): 4,
        ("client_discard", "transaction"): 2,
        ("filtered", "error"): 1,
        ("invalid", "error"): 1,
        ("rate_limited", "error"): 2,
    }
    assert [list(group["by"]) for group in answer["groups"]] == [["outcome", "category"]] * 8


def test_sum_times_seen_counts_the_records(
    client: Client, ingested: dict[str, ProjectKey], owner_token: str
) -> None:
    answer = v2(
        client,
        owner_token,
        "field=sum(times_seen)&field=sum(quantity)&groupBy=outcome&groupBy=category"
        "&statsPeriod=1h&interval=1m",
    )
    assert totals_by(answer, "sum(times_seen)") == {
        ("accepted", "attachment"): 1,  # one item of 10 bytes
        ("accepted", "error"): 4,
        ("accepted", "transaction"): 2,
        ("client_discard", "error"): 1,  # one client report entry of quantity 4
        ("client_discard", "transaction"): 1,
        ("filtered", "error"): 1,
        ("invalid", "error"): 1,
        ("rate_limited", "error"): 2,
    }
    assert totals_by(answer)[("accepted", "attachment")] == 10


def test_groupby_reason(client: Client, ingested: dict[str, ProjectKey], owner_token: str) -> None:
    answer = v2(
        client, owner_token, "field=sum(quantity)&groupBy=reason&category=error&statsPeriod=1h"
    )
    assert totals_by(answer) == {
        (None,): 4,
        ("invalid_json",): 1,
        ("key_quota",): 2,
        ("queue_overflow",): 4,
        ("release-version",): 1,
    }


def test_groupby_project_keeps_intervals_and_series(
    client: Client,
    ingested: dict[str, ProjectKey],
    owner_token: str,
    project: Project,
    other_project: Project,
) -> None:
    answer = v2(
        client, owner_token, "field=sum(quantity)&groupBy=project&category=error&statsPeriod=1d"
    )
    assert len(answer["intervals"]) == 25
    assert totals_by(answer) == {(project.pk,): 11, (other_project.pk,): 1}


def test_ungrouped_is_one_group_and_category_error_takes_default_and_security(
    client: Client, ingested: dict[str, ProjectKey], owner_token: str
) -> None:
    answer = v2(client, owner_token, "field=sum(quantity)&category=error&outcome=ACCEPTED")
    assert [group["by"] for group in answer["groups"]] == [{}]
    assert answer["groups"][0]["totals"] == {"sum(quantity)": 4}
    assert len(answer["intervals"]) == 2161  # the default: 90 days at 1h


def test_key_id_reads_only_that_keys_outcomes(
    client: Client, ingested: dict[str, ProjectKey], owner_token: str
) -> None:
    main, web = ingested["main"], ingested["web"]
    base = "field=sum(quantity)&groupBy=outcome&category=error&statsPeriod=1h"
    assert totals_by(v2(client, owner_token, f"{base}&key_id={main.pk}")) == {
        ("accepted",): 3,
        ("client_discard",): 4,
        ("filtered",): 1,
        ("invalid",): 1,
        ("rate_limited",): 2,
    }
    assert totals_by(v2(client, owner_token, f"{base}&key_id={web.pk}")) == {("accepted",): 1}


def test_a_member_counts_only_the_projects_of_their_teams(
    client: Client, ingested: dict[str, ProjectKey], member_token: str, other_project: Project
) -> None:
    query = "field=sum(quantity)&groupBy=outcome&category=error&outcome=accepted&statsPeriod=1h"
    assert totals_by(v2(client, member_token, query)) == {("accepted",): 3}
    response = client.get(
        f"{V2}?{query}&project={other_project.pk}", HTTP_AUTHORIZATION=f"Bearer {member_token}"
    )
    assert response.status_code == 403, response.content


def test_a_project_filter_reads_only_those_projects(
    client: Client, ingested: dict[str, ProjectKey], owner_token: str, other_project: Project
) -> None:
    query = "field=sum(quantity)&groupBy=outcome&category=error&statsPeriod=1h"
    assert totals_by(v2(client, owner_token, f"{query}&project={other_project.pk}")) == {
        ("accepted",): 1
    }
    assert totals_by(v2(client, owner_token, f"{query}&project=-1"))[("accepted",)] == 4


def test_stats_summary_per_project_and_category(
    client: Client,
    ingested: dict[str, ProjectKey],
    owner_token: str,
    project: Project,
    other_project: Project,
) -> None:
    answer = v2(client, owner_token, "field=sum(quantity)&statsPeriod=1h", SUMMARY)
    zeros = dict.fromkeys(
        [
            "accepted",
            "filtered",
            "rate_limited",
            "invalid",
            "abuse",
            "client_discard",
            "cardinality_limited",
        ],
        0,
    )
    assert answer["projects"] == [
        {
            "id": project.pk,
            "slug": "api",
            "stats": [
                {
                    "category": "attachment",
                    "outcomes": {**zeros, "accepted": 10},
                    "totals": {"dropped": 0, "sum(quantity)": 10},
                },
                {
                    "category": "error",
                    "outcomes": {
                        **zeros,
                        "accepted": 3,
                        "filtered": 1,
                        "rate_limited": 2,
                        "invalid": 1,
                        "client_discard": 4,
                    },
                    "totals": {"dropped": 3, "sum(quantity)": 11},
                },
                {
                    "category": "transaction",
                    "outcomes": {**zeros, "accepted": 2, "client_discard": 2},
                    "totals": {"dropped": 0, "sum(quantity)": 4},
                },
            ],
        },
        {
            "id": other_project.pk,
            "slug": "web",
            "stats": [
                {
                    "category": "error",
                    "outcomes": {**zeros, "accepted": 1},
                    "totals": {"dropped": 0, "sum(quantity)": 1},
                }
            ],
        },
    ]
    assert answer["start"].endswith("Z")
    assert answer["end"].endswith("Z")


def test_stats_summary_with_outcome_and_reason_filters(
    client: Client, ingested: dict[str, ProjectKey], owner_token: str, project: Project
) -> None:
    accepted = v2(
        client, owner_token, "field=sum(quantity)&outcome=accepted&category=error", SUMMARY
    )
    assert next(p["stats"] for p in accepted["projects"]) == [
        {"category": "error", "outcomes": {"accepted": 3}, "totals": {"sum(quantity)": 3}}
    ]
    limited = v2(
        client, owner_token, "field=sum(quantity)&reason=key_quota&category=error", SUMMARY
    )
    assert limited["projects"][0]["id"] == project.pk
    [entry] = limited["projects"][0]["stats"]
    assert entry["reason"] == "key_quota"
    assert entry["outcomes"]["rate_limited"] == 2
    assert entry["totals"] == {"dropped": 2, "sum(quantity)": 2}


def test_stats_summary_download_is_csv(
    client: Client, ingested: dict[str, ProjectKey], owner_token: str, project: Project
) -> None:
    response = client.get(
        f"{SUMMARY}?field=sum(quantity)&statsPeriod=1h&download=1",
        HTTP_AUTHORIZATION=f"Bearer {owner_token}",
    )
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="stats_summary.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["project_slug"] for row in rows] == ["api", "web"]
    api, web = rows
    assert api["project_id"] == str(project.pk)
    assert api["accepted_errors"] == "3"
    assert api["dropped_errors"] == "3"
    assert api["sum(quantity)_errors"] == "11"
    assert api["accepted_attachments"] == "10"
    # A category only one project has is a column for every project (Sentry: first only).
    assert web["accepted_transactions"] == "0"
    assert web["sum(quantity)_errors"] == "1"


def test_the_admin_selectors_read_the_same_counts(
    ingested: dict[str, ProjectKey], project: Project, other_project: Project
) -> None:
    from datetime import UTC, datetime, timedelta

    from usage.catalogue import Scope, Total
    from usage.outcomes import outcome_totals_by_category_get
    from usage.selectors import legacy_series_get, legacy_sums_get, query_window

    end = datetime.now(UTC)
    window = query_window(start=end - timedelta(hours=1), end=end)
    organization = project.organization
    assert outcome_totals_by_category_get(organization=organization, window=window) == {
        "attachment": {"accepted": 10},
        "error": {
            "accepted": 4,
            "client_discard": 4,
            "filtered": 1,
            "invalid": 1,
            "rate_limited": 2,
        },
        "transaction": {"accepted": 2, "client_discard": 2},
    }
    only_web = outcome_totals_by_category_get(
        organization=organization, window=window, project_ids=[other_project.pk]
    )
    assert only_web == {"error": {"accepted": 1}}
    received = legacy_sums_get(
        scope=Scope.project, total=Total.received, ids=[project.pk, other_project.pk], window=window
    )
    # api: 3 accepted + 1 filtered + 2 rate limited error events; web: 1.
    assert received == {project.pk: 6, other_project.pk: 1}
    series = legacy_series_get(
        scope=Scope.project,
        totals=[Total.received, Total.rejected, Total.blacklisted],
        object_id=project.pk,
        window=window,
    )
    assert {total: sum(n for _, n in points) for total, points in series.items()} == {
        Total.received: 6,
        Total.rejected: 2,
        Total.blacklisted: 1,
    }
