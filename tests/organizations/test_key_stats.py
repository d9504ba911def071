"""GET /api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/keys/{key_id}/stats/"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from api_helpers import (
    FORBIDDEN,
    LADDER,
    LADDER_IDS,
    NOT_FOUND,
    PROJECT_SCOPES,
    EndpointScopes,
    assert_api_headers,
    assert_rung,
    bearer,
    hour_floor,
)
from django.test import Client

import tsdb
from organizations.models import Project, ProjectKey
from tsdb.base import TSDBModel
from usage.catalogue import OUTCOME_MODELS, Field, OutcomeKind, Scope, outcome_series_key

pytestmark = pytest.mark.django_db


# What ingest writes for an accepted error event: the key's accepted outcome of category error.
ACCEPTED = OUTCOME_MODELS[Scope.key, Field.quantity]


def accepted_error(key: ProjectKey) -> str:
    return outcome_series_key(key.pk, OutcomeKind("error", "accepted"))


def key_url(key: ProjectKey, project: str = "api", organization: str = "acme") -> str:
    return f"/api/0/projects/{organization}/{project}/keys/{key.public_key}/stats/"


def get(client: Client, token: str, url: str, **params: Any) -> Any:
    return client.get(url, params, **bearer(token))


@pytest.mark.parametrize(("rung", "status", "detail"), LADDER, ids=LADDER_IDS)
def test_it_climbs_the_permission_ladder(
    client: Client,
    project_key: ProjectKey,
    ladder_headers: Callable[[str, EndpointScopes], dict[str, str]],
    rung: str,
    status: int,
    detail: str | None,
) -> None:
    response = client.get(key_url(project_key), **ladder_headers(rung, PROJECT_SCOPES))

    assert_rung(response, status, detail)


def test_it_returns_total_dropped_filtered_and_accepted_per_bucket(
    client: Client, project_key: ProjectKey, owner_token: str
) -> None:
    now = time.time()
    earlier = now - 4 * 3600
    tsdb.backend.incr_multi(
        [
            (TSDBModel.key_total_received, project_key.pk, earlier, 10),
            (TSDBModel.key_total_rejected, project_key.pk, earlier, 3),
            (TSDBModel.key_total_blacklisted, project_key.pk, earlier, 2),
            (ACCEPTED, accepted_error(project_key), earlier, 5),
            (TSDBModel.key_total_received, project_key.pk, now, 4),
            (TSDBModel.key_total_blacklisted, project_key.pk, now, 1),
            (ACCEPTED, accepted_error(project_key), now, 3),
        ]
    )
    hour_before = hour_floor(time.time())

    response = get(client, owner_token, key_url(project_key))

    assert response.status_code == 200, response.content
    points = response.json()
    assert len(points) == 24
    assert points[-1]["ts"] in (hour_before, hour_floor(time.time()))
    assert all(isinstance(point["ts"], int) for point in points)
    by_ts = {point["ts"]: point for point in points}
    assert by_ts[hour_floor(earlier)] == {
        "ts": hour_floor(earlier),
        "total": 10,
        "dropped": 3,
        "filtered": 2,
        "accepted": 5,
    }
    assert by_ts[hour_floor(now)] == {
        "ts": hour_floor(now),
        "total": 4,
        "dropped": 0,
        "filtered": 1,
        "accepted": 3,
    }
    for point in points:
        assert point["accepted"] == point["total"] - point["dropped"] - point["filtered"]


def test_it_counts_only_the_key_asked_for(
    client: Client, project: Project, project_key: ProjectKey, owner_token: str
) -> None:
    second = ProjectKey.objects.create(project=project, label="Second")
    tsdb.backend.incr(TSDBModel.key_total_received, second.pk, count=9)
    tsdb.backend.incr(TSDBModel.key_total_received, project_key.pk, count=1)

    response = get(client, owner_token, key_url(project_key))

    assert response.status_code == 200, response.content
    assert sum(point["total"] for point in response.json()) == 1


def test_it_answers_404_for_an_unknown_key_or_a_key_of_another_project(
    client: Client, project_key: ProjectKey, other_project: Project, owner_token: str
) -> None:
    unknown = get(client, owner_token, "/api/0/projects/acme/api/keys/" + "0" * 32 + "/stats/")
    elsewhere = get(client, owner_token, key_url(project_key, project="web"))

    assert unknown.status_code == 404, unknown.content
    assert unknown.json() == {"detail": NOT_FOUND}
    assert elsewhere.status_code == 404, elsewhere.content


def test_it_refuses_a_member_the_keys_of_another_teams_project(
    client: Client, other_project: Project, member_token: str
) -> None:
    key = ProjectKey.objects.create(project=other_project)

    response = get(client, member_token, key_url(key, project="web"))

    assert response.status_code == 403, response.content
    assert response.json() == {"detail": FORBIDDEN}


def test_it_honours_window_and_resolution(
    client: Client, project_key: ProjectKey, owner_token: str
) -> None:
    until = int(time.time())
    tsdb.backend.incr(TSDBModel.key_total_received, project_key.pk, until - 15, count=2)
    tsdb.backend.incr(ACCEPTED, accepted_error(project_key), until - 15, count=2)

    response = get(
        client, owner_token, key_url(project_key), since=until - 100, until=until, resolution="10s"
    )

    assert response.status_code == 200, response.content
    points = response.json()
    assert len(points) == 11
    assert points[-1]["ts"] == until // 10 * 10
    assert sum(point["accepted"] for point in points) == 2


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"since": "yesterday"}, "since must be a numeric timestamp"),
        ({"resolution": "1.5h"}, "Invalid resolution"),
    ],
)
def test_it_validates_the_window(
    client: Client, project_key: ProjectKey, owner_token: str, params: dict[str, str], detail: str
) -> None:
    response = get(client, owner_token, key_url(project_key), **params)

    assert response.status_code == 400, response.content
    assert response.json() == {"detail": detail}


def test_it_sends_the_api_headers_and_answers_head(
    client: Client, project_key: ProjectKey, owner_token: str
) -> None:
    response = get(client, owner_token, key_url(project_key))
    head = client.head(key_url(project_key), **bearer(owner_token))

    assert response.status_code == 200, response.content
    assert_api_headers(response)
    assert head.status_code == 200, head.content
    assert head.content == b""
    assert head["Content-Length"] == str(len(response.content))
    assert_api_headers(head)


def test_it_answers_503_when_the_tsdb_is_unreachable(
    client: Client, project_key: ProjectKey, owner_token: str, settings: Any
) -> None:
    settings.TSDB_OPTIONS = {"url": "redis://127.0.0.1:1/0", "prefix": "unreachable:"}

    response = get(client, owner_token, key_url(project_key))

    assert response.status_code == 503, response.content
    assert int(response["Retry-After"]) > 0
