"""Reading the few event fields counting needs: its timestamp and its id."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

MAX_AGE_SECONDS = 30 * 86_400
MAX_FUTURE_SECONDS = 60


def parse_timestamp(value: Any, *, protocol_version: int) -> float | None:
    """Epoch seconds of an event ``timestamp``: a number (seconds; milliseconds for protocol
    5) or ISO 8601 (no zone means UTC). None if missing or unparsable."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            # JSON integers have no bound: one no float can hold is unparsable, not a crash.
            seconds = value / 1000 if protocol_version == 5 else float(value)
            return seconds if math.isfinite(seconds) else None
        if isinstance(value, str) and value:
            parsed = datetime.fromisoformat(value.strip())
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.timestamp()
    except (ValueError, OverflowError):
        return None
    return None


def event_timestamp(event: dict[str, Any], *, received: float, protocol_version: int) -> float:
    """When the event happened, by Relay's rule: its own ``timestamp`` unless that is missing,
    unparsable, more than 30 days old or more than 60 s in the future; then ``received``."""
    timestamp = parse_timestamp(event.get("timestamp"), protocol_version=protocol_version)
    if timestamp is None:
        return received
    if timestamp < received - MAX_AGE_SECONDS or timestamp > received + MAX_FUTURE_SECONDS:
        return received
    return timestamp
