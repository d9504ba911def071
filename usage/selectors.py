"""Reads of the counters: the v1 stats series, and the series of one organization, project or
DSN key for other readers (the admin).

Every read takes the request's ``QueryWindow`` and passes its ``now`` to the TSDB, which picks
the buckets, zero-fills and aligns them; these functions only choose models and keys from the
catalogue and combine series (summed for teams).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final, NamedTuple

import tsdb
from organizations.access import Access
from organizations.models import Organization, Project, ProjectKey, Team
from organizations.selectors import project_ids_visible, team_project_ids
from tsdb import TSDBModel
from usage.catalogue import (
    FILTER_COUNTERS,
    GENERATED,
    KEY_ACCEPTED_KINDS,
    LEGACY_TOTALS,
    OUTCOME_MODELS,
    UNCOUNTED_FILTER_STATS,
    Field,
    Scope,
    Total,
    outcome_series_key,
)
from usage.window import QueryWindow, request_now

Series = list[tuple[int, int]]
"""``[(bucket_ts, count), ...]``: ascending, zero-filled."""


class StatsSeries(NamedTuple):
    """One v1 stats series in columns: the window's bucket timestamps (ascending) and one
    count per timestamp (zero-filled). Views format it (``usage.serializers``) without a
    pair per point."""

    timestamps: list[int]
    counts: list[int]


class StatsSeriesByKey(NamedTuple):
    """Several v1 stats series of one window: the timestamps once, and per key (project id)
    one count per timestamp."""

    timestamps: list[int]
    counts: dict[int, list[int]]


LEGACY_STAT_TOTALS: Final = (Total.received, Total.rejected, Total.blacklisted)

# `stat` query values -> the TSDB model each reads.
ORGANIZATION_STATS: Final[Mapping[str, TSDBModel]] = {
    total.value: LEGACY_TOTALS[Scope.organization, total] for total in LEGACY_STAT_TOTALS
}
PROJECT_STATS: Final[Mapping[str, TSDBModel]] = {
    **{total.value: LEGACY_TOTALS[Scope.project, total] for total in LEGACY_STAT_TOTALS},
    "generated": GENERATED,
    **{inbound_filter.value: model for inbound_filter, model in FILTER_COUNTERS.items()},
}
PROJECT_STAT_CHOICES: Final = (*PROJECT_STATS, *UNCOUNTED_FILTER_STATS)
# `group=project` of organization stats: the project totals and `generated`.
ORGANIZATION_PROJECT_STATS: Final[Mapping[str, TSDBModel]] = {
    stat: PROJECT_STATS[stat] for stat in ("received", "rejected", "blacklisted", "generated")
}
TEAM_STATS: Final[Mapping[str, TSDBModel]] = {
    "generated": GENERATED,
    "received": LEGACY_TOTALS[Scope.project, Total.received],
    "rejected": LEGACY_TOTALS[Scope.project, Total.rejected],
}
KEY_STATS: Final[Mapping[str, TSDBModel]] = {
    "total": LEGACY_TOTALS[Scope.key, Total.received],
    "dropped": LEGACY_TOTALS[Scope.key, Total.rejected],
    "filtered": LEGACY_TOTALS[Scope.key, Total.blacklisted],
}
"""Key stats fields -> the key's counters. ``accepted`` is read from the key's accepted
outcomes (``KEY_ACCEPTED_KINDS``): deriving it as ``total - dropped - filtered`` would report
lost ``dropped`` counts as accepted."""


def query_window(*, start: datetime, end: datetime, rollup: int | None = None) -> QueryWindow:
    """A window for callers outside a request (the admin): the clock read once, ``rollup``
    (seconds; a kept rollup or a multiple of one) or the finest one that still holds the
    window. ValueError for ``start > end`` or a bad rollup, TSDBLimitExceeded past the caps."""
    backend = tsdb.backend
    now, _ = request_now(backend)
    if rollup is None:
        rollup = backend.get_optimal_rollup(start, end, now=now)
    backend.check_limits(start, end, rollup, now=now)
    return QueryWindow(start=start, end=end, rollup=rollup, now=now)


def stats_series_get(
    *, model: TSDBModel, keys: Iterable[int], window: QueryWindow
) -> StatsSeriesByKey:
    """One series per key, in one read: the last bucket ``floor(end / rollup) * rollup``.
    Raises TSDBUnavailable when the TSDB is down; reads nothing without keys."""
    keys = list(keys)
    backend = tsdb.backend
    if not keys:
        return StatsSeriesByKey(backend.get_series(window.start, window.end, window.rollup), {})
    columns = backend.get_columns(
        (model,), keys, window.start, window.end, rollup=window.rollup, now=window.now
    )
    return StatsSeriesByKey(columns.timestamps, columns.counts[model])


def zero_series(*, window: QueryWindow) -> StatsSeries:
    """The window's buckets, every count 0. Reads nothing."""
    timestamps = tsdb.backend.get_series(window.start, window.end, window.rollup)
    return StatsSeries(timestamps, [0] * len(timestamps))


