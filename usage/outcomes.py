"""Reads of the outcome series: stats_v2 groups, stats-summary per project, and totals by
category for the admin.

A query lists the organization's outcome combinations (``usage.registry``, one set read),
keeps those its filters select, and reads their series in one ``get_columns`` call, at
the cheapest scope that answers it exactly:

- **organization** series (one per category, outcome and reason, whatever the number of
  projects and keys) when the answer does not group by project, ``key_id`` does not filter,
  and every project that recorded the selected outcomes may be counted;
- **key** series otherwise (grouping by project, ``key_id``, a ``project`` filter that leaves
  some out, or a caller who may not see every project that recorded them), summed per
  project.

Only projects the caller may see are ever counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import tsdb
from organizations.access import Access
from organizations.models import Organization, Project
from organizations.selectors import project_ids_visible, project_list_visible
from usage.catalogue import (
    DROPPED_OUTCOMES,
    OUTCOME_MODELS,
    Field,
    Outcome,
    OutcomeKind,
    Scope,
    outcome_series_key,
    reported_category,
)
from usage.outcome_query import OutcomeQuery
from usage.registry import Combination, combinations_get
from usage.window import QueryWindow

GroupKey = tuple[Any, ...]

ALL_OUTCOMES: Final = tuple(outcome.value for outcome in Outcome)


class ProjectNotVisible(Exception):
    """The query names projects the caller may not see (``ids``)."""

    def __init__(self, ids: Iterable[int]) -> None:
        self.ids = sorted(ids)
        super().__init__(f"projects not visible: {self.ids}")


@dataclass(slots=True)
class Selection:
    """The combinations a query reads, and the scope it reads them at."""

    scope: Scope
    # series key -> the combinations it stands for (one at key scope; at organization scope
    # every project's and key's combination of that kind)
    series: dict[str, list[Combination]] = field(default_factory=dict)


def _visible_project_ids(access: Access, requested: frozenset[int] | None) -> set[int]:
    """The project ids counted: visible ones, only those requested if any; ProjectNotVisible
    when a requested id is not visible."""
    visible = set(project_ids_visible(access=access))
    if requested is None:
        return visible
    hidden = requested - visible
    if hidden:
        raise ProjectNotVisible(hidden)
    return set(requested)


def _matches(combination: Combination, query: OutcomeQuery) -> bool:
    kind = combination.kind
    return (
        (query.categories is None or kind.category in query.categories)
        and (query.outcomes is None or kind.outcome in query.outcomes)
        and (query.reasons is None or (kind.reason or "") in query.reasons)
        and (query.key_ids is None or combination.key_id in query.key_ids)
    )


def _scope_id(scope: Scope, combination: Combination, organization_id: int) -> int:
    return organization_id if scope is Scope.organization else combination.key_id


def outcome_selection_get(
    *, organization_id: int, allowed: set[int], query: OutcomeQuery, by_project: bool
) -> Selection:
    """The series to read for ``query`` in the organization, counting only the projects in
    ``allowed`` (see the module docstring for the scope). Raises TSDBUnavailable."""
    selected = [c for c in combinations_get(organization_id=organization_id) if _matches(c, query)]
    recorded = {c.project_id for c in selected}
    if query.key_ids is None and not by_project and recorded <= allowed:
        scope = Scope.organization
    else:
        scope = Scope.key
    selection = Selection(scope)
    for combination in selected:
        if combination.project_id not in allowed:
            continue
        key = outcome_series_key(_scope_id(scope, combination, organization_id), combination.kind)
        selection.series.setdefault(key, []).append(combination)
    return selection


def _read(
    selection: Selection, fields: Sequence[Field], window: QueryWindow
) -> dict[Field, dict[str, list[int]]]:
    """One read: per field, per series key, one count per interval."""
    if not selection.series:
        return {f: {} for f in fields}
    models = {f: OUTCOME_MODELS[selection.scope, f] for f in fields}
    columns = tsdb.backend.get_columns(
        models.values(),
        selection.series,
        window.start,
        window.end,
        rollup=window.rollup,
        now=window.now,
    )
    return {f: columns.counts[model] for f, model in models.items()}


def _sum_rows(rows: list[list[int]], points: int) -> list[int]:
    """Point-by-point sum of ``rows`` (each ``points`` long), column by column in C."""
    if not rows:
        return [0] * points
    if len(rows) == 1:
        return rows[0]
    return list(map(sum, zip(*rows, strict=True)))


def _by_value(name: str, combination: Combination) -> Any:
    kind = combination.kind
    if name == "outcome":
        return kind.outcome
    if name == "category":
        return reported_category(kind.category)
    if name == "reason":
        return kind.reason
    return combination.project_id


def _sort_key(key: GroupKey) -> tuple[tuple[int, Any], ...]:
    return tuple((0, "") if value is None else (1, value) for value in key)


def outcome_stats_get(*, access: Access, query: OutcomeQuery) -> list[dict[str, Any]]:
    """The stats_v2 ``groups`` (the view adds the window's times): ``by``, ``totals`` and
    ``series`` (every series ``len(query.intervals)`` long). Grouped: one
    group per combination of ``by`` values with a count in the window, sorted by them;
    ungrouped: exactly one group ``{"by": {}}``. Raises ProjectNotVisible, TSDBUnavailable."""
    group_by = query.group_by
    selection = outcome_selection_get(
        organization_id=access.organization.pk,
        allowed=_visible_project_ids(access, query.project_ids),
        query=query,
        by_project="project" in group_by,
    )
    counts = _read(selection, query.fields, query.window)
    points = len(query.intervals)
    rows: dict[GroupKey, dict[Field, list[list[int]]]] = {}
    for key, combinations in selection.series.items():
        # At organization scope a key stands for several projects' combinations of one
        # kind; they agree on every `by` value (project is never grouped there).
        group = tuple(_by_value(name, combinations[0]) for name in group_by)
        target = rows.setdefault(group, {f: [] for f in query.fields})
        for f in query.fields:
            target[f].append(counts[f][key])
    if not group_by:
        rows.setdefault((), {f: [] for f in query.fields})
    sums = {
        group: {f: _sum_rows(per_field[f], points) for f in query.fields}
        for group, per_field in rows.items()
    }
    groups = []
    for group in sorted(sums, key=_sort_key):
        series = sums[group]
        totals = {f.value: sum(series[f]) for f in query.fields}
        if group_by and not any(totals.values()):
            continue
        groups.append(
            {
                "by": dict(zip(group_by, group, strict=True)),
                "totals": totals,
                "series": {f.value: series[f] for f in query.fields},
            }
        )
    return groups


@dataclass(frozen=True, slots=True)
class SummaryEntry:
    category: str
    reason: str | None
    with_reason: bool  # the query filtered by reason: the entry names its reason
    outcomes: dict[str, int]
    totals: dict[str, int]


def outcome_summary_get(
    *, access: Access, query: OutcomeQuery
) -> list[tuple[int, str, list[SummaryEntry]]]:
    """stats-summary: per visible project with counts (ordered by id) ``(id, slug, entries)``,
    one entry per category (and reason, with a reason filter) with counts: ``outcomes`` (all
    of them, or the requested ones), ``totals`` with ``dropped`` (invalid + rate_limited +
    cardinality_limited; only when one of the listed outcomes is one) and each field summed
    over every outcome. With two fields, ``outcomes`` and ``dropped`` add both (Sentry's
    rule). Raises ProjectNotVisible, TSDBUnavailable."""
    allowed = _visible_project_ids(access, query.project_ids)
    selection = outcome_selection_get(
        organization_id=access.organization.pk, allowed=allowed, query=query, by_project=True
    )
    counts = _read(selection, query.fields, query.window)
    listed = sorted(query.outcomes) if query.outcomes else list(ALL_OUTCOMES)
    listed = [o for o in ALL_OUTCOMES if o in listed]
    with_reason = query.reasons is not None
    # project -> (category, reason) -> outcome -> field -> total
    found: dict[int, dict[tuple[str, str | None], dict[str, dict[Field, int]]]] = {}
    for key, combinations in selection.series.items():
        combination = combinations[0]
        kind: OutcomeKind = combination.kind
        entry_key = (reported_category(kind.category), kind.reason if with_reason else None)
        per_outcome = found.setdefault(combination.project_id, {}).setdefault(entry_key, {})
        per_field = per_outcome.setdefault(kind.outcome, {f: 0 for f in query.fields})
        for f in query.fields:
            per_field[f] += sum(counts[f][key])
    show_dropped = any(o in DROPPED_OUTCOMES for o in listed)
    projects = {
        project.pk: project.slug
        for project in project_list_visible(access=access).filter(pk__in=found.keys())
        if project.pk in allowed
    }
    answer = []
    for project_id in sorted(projects):
        entries = []
        for (category, reason), per_outcome in sorted(
            found[project_id].items(), key=lambda item: (item[0][0], item[0][1] or "")
        ):
            field_totals = {
                f.value: sum(per_field[f] for per_field in per_outcome.values())
                for f in query.fields
            }
            if not any(field_totals.values()):
                continue
            outcomes = {o: sum(per_outcome.get(o, {}).values()) for o in listed}
            totals: dict[str, int] = {}
            if show_dropped:
                totals["dropped"] = sum(
                    sum(per_outcome.get(o, {}).values()) for o in listed if o in DROPPED_OUTCOMES
                )
            totals.update(field_totals)
            entries.append(SummaryEntry(category, reason, with_reason, outcomes, totals))
        if entries:
            answer.append((project_id, projects[project_id], entries))
    return answer


def outcome_totals_by_category_get(
    *, organization: Organization, window: QueryWindow, project_ids: Iterable[int] | None = None
) -> dict[str, dict[str, int]]:
    """Quantity per reported category and outcome over ``window`` in the organization (all
    its projects, or only ``project_ids``): ``{"error": {"accepted": 12, ...}, ...}``. For
    the admin's charts (build ``window`` with ``usage.selectors.query_window``)."""
    query = OutcomeQuery(
        window=window,
        window_end=int(window.end.timestamp()) + window.rollup,
        intervals=[],
        fields=(Field.quantity,),
        group_by=("category", "outcome"),
        categories=None,
        outcomes=None,
        reasons=None,
        key_ids=None,
        project_ids=None,
    )
    allowed = set(
        Project.objects.filter(organization=organization).values_list("pk", flat=True)
        if project_ids is None
        else project_ids
    )
    selection = outcome_selection_get(
        organization_id=organization.pk, allowed=allowed, query=query, by_project=False
    )
    counts = _read(selection, query.fields, window)
    totals: dict[str, dict[str, int]] = {}
    for key, combinations in selection.series.items():
        kind = combinations[0].kind
        per_category = totals.setdefault(reported_category(kind.category), {})
        per_category[kind.outcome] = per_category.get(kind.outcome, 0) + sum(
            counts[Field.quantity][key]
        )
    return totals
