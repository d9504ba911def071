"""Query-parameter validation for the stats endpoints.

Every rule of the stats contract (spec/stats-api.md sections 1 and 2) that concerns the
query string lives here: the window (`since`, `until`), the resolution grammar and the point
caps, `stat`, `group`, `projectID` and `id`. A bad value is a ValidationError, which the
exception handler turns into `400 {"detail": "<message>"}`.

Query strings arrive as a QueryDict: a repeated scalar parameter resolves to its last value
(`QueryDict.get`), and an empty value counts as absent except for `stat` and `group`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.fields import empty

import tsdb
from organizations.selectors import MAX_DB_ID
from statsapi.renderers import JSONText, render_json
from tsdb.base import TSDBLimitExceeded
from usage.outcomes import SummaryEntry
from usage.selectors import (
    ORGANIZATION_PROJECT_STATS,
    ORGANIZATION_STATS,
    PROJECT_STAT_CHOICES,
    TEAM_STATS,
    StatsSeries,
    StatsSeriesByKey,
)
from usage.window import (
    QueryWindow,
    WindowError,
    format_rfc3339,
    parse_duration,
    parse_timestamp,
    request_now,
)

# `since` defaults to `until - 86399 s`: exactly 24 points at 1 h, as in Sentry.
DEFAULT_WINDOW = timedelta(seconds=86_399)
ID_RE = re.compile(r"-?[0-9]{1,19}")

GROUP_CHOICES = ("organization", "project")


class CheapCopyMixin:
    """DRF deep-copies every declared field for each serializer instance (to bind the copy to
    it), re-creating the field from deep copies of its arguments: most of the cost of
    validating a stats query string. These fields hold nothing they change after ``__init__``
    (binding sets attributes on the copy), so a shallow copy is a complete one."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone


