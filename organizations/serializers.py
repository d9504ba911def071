"""Query-parameter validation for the stats endpoints.

Every rule of the stats contract (spec/stats-api.md sections 1 and 2) that concerns the
query string lives here: the window (`since`, `until`), the resolution grammar and the point
caps, `stat`, `group`, `projectID` and `id`. A bad value is a ValidationError, which the
exception handler turns into `400 {"detail": "<message>"}`.

Query strings arrive as a QueryDict: a repeated scalar parameter resolves to its last value
(`QueryDict.get`), and an empty value counts as absent except for `stat` and `group`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers
from rest_framework.fields import empty

import tsdb
from organizations.selectors import (
    MAX_DB_ID,
    ORGANIZATION_PROJECT_STATS,
    ORGANIZATION_STATS,
    PROJECT_STAT_CHOICES,
    TEAM_STATS,
)
from tsdb.base import TSDBLimitExceeded

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The last second of year 9999: anything later (a millisecond timestamp, say) is refused.
MAX_TIMESTAMP = Decimal(253_402_300_799)
# `since` defaults to `until - 86399 s`: exactly 24 points at 1 h, as in Sentry.
DEFAULT_WINDOW = timedelta(seconds=86_399)
# Longer than any sensible timestamp; refuses absurd inputs before parsing them.
MAX_PARAM_LENGTH = 64
# ASCII digits only: `\d` would also take "١٢" (Arabic-Indic digits), which int() accepts.
NUMERIC_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
RESOLUTION_RE = re.compile(r"([0-9]{1,12})([smhd])")
ID_RE = re.compile(r"-?[0-9]{1,19}")
RESOLUTION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
# "...T10:00:00+02:00" with an unencoded "+" arrives as "...T10:00:00 02:00".
DECODED_PLUS_OFFSET_RE = re.compile(r"(.*T.*[0-9]) ([0-9]{2}(?::?[0-9]{2})?)")

GROUP_CHOICES = ("organization", "project")


def parse_timestamp(value: str) -> datetime | None:
    """Unix seconds (int or float, e.g. `1421092384.822244`) or ISO 8601 (no zone means UTC),
    as an aware UTC datetime exact to the microsecond. None if it is neither, or lies before
    1970 or after year 9999."""
    value = value.strip()
    if not value or len(value) > MAX_PARAM_LENGTH:
        return None
    if NUMERIC_RE.fullmatch(value):
        try:
            seconds = Decimal(value)
        except InvalidOperation:
            return None
        if not seconds.is_finite() or not 0 <= seconds <= MAX_TIMESTAMP:
            return None
        return EPOCH + timedelta(microseconds=int(seconds.scaleb(6).to_integral_value()))
    parsed = parse_iso8601(value)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        return None
    return parsed if parsed >= EPOCH else None


def parse_iso8601(value: str) -> datetime | None:
    for candidate in (value, DECODED_PLUS_OFFSET_RE.sub(r"\1+\2", value)):
        try:
            return datetime.fromisoformat(candidate.replace("z", "Z"))
        except ValueError:
            continue
    return None


def parse_resolution(value: str) -> int | None:
    """`<positive int><s|m|h|d>` in seconds, or None."""
    match = RESOLUTION_RE.fullmatch(value)
    if match is None:
        return None
    seconds = int(match.group(1)) * RESOLUTION_UNITS[match.group(2)]
    return seconds or None


class QueryParamField(serializers.Field):
    """A scalar query parameter; an empty value counts as absent (unless `blank_is_error`)."""

    def __init__(self, *, blank_is_error: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.blank_is_error = blank_is_error

    def get_value(self, dictionary: Mapping[str, Any]) -> Any:
        value = dictionary.get(self.field_name, empty)
        if value == "" and not self.blank_is_error:
            return empty
        return value

    def to_representation(self, value: Any) -> Any:
        return value


class TimestampField(QueryParamField):
    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message

    def to_internal_value(self, data: Any) -> datetime:
        parsed = parse_timestamp(data) if isinstance(data, str) else None
        if parsed is None:
            raise serializers.ValidationError(self.message)
        return parsed


class ResolutionField(QueryParamField):
    def to_internal_value(self, data: Any) -> int:
        seconds = parse_resolution(data) if isinstance(data, str) else None
        if seconds is None:
            raise serializers.ValidationError("Invalid resolution")
        try:
            tsdb.backend.get_source_rollup(seconds)
        except ValueError:
            raise serializers.ValidationError("Invalid resolution") from None
        return seconds


class StrictChoiceField(QueryParamField):
    """One of `choices`; an empty value is an error, not the default."""

    def __init__(self, *, choices: Sequence[str], name: str, **kwargs: Any) -> None:
        kwargs.setdefault("blank_is_error", True)
        super().__init__(**kwargs)
        self.choices = tuple(choices)
        self.name = name

    def to_internal_value(self, data: Any) -> str:
        if data not in self.choices:
            raise serializers.ValidationError(
                f"Invalid {self.name}: must be one of {', '.join(self.choices)}"
            )
        return str(data)


class IdListField(serializers.Field):
    """A repeatable integer parameter (`projectID=1&projectID=2`). Empty values are skipped;
    anything that is not an integer is an error. None when the parameter is absent."""

    def __init__(self, *, name: str, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", None)
        super().__init__(**kwargs)
        self.name = name

    def get_value(self, dictionary: Mapping[str, Any]) -> Any:
        getlist = getattr(dictionary, "getlist", None)
        if getlist is None:
            value = dictionary.get(self.field_name, empty)
            values = value if isinstance(value, list) or value is empty else [value]
        else:
            values = getlist(self.field_name)
        if values is empty:
            return empty
        values = [value for value in values if value != ""]
        return values or empty

    def to_internal_value(self, data: Any) -> frozenset[int]:
        ids = set()
        for value in data:
            text = str(value).strip()
            if not ID_RE.fullmatch(text) or abs(int(text)) > MAX_DB_ID:
                raise serializers.ValidationError(f"{self.name} must be a list of integers")
            ids.add(int(text))
        return frozenset(ids)

    def to_representation(self, value: Any) -> Any:
        return value


class StatsWindowSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """`since`, `until`, `resolution`, shared by every stats endpoint.

    Validated data: `start` and `end` (aware UTC datetimes, `start <= end`) and `rollup`
    (seconds: the requested resolution, or the one the TSDB picks for the window), already
    checked against the point caps.
    """

    since = TimestampField(message="since must be a numeric timestamp")
    until = TimestampField(message="until must be a numeric timestamp.")
    resolution = ResolutionField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end: datetime = attrs.pop("until", None) or timezone.now()
        start: datetime = attrs.pop("since", None) or end - DEFAULT_WINDOW
        if start > end:
            raise serializers.ValidationError("start must be before or equal to end")
        rollup = attrs.pop("resolution", None)
        backend = tsdb.backend
        now = backend.now()
        if rollup is None:
            rollup = backend.get_optimal_rollup(start, end, now=now)
        try:
            backend.check_limits(start, end, rollup, now=now)
        except TSDBLimitExceeded as exc:
            raise serializers.ValidationError(str(exc)) from None
        attrs.update(start=start, end=end, rollup=rollup)
        return attrs


class OrganizationStatsSerializer(StatsWindowSerializer):
    stat = StrictChoiceField(
        choices=tuple(dict.fromkeys((*ORGANIZATION_STATS, *ORGANIZATION_PROJECT_STATS))),
        name="stat",
        default="received",
    )
    group = StrictChoiceField(choices=GROUP_CHOICES, name="group", default="organization")
    projectID = IdListField(name="projectID")
    id = IdListField(name="id")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["group"] == "organization" and attrs["stat"] not in ORGANIZATION_STATS:
            raise serializers.ValidationError(
                f"stat={attrs['stat']} is only available with group=project"
            )
        return super().validate(attrs)


class ProjectStatsSerializer(StatsWindowSerializer):
    stat = StrictChoiceField(choices=PROJECT_STAT_CHOICES, name="stat", default="received")


class TeamStatsSerializer(StatsWindowSerializer):
    stat = StrictChoiceField(choices=tuple(TEAM_STATS), name="stat", default="generated")


def series_representation(points: Sequence[tuple[int, int]]) -> list[list[float | int]]:
    """`[[timestamp, count], ...]`: float timestamps (`1536526800.0`) unless
    `STATS_INTEGER_TIMESTAMPS`; counts are always ints."""
    if settings.STATS_INTEGER_TIMESTAMPS:
        return [[int(ts), int(count)] for ts, count in points]
    return [[float(ts), int(count)] for ts, count in points]