def sum_series(series: StatsSeriesByKey) -> StatsSeries:
    """Point-by-point sum of every key's series (summed in C, column by column)."""
    rows = list(series.counts.values())
    if not rows:
        return StatsSeries(series.timestamps, [0] * len(series.timestamps))
    return StatsSeries(series.timestamps, list(map(sum, zip(*rows, strict=True))))


def legacy_series_get(
    *, scope: Scope, totals: Iterable[Total], object_id: int, window: QueryWindow
) -> dict[Total, Series]:
    """The legacy ``totals`` series of one organization, project or DSN key (by ``scope``)
    over ``window`` (``query_window``), in one read: the selector the admin's charts read."""
    models = {total: LEGACY_TOTALS[scope, total] for total in totals}
    series = tsdb.backend.get_range_multi(
        models.values(), [object_id], window.start, window.end, window.rollup, now=window.now
    )
    return {total: series[model][object_id] for total, model in models.items()}


def legacy_sums_get(
    *, scope: Scope, total: Total, ids: Iterable[int], window: QueryWindow
) -> dict[int, int]:
    """The legacy ``total`` of each organization, project or DSN key (by ``scope``) summed
    over ``window``, keyed by id."""
    ids = list(ids)
    if not ids:
        return {}
    return tsdb.backend.get_sums(
        LEGACY_TOTALS[scope, total], ids, window.start, window.end, window.rollup, now=window.now
    )


def organization_stats_get(
    *,
    organization: Organization,
    stat: str,
    window: QueryWindow,
    ids: frozenset[int] | None = None,
) -> StatsSeries | None:
    """The organization's series of ``stat`` (a key of ORGANIZATION_STATS); None when ``ids``
    excludes the organization."""
    if ids is not None and organization.pk not in ids:
        return None
    series = stats_series_get(model=ORGANIZATION_STATS[stat], keys=[organization.pk], window=window)
    return StatsSeries(series.timestamps, series.counts[organization.pk])


def organization_project_stats_get(
    *,
    access: Access,
    stat: str,
    window: QueryWindow,
    project_ids: frozenset[int] | None = None,
    ids: frozenset[int] | None = None,
) -> StatsSeriesByKey:
    """Series of ``stat`` (a key of ORGANIZATION_PROJECT_STATS) per visible project of the
    organization (``group=project``), optionally only those in ``project_ids`` and in ``ids``;
    invisible ids are silently left out. Keyed by project id."""
    keys = [
        pk
        for pk in project_ids_visible(access=access)
        if (project_ids is None or pk in project_ids) and (ids is None or pk in ids)
    ]
    return stats_series_get(model=ORGANIZATION_PROJECT_STATS[stat], keys=keys, window=window)


def project_stats_get(*, project: Project, stat: str, window: QueryWindow) -> StatsSeries:
    """The project's series of ``stat`` (one of PROJECT_STAT_CHOICES); zeros for the keys
    nothing counts (UNCOUNTED_FILTER_STATS)."""
    if stat not in PROJECT_STATS:
        return zero_series(window=window)
    series = stats_series_get(model=PROJECT_STATS[stat], keys=[project.pk], window=window)
    return StatsSeries(series.timestamps, series.counts[project.pk])


def team_stats_get(
    *, access: Access, team: Team, stat: str, window: QueryWindow
) -> StatsSeries | None:
    """The sum of the ``stat`` series (a key of TEAM_STATS) of the team's projects visible to
    ``access``; None when it has none."""
    keys = team_project_ids(team_id=team.pk)
    if not access.has_global_access:
        keys = keys.intersection(project_ids_visible(access=access))
    if not keys:
        return None
    return sum_series(stats_series_get(model=TEAM_STATS[stat], keys=keys, window=window))


def project_key_stats_get(*, key: ProjectKey, window: QueryWindow) -> list[dict[str, int]]:
    """Per bucket: ``total``, ``dropped``, ``filtered`` (the key's counters, KEY_STATS) and
    ``accepted`` (the key's accepted outcomes of the error categories), all in one read."""
    accepted_model = OUTCOME_MODELS[Scope.key, Field.quantity]
    accepted_keys = [outcome_series_key(key.pk, kind) for kind in KEY_ACCEPTED_KINDS]
    keys: list[int | str] = [key.pk, *accepted_keys]
    series = tsdb.backend.get_range_multi(
        [*KEY_STATS.values(), accepted_model],
        keys,
        window.start,
        window.end,
        window.rollup,
        now=window.now,
    )
    columns = {name: series[model][key.pk] for name, model in KEY_STATS.items()}
    accepted = [series[accepted_model][name] for name in accepted_keys]
    return [
        {
            "ts": ts,
            **{name: points[index][1] for name, points in columns.items()},
            "accepted": sum(points[index][1] for points in accepted),
        }
        for index, (ts, _) in enumerate(columns["total"])
    ]