class QueryParamField(CheapCopyMixin, serializers.Field[Any, Any, Any, Any]):
    """A scalar query parameter; an empty value counts as absent (unless `blank_is_error`)."""

    def __init__(self, *, blank_is_error: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.blank_is_error = blank_is_error

    def get_value(self, dictionary: Mapping[str, Any]) -> Any:
        value = dictionary.get(self.field_name or "", empty)
        if value == "" and not self.blank_is_error:
            return empty
        return value

    def to_representation(self, value: Any) -> Any:
        return value


class TimestampField(QueryParamField):
    """Unix seconds or ISO 8601 (``usage.window.parse_timestamp``); ``message`` is Sentry's
    text for a value that is neither, the other mistakes get messages of their own."""

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message

    def to_internal_value(self, data: Any) -> datetime:
        if not isinstance(data, str):
            raise serializers.ValidationError(self.message)
        try:
            return parse_timestamp(
                data, name=self.field_name or "value", garbage_message=self.message
            )
        except WindowError as exc:
            raise serializers.ValidationError(str(exc)) from None


class ResolutionField(QueryParamField):
    def to_internal_value(self, data: Any) -> int:
        seconds = parse_duration(data, units="smhd") if isinstance(data, str) else None
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


class IdListField(CheapCopyMixin, serializers.Field[Any, Any, Any, Any]):
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
            value = dictionary.get(self.field_name or "", empty)
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

    Validated data: `window`, a QueryWindow: `start` and `end` (aware UTC datetimes,
    `start <= end`), `rollup` (seconds: the requested resolution, or the one the TSDB picks
    for the window), already checked against the point caps, and the `now` it was decided at.
    """

    since = TimestampField(message="since must be a numeric timestamp")
    until = TimestampField(message="until must be a numeric timestamp.")
    resolution = ResolutionField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        backend = tsdb.backend
        now, now_datetime = request_now(backend)
        end: datetime = attrs.pop("until", None) or now_datetime
        start: datetime = attrs.pop("since", None) or end - DEFAULT_WINDOW
        if start > end:
            raise serializers.ValidationError("start must be before or equal to end")
        rollup = attrs.pop("resolution", None)
        if rollup is None:
            rollup = backend.get_optimal_rollup(start, end, now=now)
        try:
            backend.check_limits(start, end, rollup, now=now)
        except TSDBLimitExceeded as exc:
            raise serializers.ValidationError(str(exc)) from None
        attrs["window"] = QueryWindow(start=start, end=end, rollup=rollup, now=now)
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


def _even_range(first: int, last: int, points: int) -> range:
    """``points`` timestamps evenly spaced from ``first`` to ``last`` (a window's buckets or
    intervals, named by their ends and count)."""
    return range(first, last + 1, (last - first) // (points - 1) if points > 1 else 1)


@lru_cache(maxsize=32)
def _series_format(first: int, last: int, points: int, integer_timestamps: bool) -> str:
    """``[[<ts>,%d],...]``: the series' JSON with its timestamps written in and a ``%d`` per
    count. ``first``, ``last`` and ``points`` name the timestamps (a window's buckets run
    evenly from ``first`` to ``last``, ``tsdb.backend.get_series``), so every series of a
    window, in one response or in the next poll of the same window, shares one format: each
    timestamp is formatted once, not once per point of every series. Timestamps are floats
    (``1536526800.0``, as ``json`` writes ``float(ts)``) unless ``integer_timestamps``."""
    if points == 0:
        return "[]"
    # Timestamps go in with one `%` over the whole text (each pair `[%d.0,%%d]`: the `%%d`
    # comes out as the `%d` its count fills later), not one format call per point.
    pair = "[%d,%%d]" if integer_timestamps else "[%d.0,%%d]"
    text = "[" + ",".join([pair] * points) + "]"
    return text % tuple(_even_range(first, last, points))


def _series_layout(timestamps: Sequence[int]) -> str:
    """The format of every series over ``timestamps`` (``_series_format``)."""
    if not timestamps:
        return "[]"
    return _series_format(
        int(timestamps[0]),
        int(timestamps[-1]),
        len(timestamps),
        bool(settings.STATS_INTEGER_TIMESTAMPS),
    )


def series_json(series: StatsSeries) -> JSONText:
    """One v1 series as the JSON body ``[[timestamp, count], ...]``, compact, as DRF's
    renderer would write ``[[float(ts), count], ...]`` (ints with
    ``STATS_INTEGER_TIMESTAMPS``): the counts go into the window's format in one C call."""
    return JSONText(_series_layout(series.timestamps) % tuple(series.counts))


def series_by_key_json(series: StatsSeriesByKey) -> JSONText:
    """Several series as ``{"<key>": [[timestamp, count], ...], ...}`` (``group=project``),
    sharing one format (and one text for every series of zeros); ``[]`` when there is none
    (as Sentry answers)."""
    if not series.counts:
        return JSONText("[]")
    layout = _series_layout(series.timestamps)
    zeros = layout % ((0,) * len(series.timestamps))  # a quiet project's series, written once
    return JSONText(
        "{"
        + ",".join(
            f'"{int(key)}":' + (layout % tuple(counts) if any(counts) else zeros)
            for key, counts in series.counts.items()
        )
        + "}"
    )


@lru_cache(maxsize=32)
def _intervals_text(first: int, last: int, points: int) -> str:
    """The JSON list of RFC 3339 interval starts from ``first`` to ``last`` (``points``
    evenly spaced, as stats_v2 windows are), formatted once per window and reused by every
    poll of it."""
    return render_json([format_rfc3339(ts) for ts in _even_range(first, last, points)])


def stats_v2_json(*, end: int, intervals: Sequence[int], groups: list[dict[str, Any]]) -> JSONText:
    """The stats_v2 body: ``start`` (the first interval), ``end``, ``intervals`` (RFC 3339)
    and ``groups`` (rendered as every response is)."""
    if intervals:
        start = intervals[0]
        listed = _intervals_text(int(intervals[0]), int(intervals[-1]), len(intervals))
    else:
        start, listed = end, "[]"
    return JSONText(
        f'{{"start":{render_json(format_rfc3339(start))},'
        f'"end":{render_json(format_rfc3339(end))},'
        f'"intervals":{listed},"groups":{render_json(groups)}}}'
    )


def summary_entry_representation(entry: SummaryEntry) -> dict[str, Any]:
    """One stats entry of stats-summary: category, reason (with a reason filter), outcomes
    and totals."""
    data: dict[str, Any] = {"category": entry.category}
    if entry.with_reason:
        data["reason"] = entry.reason
    data["outcomes"] = entry.outcomes
    data["totals"] = entry.totals
    return data


def summary_csv_response(projects: list[tuple[int, str, list[SummaryEntry]]]) -> HttpResponse:
    """stats-summary as CSV: one row per project, ``project_id``, ``project_slug``, then for
    every category present in any project ``<outcome>_<category>s``, ``dropped_<category>s``
    (when listed) and ``<field>_<category>s``."""
    columns: dict[str, None] = {}
    rows = []
    for project_id, slug, entries in projects:
        row: dict[str, Any] = {"project_id": project_id, "project_slug": slug}
        for entry in entries:
            plural = f"{entry.category}s"
            for name, value in (*entry.outcomes.items(), *entry.totals.items()):
                column = f"{name}_{plural}"
                columns.setdefault(column)
                row[column] = row.get(column, 0) + value
        rows.append(row)
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="stats_summary.csv"'
    writer = csv.DictWriter(
        response, fieldnames=["project_id", "project_slug", *columns], restval=0
    )
    writer.writeheader()
    writer.writerows(rows)
    return response
