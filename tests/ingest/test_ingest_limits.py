"""Issue 10, findings 1 and 2 at the request level: gzip members are decompressed once and all
count against the decompressed limit; header lines and every item type's payload have a size
limit checked before any JSON is parsed (413, no legacy count); client reports stop parsing
past their entry limit."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from django.test import Client
from ingest_helpers import (
    outcome_totals,
    post_envelope,
    same_everywhere,
    totals,
)

from ingest.envelope import (
    MAX_CLIENT_REPORT_OBJECTS,
    MAX_ENVELOPE_HEADER_BYTES,
    MAX_ITEM_HEADER_BYTES,
    SIZE_LIMITS,
    SizeLimit,
    parse_envelope,
)
from ingest.errors import IngestError
from organizations.models import ProjectKey

KIB = 1024
MIB = 1024 * 1024


def item(item_type: str, payload: bytes, **headers: Any) -> bytes:
    header = json.dumps({"type": item_type, "length": len(payload), **headers}).encode()
    return header + b"\n" + payload + b"\n"


def padded_json(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    return b'{"p":"' + b"p" * (size - 8) + b'"}'


def test_a_gzip_body_of_two_members_is_decompressed_once(client: Client, key: ProjectKey) -> None:
    # Issue 10: one envelope of two events split over two members counted 3, not 2.
    first = b"{}\n" + item("event", json.dumps({"message": "x" * 300_000}).encode())
    second = item("event", b'{"message":"second"}')
    body = gzip.compress(first) + gzip.compress(second)
    response = post_envelope(client, key, body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200, response.content
    assert totals(key) == same_everywhere(2)


def test_every_gzip_member_counts_against_the_decompressed_limit(
    client: Client, key: ProjectKey, settings: Any
) -> None:
    settings.INGEST_MAX_DECOMPRESSED_BYTES = 1000
    envelope = b"{}\n" + item("event", padded_json(500))
    half = len(envelope) // 2
    body = gzip.compress(envelope[:half]) + gzip.compress(envelope[half:])
    assert post_envelope(client, key, body, HTTP_CONTENT_ENCODING="gzip").status_code == 200
    over = b"{}\n" + item("event", padded_json(500)) + item("event", padded_json(500))
    half = len(over) // 2
    assert len(envelope) <= 1000 < len(over)
    body = gzip.compress(over[:half]) + gzip.compress(over[half:])
    response = post_envelope(client, key, body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413, response.content
    assert totals(key) == same_everywhere(1)


def test_the_envelope_header_line_is_limited(client: Client, key: ProjectKey) -> None:
    event = item("event", b"{}")
    at_limit = b'{"x":"' + b"h" * (MAX_ENVELOPE_HEADER_BYTES - 8) + b'"}'
    assert post_envelope(client, key, at_limit + b"\n" + event).status_code == 200
    over = b'{"x":"' + b"h" * (MAX_ENVELOPE_HEADER_BYTES - 7) + b'"}'
    response = post_envelope(client, key, over + b"\n" + event)
    assert response.status_code == 413, response.content
    assert "envelope header" in response.json()["detail"]
    # Without any newline the line is the whole body: refused as soon as it is past the limit.
    response = post_envelope(client, key, b'{"x":[' + b"{}," * MAX_ENVELOPE_HEADER_BYTES)
    assert response.status_code == 413, response.content
    assert totals(key) == same_everywhere(1)


def test_an_item_header_line_is_limited(client: Client, key: ProjectKey) -> None:
    def header(size: int) -> bytes:
        line = b'{"type":"event","x":"' + b"i" * (size - 24) + b'"}'
        assert len(line) == size - 1
        return line + b"\n"

    ok = b"{}\n" + header(MAX_ITEM_HEADER_BYTES + 1) + b"{}\n"
    assert post_envelope(client, key, ok).status_code == 200
    over = b"{}\n" + header(MAX_ITEM_HEADER_BYTES + 2) + b"{}\n"
    response = post_envelope(client, key, over)
    assert response.status_code == 413, response.content
    assert "item header" in response.json()["detail"]
    assert totals(key) == same_everywhere(1)


def test_event_like_items_share_the_event_limit(
    client: Client, key: ProjectKey, settings: Any
) -> None:
    settings.INGEST_MAX_EVENT_BYTES = 1000
    together = item("event", padded_json(500)) + item("transaction", padded_json(500))
    assert post_envelope(client, key, b"{}\n" + together).status_code == 200
    over = together + item("security", padded_json(100))
    response = post_envelope(client, key, b"{}\n" + over)
    assert response.status_code == 413, response.content
    assert totals(key) == same_everywhere(1)
    # The refused envelope's items are invalid (too_large) outcomes, not received events.
    assert outcome_totals(key)[("error", "invalid", "too_large")] == 1


def status_of(body: bytes, limit: SizeLimit) -> int:
    """What the envelope parser answers (the view turns an IngestError into that status); a
    413 must name the limit."""
    detail = ""
    status = 200
    try:
        parse_envelope(body, max_event_bytes=MIB)
    except IngestError as exc:
        status, detail = exc.status, exc.detail
    assert status != 413 or limit.name in detail, detail
    return status


@pytest.mark.parametrize("limit", SIZE_LIMITS, ids=[limit.name for limit in SIZE_LIMITS])
def test_each_item_type_has_its_size_limit(limit: SizeLimit) -> None:
    for item_type in sorted(limit.types):
        at_limit = b"{}\n" + item(item_type, padded_json(limit.item_bytes))
        assert status_of(at_limit, limit) == 200
        over = b"{}\n" + item(item_type, padded_json(limit.item_bytes + 1))
        assert status_of(over, limit) == 413
        if limit.max_count is not None:
            many = b"{}\n" + b"".join(item(item_type, b"{}") for _ in range(limit.max_count))
            assert status_of(many, limit) == 200
            assert status_of(many + item(item_type, b"{}"), limit) == 413


def test_an_item_over_its_limit_is_a_413_for_the_whole_envelope(
    client: Client, key: ProjectKey
) -> None:
    body = b"{}\n" + item("event", b"{}") + item("check_in", padded_json(100 * KIB + 1))
    response = post_envelope(client, key, body)
    assert response.status_code == 413, response.content
    assert response.json() == {"detail": "A check-in item is larger than 102400 bytes"}
    assert totals(key) == same_everywhere(0)


def client_report(entries: int) -> bytes:
    report = {
        "timestamp": "2026-12-01T00:00:00Z",
        "discarded_events": [
            {"reason": "queue_overflow", "category": "error", "quantity": 1} for _ in range(entries)
        ],
    }
    return json.dumps(report).encode()


def test_a_client_report_past_its_entry_limit_is_dropped_unparsed(
    client: Client, key: ProjectKey
) -> None:
    entries = MAX_CLIENT_REPORT_OBJECTS - 1  # the report object itself is one
    body = b"{}\n" + item("client_report", client_report(entries))
    assert post_envelope(client, key, body).status_code == 200
    assert outcome_totals(key) == {("error", "client_discard", "queue_overflow"): entries}
    over = b"{}\n" + item("client_report", client_report(entries + 1)) + item("event", b"{}")
    response = post_envelope(client, key, over)
    assert response.status_code == 200, response.content
    # The event is counted; the oversized report is not, not even its first entries.
    assert outcome_totals(key) == {
        ("error", "client_discard", "queue_overflow"): entries,
        ("error", "accepted", None): 1,
    }
    assert totals(key) == same_everywhere(1)
