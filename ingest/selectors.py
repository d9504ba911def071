"""Reads of what ingest recorded: the public read API for ``stats_v2`` (usage stats by outcome,
category and reason), which the spec has ingest record now and the stats endpoints query
later (spec/ingest.md, "Outcomes for stats_v2"). Until that endpoint exists, the ingest tests
read outcomes back through it, as the endpoint will."""

from __future__ import annotations

from typing import NamedTuple

from ingest.outcomes import outcome_set_name
from ingest.store import get_store


class OutcomeCombination(NamedTuple):
    project_id: int
    category: str
    outcome: str
    reason: str | None
    key: str  # the TSDB key of its outcome_quantity / outcome_times_seen counters


def outcome_combinations_get(*, organization_id: int) -> list[OutcomeCombination]:
    """Every (project, category, outcome, reason) the organization has recorded an outcome
    for, sorted; read ``TSDBModel.outcome_quantity`` at each ``key`` for the counts.
    Raises TSDBUnavailable when Redis cannot be reached."""
    combinations = []
    for key in get_store().set_members(outcome_set_name(organization_id)):
        project_id, category, outcome, reason = key.split(":")
        combinations.append(
            OutcomeCombination(int(project_id), category, outcome, reason or None, key)
        )
    return sorted(combinations, key=lambda c: (c.project_id, c.category, c.outcome, c.reason or ""))
