"""Key stats read `accepted` from its own counter: counts lost from another counter (a Redis
node that came back empty) never show up as accepted."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from django.test import Client
from ingest_helpers import QUOTA_WINDOW, event_envelope, post_envelope

import tsdb
from organizations.models import ProjectKey
from tsdb.base import TSDBModel
from usage.catalogue import LEGACY_TOTALS, Scope, Total

pytestmark = pytest.mark.django_db


def keys_holding(
    settings: Any, client: redis.Redis, model: TSDBModel, key_id: int, times: list[float]
) -> set[bytes]:
    """The Redis keys holding `model`'s counts of `key_id` at `times`, whatever the storage
    layout: the same counts written under a scratch prefix, named under the test's prefix."""
    original = settings.TSDB_OPTIONS
    prefix = original["prefix"]
    scratch = prefix + "scratch:"
    settings.TSDB_OPTIONS = {**original, "prefix": scratch}
    try:
        for when in times:
            tsdb.backend.incr(model, key_id, when)
        names = set(client.scan_iter(match=scratch + "*"))
        if names:
            client.delete(*names)
    finally:
        settings.TSDB_OPTIONS = original
    assert names, "the scratch write stored nothing"
    return {prefix.encode() + name[len(scratch.encode()) :] for name in names}


def test_deleting_the_keys_of_a_keys_dropped_counts_leaves_its_accepted_unchanged(
    client: Client,
    project_key: ProjectKey,
    owner_token: str,
    redis_client: redis.Redis,
    settings: Any,
) -> None:
    project_key.rate_limit_count, project_key.rate_limit_window = 2, QUOTA_WINDOW
    project_key.save()
    before = time.time()
    statuses = [post_envelope(client, project_key, event_envelope()).status_code for _ in range(5)]
    after = time.time()
    assert statuses == [200, 200, 429, 429, 429]
    url = f"/api/0/projects/acme/api/keys/{project_key.public_key}/stats/"

    def totals() -> dict[str, int]:
        response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {owner_token}")
        assert response.status_code == 200, response.content
        points = response.json()
        names = ("total", "dropped", "filtered", "accepted")
        return {name: sum(point[name] for point in points) for name in names}

    assert totals() == {"total": 5, "dropped": 3, "filtered": 0, "accepted": 2}

    dropped = LEGACY_TOTALS[Scope.key, Total.rejected]
    names = keys_holding(settings, redis_client, dropped, project_key.pk, [before, after])
    assert redis_client.delete(*names) >= 1

    # The rejected counts are gone; the accepted ones are not inflated by them.
    assert totals() == {"total": 5, "dropped": 0, "filtered": 0, "accepted": 2}
