"""The reads behind the admin's usage pages, through the API's own selectors and models (the
same TSDB models, windows and category merging as the stats endpoints)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import tsdb
from ingest.selectors import outcome_combinations_get
from organizations.models import Organization, Project, ProjectKey
from organizations.selectors import ORGANIZATION_STATS, PROJECT_STATS
from tsdb.base import TSDBModel

Series = list[tuple[int, int]]
LEGACY_STATS = ("received", "rejected", "blacklisted")
KEY_STATS = {
    "received": TSDBModel.key_total_received,
    "rejected": TSDBModel.key_total_rejected,
    "blacklisted": TSDBModel.key_total_blacklisted,
}
# stats_v2 reports error, default and security as one category, error.
MERGED_CATEGORIES = {"default": "error", "security": "error"}


def legacy_series(
    obj: Organization | Project | ProjectKey, *, start: datetime, end: datetime, rollup: int
) -> dict[str, Series]:
    """``{"received": [(ts, count), ...], "rejected": ..., "blacklisted": ...}`` of an
    organization, project or DSN key, in one TSDB read. Raises TSDBUnavailable."""
    if isinstance(obj, Organization):
        models = {stat: ORGANIZATION_STATS[stat] for stat in LEGACY_STATS}
    elif isinstance(obj, Project):
        models = {stat: PROJECT_STATS[stat] for stat in LEGACY_STATS}
    else:
        models = KEY_STATS
    read = tsdb.backend.get_range_multi(models.values(), [obj.pk], start, end, rollup=rollup)
    return {stat: read[model][obj.pk] for stat, model in models.items()}


def outcomes_by_category(
    obj: Organization | Project, *, start: datetime, end: datetime
) -> dict[str, dict[str, int]]:
    """``{category: {outcome: quantity}}`` over the window (stats_v2's ``sum(quantity)``
    grouped by category and outcome), for an organization or one project; only non-zero
    entries, categories sorted. Raises TSDBUnavailable."""
    organization_id = obj.pk if isinstance(obj, Organization) else obj.organization_id
    combinations = outcome_combinations_get(organization_id=organization_id)
    if isinstance(obj, Project):
        combinations = [combo for combo in combinations if combo.project_id == obj.pk]
    if not combinations:
        return {}
    sums = tsdb.backend.get_sums(
        TSDBModel.outcome_quantity, [combo.key for combo in combinations], start, end
    )
    result: dict[str, dict[str, int]] = defaultdict(dict)
    for combo in combinations:
        quantity = sums.get(combo.key, 0)
        if quantity:
            category = MERGED_CATEGORIES.get(combo.category, combo.category)
            result[category][combo.outcome] = result[category].get(combo.outcome, 0) + quantity
    return dict(sorted(result.items()))


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
    backend = tsdb.backend

    def sums(model: TSDBModel, keys: list[int]) -> dict[int, int]:
        return backend.get_sums(model, keys, start, end) if keys else {}

    return Totals(
        organization_received=sums(ORGANIZATION_STATS["received"], organization_ids),
        organization_rejected=sums(ORGANIZATION_STATS["rejected"], organization_ids),
        project_received=sums(PROJECT_STATS["received"], project_ids),
        project_rejected=sums(PROJECT_STATS["rejected"], project_ids),
    )
