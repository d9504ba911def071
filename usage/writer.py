"""The typed writer: every count one request (or one seeding step) makes, in one TSDB write.

``UsageWriter`` collects the counts of one DSN key's request and ``write`` hands them to a
single ``tsdb.backend.incr_multi`` (one round trip). For error events it keeps the legacy
totals (organization, project and key ``received``/``rejected``/``blacklisted``, the filter
counters, the project's ``generated`` series); for every item it records an outcome at the
two scopes of ``usage.catalogue`` (DSN key and organization). ``combinations`` lists the
outcome combinations written, for ``usage.registry``.
"""

from __future__ import annotations

from dataclasses import dataclass

import tsdb
from tsdb import TSDBModel
from tsdb.base import IncrItem, Timestamp
from usage.catalogue import (
    FILTER_COUNTERS,
    GENERATED,
    LEGACY_TOTALS,
    OUTCOME_MODELS,
    Field,
    InboundFilter,
    Outcome,
    OutcomeKind,
    Scope,
    Total,
    outcome_series_key,
)
from usage.registry import Combination


@dataclass(frozen=True, slots=True)
class KeyIdentity:
    """The DSN key a request came through, with its project and organization."""

    organization_id: int
    project_id: int
    key_id: int


class UsageWriter:
    """The counts of one request through one DSN key."""

    def __init__(self, identity: KeyIdentity) -> None:
        self.identity = identity
        # (model, key, timestamp or None for the write's, count)
        self.items: list[tuple[TSDBModel, int, Timestamp | None, int]] = []
        self.outcomes: dict[OutcomeKind, list[int]] = {}  # kind -> [quantity, times seen]

    def combination(self, kind: OutcomeKind) -> Combination:
        return Combination(self.identity.project_id, self.identity.key_id, kind)

    @property
    def combinations(self) -> list[Combination]:
        """The combinations of every outcome recorded so far."""
        return [self.combination(kind) for kind in self.outcomes]

    def outcome(
        self,
        category: str,
        outcome: Outcome | str,
        reason: str | None,
        quantity: int,
        times_seen: int = 1,
    ) -> None:
        """Record ``times_seen`` outcome records adding up to ``quantity`` (items, or bytes for
        attachments)."""
        kind = OutcomeKind(category, str(outcome), reason)
        totals = self.outcomes.get(kind)
        if totals is None:
            self.outcomes[kind] = [quantity, times_seen]
        else:
            totals[0] += quantity
            totals[1] += times_seen

    def outcome_quantities(self) -> list[tuple[str, str, str | None, int]]:
        """``(category, outcome, reason, quantity)`` of every outcome recorded so far."""
        return [
            (kind.category, kind.outcome, kind.reason, totals[0])
            for kind, totals in self.outcomes.items()
        ]

    def _legacy(self, total: Total, count: int) -> None:
        identity = self.identity
        items = self.items
        items.append(
            (LEGACY_TOTALS[Scope.organization, total], identity.organization_id, None, count)
        )
        items.append((LEGACY_TOTALS[Scope.project, total], identity.project_id, None, count))
        items.append((LEGACY_TOTALS[Scope.key, total], identity.key_id, None, count))

    def error_accepted(self, category: str, event_timestamp: Timestamp, count: int = 1) -> None:
        """``count`` error events accepted: received, ``generated`` at the event's own time,
        and an ``accepted`` outcome each (which key stats read as the key's accepted)."""
        self._legacy(Total.received, count)
        self.items.append((GENERATED, self.identity.project_id, event_timestamp, count))
        self.outcome(category, Outcome.accepted, None, count, count)

    def error_filtered(
        self, category: str, filter_key: InboundFilter | str, count: int = 1
    ) -> None:
        """``count`` error events dropped by an inbound filter: received, blacklisted, the
        filter's counter, and a ``filtered`` outcome each, with the filter key as reason."""
        inbound_filter = InboundFilter(filter_key)
        self._legacy(Total.received, count)
        self._legacy(Total.blacklisted, count)
        self.items.append((FILTER_COUNTERS[inbound_filter], self.identity.project_id, None, count))
        self.outcome(category, Outcome.filtered, inbound_filter.value, count, count)

    def error_rate_limited(self, category: str, reason: str, count: int = 1) -> None:
        """``count`` error events refused by a quota: received, rejected, and a
        ``rate_limited`` outcome each, with the quota's reason (``key_quota``,
        ``org_quota``)."""
        self._legacy(Total.received, count)
        self._legacy(Total.rejected, count)
        self.outcome(category, Outcome.rate_limited, reason, count, count)

    def tsdb_items(self, timestamp: Timestamp | None = None) -> list[IncrItem]:
        """Everything recorded, as ``incr_multi`` items; those without a time of their own
        (all but ``generated``) at ``timestamp``, or the write's when None."""
        identity = self.identity
        scopes = ((Scope.key, identity.key_id), (Scope.organization, identity.organization_id))
        items: list[IncrItem] = []
        for model, object_id, when, count in self.items:
            items.append((model, object_id, timestamp if when is None else when, count))
        for kind, (quantity, times_seen) in self.outcomes.items():
            for scope, scope_id in scopes:
                key = outcome_series_key(scope_id, kind)
                items.append((OUTCOME_MODELS[scope, Field.quantity], key, timestamp, quantity))
                items.append((OUTCOME_MODELS[scope, Field.times_seen], key, timestamp, times_seen))
        return items

    def write(self, timestamp: Timestamp | None = None) -> None:
        """Send every count in one ``incr_multi`` at ``timestamp`` (default: now). Raises
        TSDBUnavailable when the store cannot be reached."""
        items = self.tsdb_items()
        if items:
            tsdb.backend.incr_multi(items, timestamp=timestamp)
