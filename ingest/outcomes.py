"""Turning a request's decisions into TSDB counts: the legacy totals and stats_v2 outcomes.

``OutcomeRecorder`` collects everything one request counts and hands it to a single
``tsdb.backend.incr_multi`` (one round trip). Legacy totals (``received``, ``rejected``,
``blacklisted``, the filter counters, the ``generated`` series) are kept for error events only,
for the organization, the project and the DSN key. Outcomes (``outcome_quantity`` and
``outcome_times_seen``, keyed by ``tsdb.base.outcome_key``) cover every category.

The outcome keys an organization has used are kept in a set (``ingest.store``) so stats_v2 can
enumerate them without scanning; each process adds a key to it the first time it sees the
key (and again hourly, to renew the set's expiry), inside the quota round trip.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings

import tsdb
from ingest.projectconfig import ProjectConfig
from tsdb.base import INBOUND_FILTER_MODELS, IncrItem, TSDBModel, outcome_key

ACCEPTED = "accepted"
FILTERED = "filtered"
RATE_LIMITED = "rate_limited"
INVALID = "invalid"
CLIENT_DISCARD = "client_discard"

# Envelope item type -> data category. Items of other types get no outcome.
ITEM_CATEGORIES = {
    "event": "error",
    "security": "security",
    "transaction": "transaction",
    "attachment": "attachment",
    "session": "session",
    "sessions": "session",
    "profile": "profile",
    "profile_chunk": "profile_chunk",
    "replay_event": "replay",
    "replay_video": "replay",
    "span": "span",
    "otel_span": "span",
    "check_in": "monitor",
    "log": "log_item",
    "user_report": "user_report_v2",
    "feedback": "feedback",
}
# client report field -> the outcome its entries are recorded as
CLIENT_REPORT_OUTCOMES = {
    "discarded_events": CLIENT_DISCARD,
    "rate_limited_events": RATE_LIMITED,
    "filtered_events": FILTERED,
    "filtered_sampling_events": FILTERED,
}
_NAME_RE = re.compile(r"^[a-z][a-z0-9_.\-]{0,63}$")
MAX_CLIENT_REPORT_ENTRIES = 200
MAX_QUANTITY = 2**31
REGISTRATION_REFRESH_SECONDS = 3600

_registered: dict[tuple[str, str], float] = {}
_registered_lock = threading.Lock()


def item_quantity(item_type: str, headers: dict[str, Any], payload: bytes) -> int:
    """How much of its category an item holds: bytes for attachments, the ``item_count`` of
    item containers (span v2, logs), else 1."""
    if item_type == "attachment":
        return len(payload)
    count = headers.get("item_count")
    if isinstance(count, int) and not isinstance(count, bool) and 0 <= count < MAX_QUANTITY:
        return count
    return 1


def outcome_set_name(organization_id: int) -> str:
    return f"{settings.QUOTAS_PREFIX}outcomes:{organization_id}"


def outcome_set_ttl() -> int:
    """Seconds an organization's outcome set outlives its last addition: the longest retention
    of the configured TSDB backend plus a day, so a combination stays listed while any of its
    counts can still be read."""
    return max(seconds * samples for seconds, samples in tsdb.backend.rollups) + 86_400


class OutcomeRecorder:
    """The counts of one request, for one DSN key."""

    def __init__(self, config: ProjectConfig) -> None:
        self.config = config
        self.items: list[IncrItem] = []
        self.outcomes: dict[str, int] = {}  # outcome key -> quantity
        self.times_seen: dict[str, int] = {}

    def outcome(self, category: str, outcome: str, reason: str | None, quantity: int) -> None:
        key = outcome_key(
            project_id=self.config.project_id, category=category, outcome=outcome, reason=reason
        )
        self.outcomes[key] = self.outcomes.get(key, 0) + quantity
        self.times_seen[key] = self.times_seen.get(key, 0) + 1

    def _legacy(self, suffix: str) -> None:
        config = self.config
        self.items.append((TSDBModel[f"organization_total_{suffix}"], config.organization_id))
        self.items.append((TSDBModel[f"project_total_{suffix}"], config.project_id))
        self.items.append((TSDBModel[f"key_total_{suffix}"], config.key_id))

    def error_accepted(self, category: str, event_timestamp: float) -> None:
        self._legacy("received")
        self.items.append((TSDBModel.project, self.config.project_id, event_timestamp, 1))
        self.outcome(category, ACCEPTED, None, 1)

    def error_filtered(self, category: str, filter_key: str) -> None:
        self._legacy("received")
        self._legacy("blacklisted")
        self.items.append((INBOUND_FILTER_MODELS[filter_key], self.config.project_id))
        self.outcome(category, FILTERED, filter_key, 1)

    def error_rate_limited(self, category: str, reason: str) -> None:
        self._legacy("received")
        self._legacy("rejected")
        self.outcome(category, RATE_LIMITED, reason, 1)

    def client_report(self, report: Any) -> None:
        """Record a client report's discarded quantities (never counted as received).
        Entries of a shape it does not understand are skipped."""
        if not isinstance(report, dict):
            return
        entries = 0
        for field, outcome in CLIENT_REPORT_OUTCOMES.items():
            values = report.get(field)
            if not isinstance(values, list):
                continue
            for entry in values:
                entries += 1
                if entries > MAX_CLIENT_REPORT_ENTRIES or not isinstance(entry, dict):
                    continue
                category, reason = entry.get("category"), entry.get("reason")
                quantity = entry.get("quantity")
                if (
                    isinstance(category, str)
                    and _NAME_RE.match(category)
                    and isinstance(reason, str)
                    and _NAME_RE.match(reason)
                    and isinstance(quantity, int)
                    and not isinstance(quantity, bool)
                    and 0 < quantity < MAX_QUANTITY
                ):
                    self.outcome(category, outcome, reason, quantity)

    def tsdb_items(self) -> list[IncrItem]:
        items = list(self.items)
        for key, quantity in self.outcomes.items():
            items.append((TSDBModel.outcome_quantity, key, None, quantity))
            items.append((TSDBModel.outcome_times_seen, key, None, self.times_seen[key]))
        return items


def unregistered(set_name: str, keys: Iterable[str]) -> list[str]:
    """The outcome keys this process has not added to ``set_name`` within the last hour."""
    now = time.monotonic()
    return [key for key in keys if _registered.get((set_name, key), 0.0) <= now]


def mark_registered(set_name: str, keys: Iterable[str]) -> None:
    expires = time.monotonic() + REGISTRATION_REFRESH_SECONDS
    with _registered_lock:
        if len(_registered) > 100_000:
            _registered.clear()
        for key in keys:
            _registered[(set_name, key)] = expires


def forget_registrations() -> None:
    with _registered_lock:
        _registered.clear()
