"""Turning a request's decisions into counts, through ``usage``'s typed writer.

``OutcomeRecorder`` is ``usage.writer.UsageWriter`` for one DSN key's request, plus what only
ingest understands: client reports. The outcome combinations a request writes are added to
their organization's registry (``usage.registry``) inside the quota round trip.
"""

from __future__ import annotations

import re
from typing import Any

from ingest.projectconfig import ProjectConfig
from usage.catalogue import Outcome
from usage.writer import KeyIdentity, UsageWriter

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
    "discarded_events": Outcome.client_discard,
    "rate_limited_events": Outcome.rate_limited,
    "filtered_events": Outcome.filtered,
    "filtered_sampling_events": Outcome.filtered,
}
_NAME_RE = re.compile(r"^[a-z][a-z0-9_.\-]{0,63}$")
MAX_QUANTITY = 2**31


def item_quantity(item_type: str, headers: dict[str, Any], payload: bytes) -> int:
    """How much of its category an item holds: bytes for attachments, the ``item_count`` of
    item containers (span v2, logs), else 1."""
    if item_type == "attachment":
        return len(payload)
    count = headers.get("item_count")
    if isinstance(count, int) and not isinstance(count, bool) and 0 <= count < MAX_QUANTITY:
        return count
    return 1


class OutcomeRecorder(UsageWriter):
    """The counts of one request, for one DSN key."""

    def __init__(self, config: ProjectConfig) -> None:
        super().__init__(
            KeyIdentity(
                organization_id=config.organization_id,
                project_id=config.project_id,
                key_id=config.key_id,
            )
        )
        self.config = config

    def client_report(self, report: Any) -> None:
        """Record a client report's discarded quantities (never counted as received).
        Entries of a shape it does not understand are skipped. How many entries a report may
        hold is ``ingest.envelope.client_report``'s rule: it drops larger reports unparsed."""
        if not isinstance(report, dict):
            return
        for field, outcome in CLIENT_REPORT_OUTCOMES.items():
            values = report.get(field)
            if not isinstance(values, list):
                continue
            for entry in values:
                if not isinstance(entry, dict):
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
