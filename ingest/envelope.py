"""The envelope format: a JSON header line, then items (a JSON item header and a payload).

With ``length`` in its header, a payload is exactly that many bytes (newlines included) and
is followed by a newline or the end; without it, the payload runs to the next newline. The
final newline is optional. Anything else is a 400 for the whole envelope.

Every piece has a size limit that is checked before any JSON in it is parsed, so the work
and memory of parsing an envelope are bounded by those limits, whatever the body holds:

- the envelope header line: MAX_ENVELOPE_HEADER_BYTES; an item header line:
  MAX_ITEM_HEADER_BYTES (Relay sets neither; an SDK writes a few hundred bytes). Of an item
  header only the fields ingest reads (ITEM_HEADER_FIELDS, scalars) are kept.
- item payloads, by type, with Relay's default limits (``relay-config`` ``Limits``, applied as
  ``relay-server``'s ``check_envelope_size_limits`` does: each item, and all items of a group
  together): see ``SIZE_LIMITS``. Event-like items share ``INGEST_MAX_EVENT_BYTES`` (1 MiB).
  Types with no limit here (attachments, unknown types) are never parsed; the decompressed
  body limit bounds them.
- at most MAX_ITEMS items.

Over a limit is a 413 for the whole envelope (as Relay answers).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from ingest.errors import IngestError, bad_request, too_large

KIB = 1024
MIB = 1024 * 1024

MAX_ITEMS = 1000
MAX_ENVELOPE_HEADER_BYTES = 64 * KIB
MAX_ITEM_HEADER_BYTES = 16 * KIB
ITEM_HEADER_FIELDS = frozenset({"type", "length", "item_count", "content_type", "attachment_type"})
_SCALARS = (str, int, float)
# Entries of a client report (objects in its JSON, the report itself included) past which it
# is dropped without parsing the rest. An SDK sends one per category and reason it dropped.
MAX_CLIENT_REPORT_OBJECTS = 201

# Event-like items: each, and all of an envelope's together, at most INGEST_MAX_EVENT_BYTES
# (Relay's max_event_size). Relay also allows only one per envelope; statsapi counts each.
EVENT_LIKE_TYPES = frozenset(
    {"event", "transaction", "security", "raw_security", "replay_event", "feedback", "form_data"}
)


@dataclass(frozen=True, slots=True)
class SizeLimit:
    """Items of ``types``: each at most ``item_bytes``, together at most ``total_bytes`` and
    ``max_count`` items."""

    name: str
    types: frozenset[str]
    item_bytes: int
    total_bytes: int
    max_count: int | None = None


# Relay's defaults. Spans, logs and trace metrics come in containers of many (``item_count``):
# Relay's container limit (12 MiB) bounds them.
SIZE_LIMITS = (
    SizeLimit("client report", frozenset({"client_report"}), 100 * KIB, 100 * KIB, 100),
    SizeLimit("check-in", frozenset({"check_in"}), 100 * KIB, 100 * KIB, 1),
    SizeLimit("session", frozenset({"session", "sessions"}), 10 * MIB, 10 * MIB, 100),
    SizeLimit("profile", frozenset({"profile", "profile_chunk"}), 50 * MIB, 50 * MIB, 1),
    SizeLimit(
        "replay recording", frozenset({"replay_recording", "replay_video"}), 10 * MIB, 10 * MIB
    ),
    SizeLimit("metrics", frozenset({"statsd", "metric_buckets"}), 1 * MIB, 1 * MIB),
    SizeLimit(
        "span, log or trace metric",
        frozenset({"span", "otel_span", "log", "otel_log", "trace_metric"}),
        12 * MIB,
        12 * MIB,
    ),
)
_LIMIT_BY_TYPE = {item_type: limit for limit in SIZE_LIMITS for item_type in limit.types}

_HEX32 = re.compile(r"^[0-9a-f]{32}$")


@dataclass(slots=True)
class Item:
    type: str
    headers: dict[str, Any]
    payload: bytes


@dataclass(slots=True)
class Envelope:
    headers: dict[str, Any]
    items: list[Item]


def normalize_event_id(value: Any) -> str | None:
    """32 lowercase hex from 32 hex or a dashed UUID (either case); None if it is neither."""
    if not isinstance(value, str):
        return None
    if _HEX32.match(value):
        return value
    try:
        return uuid.UUID(value).hex if len(value) in (32, 36) else None
    except ValueError:
        return None


def json_object(data: bytes, what: str, *, reason: str = "invalid_json") -> dict[str, Any]:
    """``data`` parsed as a JSON object; 400 naming ``what`` if it is not valid JSON (bad
    UTF-8 and nesting too deep for the parser included) or not an object. The caller bounds
    ``len(data)``."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise bad_request(f"{what} is not valid JSON", reason=reason) from None
    if not isinstance(value, dict):
        raise bad_request(f"{what} is not a JSON object", reason=reason)
    return value


class _TooManyObjects(ValueError):
    pass


