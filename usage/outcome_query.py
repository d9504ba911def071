"""The query of stats_v2 and stats-summary: parameters parsed, the window worked out once.

``OutcomeQuerySerializer`` validates the query string in Sentry's order (interval, dates, the
point limit, field, groupBy, category presence, then the filters: outcome, category, reason,
key) and gives one ``OutcomeQuery``. Every rule is written in spec/stats-v2.md; the ones
marked **ours** there are ours. A bad value is a ValidationError: 400 ``{"detail": ...}``.

The window (Sentry's rule): ``statsPeriod=P`` is ``[now - P, now]``; ``start``/``end``
(ISO 8601 with or without zone, none meaning UTC, or Unix seconds) are taken as given, a
``start`` in the future clamped to now; neither is the last 90 days. The start is floored to
the interval, the end rounded up to it unless aligned, and ``intervals`` are the interval
starts before the end. The interval's data must still be kept for the whole window: ``now -
start`` at most the retention of the rollup it is read from (10 s: 1 hour, 1 min: 12 hours,
1 h: 90 days with the default rollups), else 400 naming the finest interval that works.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from rest_framework import serializers
from rest_framework.settings import api_settings

import tsdb
from tsdb.base import MAX_POINTS, format_seconds
from usage.catalogue import (
    BYTE_CATEGORIES,
    CATEGORIES,
    ERROR_CATEGORIES,
    Field,
    Outcome,
)
from usage.window import (
    QueryWindow,
    WindowError,
    parse_duration,
    parse_timestamp,
    request_now,
)

DAY: Final = 86_400
DEFAULT_PERIOD: Final = 90 * DAY
DEFAULT_INTERVAL: Final = 3600
MAX_INTERVALS: Final = MAX_POINTS
_US: Final = 1_000_000
GROUP_BY_CHOICES: Final = ("outcome", "category", "reason", "project")
SCALAR_PARAMS: Final = ("statsPeriod", "start", "end", "interval")
INTEGER_RE = re.compile(r"-?[0-9]{1,19}")
MAX_ID = 2**63 - 1

TOO_MANY_INTERVALS: Final = (
    "Your interval and date range would create too many results. "
    "Use a larger interval, or a smaller date range."
)


@dataclass(frozen=True, slots=True)
class OutcomeQuery:
    """A validated stats_v2 / stats-summary query.

    ``window`` spans the intervals: ``start`` is the first interval's start, ``end`` the last
    interval's start (the TSDB's inclusive last bucket), ``rollup`` the interval. ``end`` of
    the answer is ``window_end`` (exclusive). ``categories`` holds the stored categories the
    filter selects (``error`` expanded to error, default and security), None without a
    category filter; likewise ``outcomes``, ``reasons``, ``key_ids``. ``project_ids`` is None
    for all visible projects (no ``project``, or ``-1``).
    """

    window: QueryWindow
    window_end: int
    intervals: list[int]
    fields: tuple[Field, ...]
    group_by: tuple[str, ...]
    categories: frozenset[str] | None
    outcomes: frozenset[str] | None
    reasons: frozenset[str] | None
    key_ids: frozenset[int] | None
    project_ids: frozenset[int] | None


def _values(data: Mapping[str, Any], name: str) -> list[str]:
    """Every non-empty value of a repeatable parameter."""
    getlist = getattr(data, "getlist", None)
    raw = getlist(name) if getlist is not None else data.get(name, [])
    if isinstance(raw, str):
        raw = [raw]
    return [str(value) for value in raw if value != ""]


def _scalar(data: Mapping[str, Any], name: str) -> str | None:
    values = _values(data, name)
    if len(values) > 1:
        raise serializers.ValidationError(f'"{name}" may be given only once')
    return values[0] if values else None


def _interval(data: Mapping[str, Any]) -> int:
    raw = _scalar(data, "interval")
    if raw is None:
        return DEFAULT_INTERVAL
    seconds = parse_duration(raw)
    if seconds is None:
        raise serializers.ValidationError(
            f'Invalid interval: "{raw[:40]}" (use <number><unit>, unit s, m, h, d or w: 1h, 10s)'
        )
    if seconds > DAY:
        raise serializers.ValidationError("The interval has to be less than one day.")
    if DAY % seconds:
        raise serializers.ValidationError("The interval should divide one day without a remainder.")
    finest = tsdb.backend.rollups[0][0]
    try:
        tsdb.backend.get_source_rollup(seconds)
    except ValueError:
        raise serializers.ValidationError(
            f"The interval must be a whole multiple of {format_seconds(finest)} "
            "(the finest rollup kept)."
        ) from None
    return seconds


def _timestamp_us(data: Mapping[str, Any], name: str) -> int | None:
    raw = _scalar(data, name)
    if raw is None:
        return None
    try:
        parsed = parse_timestamp(
            raw,
            name=name,
            garbage_message=f"{name} must be an ISO 8601 date or Unix seconds, not {raw[:40]!r}",
        )
    except WindowError as exc:
        raise serializers.ValidationError(str(exc)) from None
    return int(parsed.timestamp()) * _US + parsed.microsecond


def _span_us(data: Mapping[str, Any], now_us: int) -> tuple[int, int]:
    """(start, end) in epoch microseconds, before alignment."""
    period = _scalar(data, "statsPeriod")
    start_us, end_us = _timestamp_us(data, "start"), _timestamp_us(data, "end")
    if period is not None:
        seconds = parse_duration(period)
        if seconds is None:
            raise serializers.ValidationError(
                f'Invalid statsPeriod: "{period[:40]}" (use <number><unit>, unit s, m, h, d '
                "or w: 24h, 14d)"
            )
        return now_us - seconds * _US, now_us
    if start_us is None and end_us is None:
        return now_us - DEFAULT_PERIOD * _US, now_us
    if start_us is None or end_us is None:
        raise serializers.ValidationError("start and end are both required")
    start_us = min(start_us, now_us)
    if start_us >= end_us:
        raise serializers.ValidationError("start must be before end")
    return start_us, end_us


def _check_retention(interval: int, start_us: int, now: int) -> None:
    """400 unless the rollup ``interval`` is read from keeps data back to the start."""
    backend = tsdb.backend
    retention = dict(backend.rollups)
    age = now - start_us // _US

    def holds(rollup: int) -> bool:
        return age <= rollup * retention[rollup]

    source = backend.get_source_rollup(interval)
    if holds(source):
        return
    kept = format_seconds(source * retention[source])
    for rollup, _ in backend.rollups:
        if rollup > source and holds(rollup):
            dividing = (m for m in range(rollup, DAY + 1, rollup) if DAY % m == 0)
            suggestion = next(dividing, rollup)
            raise serializers.ValidationError(
                f"interval={format_seconds(interval)} cannot cover this window: its "
                f"{format_seconds(source)} buckets are kept for {kept} only. Use "
                f"interval={format_seconds(suggestion)} (the finest interval whose data is "
                "still kept for the whole window) or a later start."
            )
    coarsest, samples = backend.rollups[-1]
    raise serializers.ValidationError(
        f"The window starts before the oldest data kept ({format_seconds(coarsest * samples)} "
        "ago): use a later start or a shorter statsPeriod."
    )


def _choices(
    data: Mapping[str, Any], name: str, choices: Sequence[str], *, lower: bool = False
) -> list[str]:
    values = []
    for raw in _values(data, name):
        value = raw.lower() if lower else raw
        if value not in choices:
            raise serializers.ValidationError(f'Invalid {name}: "{raw[:40]}"')
        values.append(value)
    return list(dict.fromkeys(values))


def _integers(data: Mapping[str, Any], name: str, message: str) -> list[int]:
    values = []
    for raw in _values(data, name):
        text = raw.strip()
        if not INTEGER_RE.fullmatch(text) or abs(int(text)) > MAX_ID:
            raise serializers.ValidationError(message.format(raw[:40]))
        values.append(int(text))
    return values


class OutcomeQuerySerializer(serializers.Serializer[Any]):
    """Validates the query string of stats_v2 (``summary=False``) or stats-summary
    (``summary=True``: ``groupBy`` ignored, ``category`` optional). Validated data:
    ``{"query": OutcomeQuery}``."""

    def __init__(self, *args: Any, summary: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.summary = summary

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        try:
            return {"query": self._parse(data)}
        except serializers.ValidationError as exc:
            # A serializer's errors are a dict; the exception handler answers the message.
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: exc.detail}
            ) from None

    def _parse(self, data: Any) -> OutcomeQuery:
        backend = tsdb.backend
        now, now_datetime = request_now(backend)
        now_us = int(now_datetime.timestamp()) * _US + now_datetime.microsecond

        interval = _interval(data)
        start_us, end_us = _span_us(data, now_us)
        interval_us = interval * _US
        first = start_us // interval_us * interval
        window_end = -(-end_us // interval_us) * interval
        count = (window_end - first) // interval
        _check_retention(interval, start_us, now)
        if count > MAX_INTERVALS:
            raise serializers.ValidationError(TOO_MANY_INTERVALS)

        fields = _choices(data, "field", [field.value for field in Field])
        if not fields:
            raise serializers.ValidationError('At least one "field" is required.')
        group_by = () if self.summary else tuple(_choices(data, "groupBy", GROUP_BY_CHOICES))
        if not self.summary and not _values(data, "category") and "category" not in group_by:
            raise serializers.ValidationError("Query must have category as groupby or filter")
        outcomes = _choices(data, "outcome", [outcome.value for outcome in Outcome], lower=True)
        categories = _choices(data, "category", CATEGORIES)
        stored = {c for category in categories for c in _expand(category)}
        if stored & BYTE_CATEGORIES and len(stored) > 1:
            raise serializers.ValidationError(
                "if filtering by attachment no other category may be present"
            )
        reasons = _values(data, "reason")
        key_ids = _integers(data, "key_id", 'Invalid key: "{}"')
        project_ids = _integers(data, "project", 'Invalid project: "{}"')

        window = QueryWindow(
            start=datetime.fromtimestamp(first, UTC),
            end=datetime.fromtimestamp(window_end - interval, UTC),
            rollup=interval,
            now=now,
        )
        return OutcomeQuery(
            window=window,
            window_end=window_end,
            intervals=list(range(first, window_end, interval)),
            fields=tuple(Field(field) for field in fields),
            group_by=group_by,
            categories=frozenset(stored) if stored else None,
            outcomes=frozenset(outcomes) if outcomes else None,
            reasons=frozenset(reasons) if reasons else None,
            key_ids=frozenset(key_ids) if key_ids else None,
            project_ids=None if not project_ids or -1 in project_ids else frozenset(project_ids),
        )


def _expand(category: str) -> tuple[str, ...]:
    return ERROR_CATEGORIES if category == "error" else (category,)
