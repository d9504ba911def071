"""The envelope format: a JSON header line, then items (a JSON item header and a payload).

With ``length`` in its header, a payload is exactly that many bytes (newlines included) and
is followed by a newline or the end; without it, the payload runs to the next newline. The
final newline is optional. Anything else is a 400 for the whole envelope.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from ingest.errors import IngestError, bad_request, too_large

MAX_ITEMS = 1000
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
    UTF-8 and nesting too deep for the parser included) or not an object."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise bad_request(f"{what} is not valid JSON", reason=reason) from None
    if not isinstance(value, dict):
        raise bad_request(f"{what} is not a JSON object", reason=reason)
    return value


def parse_envelope_headers(body: bytes) -> tuple[dict[str, Any], int]:
    """The envelope header and the offset just past its line."""
    end = body.find(b"\n")
    line, pos = (body, len(body)) if end < 0 else (body[:end], end + 1)
    if not line.strip():
        raise bad_request("Invalid envelope: empty body")
    headers = json_object(line, "Invalid envelope: the envelope header", reason="invalid_envelope")
    if "event_id" in headers and headers["event_id"] is not None:
        event_id = normalize_event_id(headers["event_id"])
        if event_id is None:
            raise bad_request("Invalid envelope: event_id is not a UUID")
        headers["event_id"] = event_id
    return headers, pos


def parse_envelope(body: bytes, *, max_event_bytes: int) -> Envelope:
    """Split ``body`` into its header and items. 400 when malformed; 413 for an event item
    larger than ``max_event_bytes`` or more than MAX_ITEMS items."""
    headers, pos = parse_envelope_headers(body)
    items: list[Item] = []
    try:
        _parse_items(body, pos, items, max_event_bytes)
    except IngestError as exc:
        exc.items = items  # what was seen, for the invalid outcomes
        raise
    return Envelope(headers, items)


def _parse_items(body: bytes, pos: int, items: list[Item], max_event_bytes: int) -> None:
    size = len(body)
    while pos < size:
        end = body.find(b"\n", pos)
        line_end = size if end < 0 else end
        line = body[pos:line_end]
        if not line.strip():
            pos = line_end + 1  # blank lines between items (and a trailing one) are harmless
            continue
        item_headers = json_object(
            line, "Invalid envelope: an item header", reason="invalid_envelope"
        )
        item_type = item_headers.get("type")
        if not isinstance(item_type, str) or not item_type:
            raise bad_request("Invalid envelope: an item has no type")
        items.append(Item(item_type, item_headers, b""))
        start = min(line_end + 1, size)
        length = item_headers.get("length")
        if length is not None:
            if isinstance(length, bool) or not isinstance(length, int) or length < 0:
                raise bad_request("Invalid envelope: an item length is not a non-negative integer")
            stop = start + length
            if stop > size:
                raise bad_request("Invalid envelope: an item's length runs past the end")
            payload = body[start:stop]
            if stop < size and body[stop : stop + 1] != b"\n":
                raise bad_request("Invalid envelope: an item payload is not followed by a newline")
            pos = stop + 1
        else:
            end = body.find(b"\n", start)
            stop = size if end < 0 else end
            payload = body[start:stop]
            pos = stop + 1
        if item_type in ("event", "security", "transaction") and len(payload) > max_event_bytes:
            raise too_large(f"An {item_type} item is larger than {max_event_bytes} bytes")
        items[-1].payload = payload
        if len(items) > MAX_ITEMS:
            raise too_large(f"An envelope may hold at most {MAX_ITEMS} items")