def client_report(payload: bytes) -> Any | None:
    """A client report payload parsed, or None when it is not valid JSON or holds more than
    MAX_CLIENT_REPORT_OBJECTS objects: parsing stops at the first object past that. (Its size
    is bounded by ``SIZE_LIMITS``.)"""
    seen = 0

    def count_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal seen
        seen += 1
        if seen > MAX_CLIENT_REPORT_OBJECTS:
            raise _TooManyObjects
        return dict(pairs)

    try:
        return json.loads(payload, object_pairs_hook=count_object)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _line_end(body: bytes, start: int, limit: int, what: str) -> int:
    """The offset of the newline ending the line at ``start`` (or the body's end); 413 if the
    line is longer than ``limit`` bytes, found without scanning past the limit."""
    end = body.find(b"\n", start, start + limit + 1)
    if end >= 0:
        return end
    if len(body) - start > limit:
        raise too_large(f"Invalid envelope: {what} is larger than {limit} bytes")
    return len(body)


def parse_envelope_headers(body: bytes) -> tuple[dict[str, Any], int]:
    """The envelope header and the offset just past its line."""
    end = _line_end(body, 0, MAX_ENVELOPE_HEADER_BYTES, "the envelope header")
    line = body[:end]
    if not line.strip():
        raise bad_request("Invalid envelope: empty body")
    headers = json_object(line, "Invalid envelope: the envelope header", reason="invalid_envelope")
    if "event_id" in headers and headers["event_id"] is not None:
        event_id = normalize_event_id(headers["event_id"])
        if event_id is None:
            raise bad_request("Invalid envelope: event_id is not a UUID")
        headers["event_id"] = event_id
    return headers, min(end + 1, len(body))


def parse_envelope(body: bytes, *, max_event_bytes: int) -> Envelope:
    """Split ``body`` into its header and items. 400 when malformed; 413 past a size limit
    (``max_event_bytes`` for event-like items, the module docstring for the rest)."""
    headers, pos = parse_envelope_headers(body)
    items: list[Item] = []
    try:
        _parse_items(body, pos, items, max_event_bytes)
    except IngestError as exc:
        exc.items = items  # what was seen, for the invalid outcomes
        raise
    return Envelope(headers, items)


def _item_headers(line: bytes) -> dict[str, Any]:
    parsed = json_object(line, "Invalid envelope: an item header", reason="invalid_envelope")
    # The rest is dropped now: a thousand item headers of nested JSON are not kept.
    return {
        name: value
        for name, value in parsed.items()
        if name in ITEM_HEADER_FIELDS and isinstance(value, _SCALARS)
    }


def _parse_items(body: bytes, pos: int, items: list[Item], max_event_bytes: int) -> None:
    size = len(body)
    event_bytes = 0
    group_bytes: dict[SizeLimit, int] = {}
    group_count: dict[SizeLimit, int] = {}
    while pos < size:
        line_end = _line_end(body, pos, MAX_ITEM_HEADER_BYTES, "an item header")
        line = body[pos:line_end]
        if not line.strip():
            pos = line_end + 1  # blank lines between items (and a trailing one) are harmless
            continue
        item_headers = _item_headers(line)
        item_type = item_headers.get("type")
        if not isinstance(item_type, str) or not item_type:
            raise bad_request("Invalid envelope: an item has no type")
        items.append(Item(item_type, item_headers, b""))
        if len(items) > MAX_ITEMS:
            raise too_large(f"An envelope may hold at most {MAX_ITEMS} items")
        start = min(line_end + 1, size)
        length = item_headers.get("length")
        if length is not None:
            if isinstance(length, bool) or not isinstance(length, int) or length < 0:
                raise bad_request("Invalid envelope: an item length is not a non-negative integer")
            stop = start + length
            if stop > size:
                raise bad_request("Invalid envelope: an item's length runs past the end")
            if stop < size and body[stop : stop + 1] != b"\n":
                raise bad_request("Invalid envelope: an item payload is not followed by a newline")
        else:
            end = body.find(b"\n", start)
            stop = size if end < 0 else end
        payload_size = stop - start
        # Limits are checked on the size alone, before the payload is copied or parsed.
        if item_type in EVENT_LIKE_TYPES:
            if payload_size > max_event_bytes:
                raise too_large(f"An {item_type} item is larger than {max_event_bytes} bytes")
            event_bytes += payload_size
            if event_bytes > max_event_bytes:
                raise too_large(
                    f"The event-like items of an envelope together are larger than "
                    f"{max_event_bytes} bytes"
                )
        else:
            limit = _LIMIT_BY_TYPE.get(item_type)
            if limit is not None:
                _check_limit(limit, payload_size, group_bytes, group_count)
        items[-1].payload = body[start:stop]
        pos = stop + 1


def _check_limit(
    limit: SizeLimit,
    payload_size: int,
    group_bytes: dict[SizeLimit, int],
    group_count: dict[SizeLimit, int],
) -> None:
    if payload_size > limit.item_bytes:
        raise too_large(f"A {limit.name} item is larger than {limit.item_bytes} bytes")
    total = group_bytes[limit] = group_bytes.get(limit, 0) + payload_size
    if total > limit.total_bytes:
        raise too_large(
            f"The {limit.name} items of an envelope together are larger than "
            f"{limit.total_bytes} bytes"
        )
    count = group_count[limit] = group_count.get(limit, 0) + 1
    if limit.max_count is not None and count > limit.max_count:
        raise too_large(f"An envelope may hold at most {limit.max_count} {limit.name} items")
