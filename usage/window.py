"""The query window of a stats request, parsed and worked out once.

Both APIs name a time window and a bucket size in the query string: v1 with ``since``,
``until`` and ``resolution``, stats_v2 with ``statsPeriod`` or ``start``/``end`` and
``interval``. This module parses those values (timestamps, durations) with messages that say
what was wrong, and builds a ``QueryWindow``: ``start``, ``end``, the bucket size and the
``now`` it was decided at. The selectors hand that same ``now`` to the TSDB, so the clock is
read once per request and the window, its rollup and the retention check all agree.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from tsdb import BaseTSDB

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The last second of year 9999: anything later (a millisecond timestamp, say) is refused.
MAX_TIMESTAMP = Decimal(253_402_300_799)
# Longer than any sensible timestamp; refuses absurd inputs before parsing them.
MAX_PARAM_LENGTH = 64
# ASCII digits only: `\d` would also take "١٢" (Arabic-Indic digits), which int() accepts.
NUMERIC_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
DATE_PREFIX_RE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[T ].*)?")
DURATION_RE = re.compile(r"([0-9]{1,12})([smhdw])")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
# "...T10:00:00+02:00" with an unencoded "+" arrives as "...T10:00:00 02:00".
DECODED_PLUS_OFFSET_RE = re.compile(r"(.*T.*[0-9]) ([0-9]{2}(?::?[0-9]{2})?)")


class WindowError(ValueError):
    """A window parameter is wrong; the message says which and how."""


@dataclass(frozen=True, slots=True)
class QueryWindow:
    """A request's window: ``start`` and ``end`` (aware UTC), the bucket size ``rollup`` in
    seconds, and ``now`` (epoch seconds) as read once for the request."""

    start: datetime
    end: datetime
    rollup: int
    now: int


def request_now(backend: BaseTSDB) -> tuple[int, datetime]:
    """Read the TSDB's clock once: (whole epoch seconds, the same instant as a datetime)."""
    clock = backend.clock()
    return math.floor(clock), datetime.fromtimestamp(clock, UTC)


def parse_iso8601(value: str) -> datetime | None:
    for candidate in (value, DECODED_PLUS_OFFSET_RE.sub(r"\1+\2", value)):
        try:
            return datetime.fromisoformat(candidate.replace("z", "Z"))
        except ValueError:
            continue
    return None


def _date_problem(value: str) -> str | None:
    """Why a value shaped like a date (``2026-13-45``) is not one, or None."""
    match = DATE_PREFIX_RE.fullmatch(value)
    if match is None:
        return None
    try:
        date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError as exc:
        return str(exc)
    return "the time or zone after the date is malformed"


def parse_timestamp(value: str, *, name: str, garbage_message: str) -> datetime:
    """Unix seconds (int or float, e.g. ``1421092384.822244``) or ISO 8601 (no zone means
    UTC), as an aware UTC datetime exact to the microsecond.

    WindowError names what is wrong: a number before 1970 or after year 9999 (likely
    milliseconds), a date that does not exist (``2026-13-45``), or ``garbage_message`` for a
    value that is neither a number nor a date.
    """
    value = value.strip()
    if not value or len(value) > MAX_PARAM_LENGTH:
        raise WindowError(garbage_message)
    if NUMERIC_RE.fullmatch(value):
        try:
            seconds = Decimal(value)
        except InvalidOperation:
            raise WindowError(garbage_message) from None
        if seconds < 0:
            raise WindowError(
                f"{name} is out of range: {value} is before 1970-01-01T00:00:00Z; "
                "Unix timestamps are seconds since then and cannot be negative"
            )
        if seconds > MAX_TIMESTAMP:
            raise WindowError(
                f"{name} is out of range: {value} seconds is after the year 9999; "
                "send Unix seconds (a timestamp in milliseconds must be divided by 1000)"
            )
        return EPOCH + timedelta(microseconds=int(seconds.scaleb(6).to_integral_value()))
    parsed = parse_iso8601(value)
    if parsed is None:
        problem = _date_problem(value)
        if problem is not None:
            raise WindowError(f"{name} is not a valid ISO 8601 date: {value} ({problem})")
        raise WindowError(garbage_message)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        raise WindowError(f"{name} is out of range: {value} is after the year 9999") from None
    if parsed < EPOCH:
        raise WindowError(f"{name} is out of range: {value} is before 1970-01-01T00:00:00Z")
    return parsed


def parse_duration(value: str, *, units: str = "smhdw") -> int | None:
    """``<positive int><unit>`` in seconds (units among ``units``), or None."""
    match = DURATION_RE.fullmatch(value)
    if match is None or match.group(2) not in units:
        return None
    seconds = int(match.group(1)) * DURATION_UNITS[match.group(2)]
    return seconds or None


def format_rfc3339(epoch: int) -> str:
    """``2026-11-30T19:00:00Z``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
