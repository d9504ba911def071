"""The reads behind the admin's usage pages, through the API's own selectors and models (the
same TSDB models, windows and category merging as the stats endpoints)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from organizations.models import Organization, Project, ProjectKey
from usage.catalogue import Scope, Total
from usage.outcomes import outcome_totals_by_category_get
from usage.selectors import Series, legacy_series_get, legacy_sums_get, query_window

LEGACY_STATS = (Total.received, Total.rejected, Total.blacklisted)


def legacy_series(
    obj: Organization | Project | ProjectKey, *, start: datetime, end: datetime, rollup: int
) -> dict[str, Series]:
    """``{"received": [(ts, count), ...], "rejected": ..., "blacklisted": ...}`` of an
    organization, project or DSN key, in one TSDB read. Raises TSDBUnavailable."""
    if isinstance(obj, Organization):
        scope = Scope.organization
    elif isinstance(obj, Project):
        scope = Scope.project
    else:
        scope = Scope.key
    window = query_window(start=start, end=end, rollup=rollup)
    series = legacy_series_get(scope=scope, totals=LEGACY_STATS, object_id=obj.pk, window=window)
    return {total.value: points for total, points in series.items()}


def outcomes_by_category(
    obj: Organization | Project, *, start: datetime, end: datetime
) -> dict[str, dict[str, int]]:
    """``{category: {outcome: quantity}}`` over the window (stats_v2's ``sum(quantity)``
    grouped by category and outcome), for an organization or one project; only non-zero
    entries, categories sorted. Raises TSDBUnavailable."""
    if isinstance(obj, Organization):
        organization, project_ids = obj, None
    else:
        organization, project_ids = obj.organization, [obj.pk]
    totals = outcome_totals_by_category_get(
        organization=organization,
        window=query_window(start=start, end=end),
        project_ids=project_ids,
    )
    result = {
        category: {outcome: n for outcome, n in outcomes.items() if n}
        for category, outcomes in totals.items()
    }
    return {category: outcomes for category, outcomes in sorted(result.items()) if outcomes}


@dataclass(frozen=True)
class Totals:
    organization_received: dict[int, int]
    organization_rejected: dict[int, int]
    project_received: dict[int, int]
    project_rejected: dict[int, int]


def totals(
    *,
    organization_ids: Iterable[int],
    project_ids: Iterable[int],
    start: datetime,
    end: datetime,
) -> Totals:
    """Received and rejected totals of every given organization and project over the window.
    Raises TSDBUnavailable."""
    organization_ids, project_ids = list(organization_ids), list(project_ids)
    window = query_window(start=start, end=end)

    def sums(scope: Scope, total: Total, ids: list[int]) -> dict[int, int]:
        return legacy_sums_get(scope=scope, total=total, ids=ids, window=window)

    return Totals(
        organization_received=sums(Scope.organization, Total.received, organization_ids),
        organization_rejected=sums(Scope.organization, Total.rejected, organization_ids),
        project_received=sums(Scope.project, Total.received, project_ids),
        project_rejected=sums(Scope.project, Total.rejected, project_ids),
    )
