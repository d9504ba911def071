"""The stats_v2 body on the wire: assembled from pieces (the intervals are formatted once per
window and reused), it must still be one compact JSON document whose intervals are the
window's own, whatever window was asked before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from organizations.models import Organization

pytestmark = pytest.mark.django_db

V2 = "/api/0/organizations/acme/stats_v2/"


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_windows_of_the_same_length_get_their_own_intervals(
    client: Client, organization: Organization, owner_token: str
) -> None:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    answers = []
    for end in (hour, hour - timedelta(days=1), hour):
        start = end - timedelta(hours=3)
        response = client.get(
            V2,
            {
                "field": "sum(quantity)",
                "category": "error",
                "interval": "1h",
                "start": rfc3339(start),
                "end": rfc3339(end),
            },
            HTTP_AUTHORIZATION=f"Bearer {owner_token}",
        )
        assert response.status_code == 200, response.content
        assert (
            response.content
            == json.dumps(response.json(), separators=(",", ":"), ensure_ascii=False).encode()
        )
        answers.append(response.json())

    today, yesterday, again = answers
    assert today == again
    expected = [rfc3339(hour - timedelta(hours=n)) for n in (3, 2, 1)]
    assert today["intervals"] == expected
    assert today["start"] == expected[0]
    assert today["end"] == rfc3339(hour)
    assert yesterday["intervals"] == [
        rfc3339(datetime.fromisoformat(ts) - timedelta(days=1)) for ts in expected
    ]
    assert yesterday["end"] == rfc3339(hour - timedelta(days=1))
    assert today["groups"] == [
        {"by": {}, "totals": {"sum(quantity)": 0}, "series": {"sum(quantity)": [0, 0, 0]}}
    ]
