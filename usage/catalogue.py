"""The catalogue of counted series: what each TSDB model counts, and how its keys are made.

Every series statsapi keeps is named here once, typed, and looked up by value (never by a
string built at run time):

- **legacy totals** (Sentry's v1 stats): ``received``, ``rejected``, ``blacklisted`` per
  organization, project and DSN key (keyed by that object's id);
  ``received = accepted + rejected + blacklisted`` for error events;
- the project's **generated** series (accepted error events at the event's own timestamp);
- one **inbound-filter counter** per filter key, keyed by project id;
- **outcomes** (stats_v2): for each (category, outcome, reason), a quantity (items, or bytes
  for attachments) and a times-seen count, at two scopes: per DSN key and per organization,
  keyed by ``outcome_series_key``. A project's outcomes are the sum of its keys' series (a
  project has one key or a few); the organization series repeat them without the project and
  key dimensions, so an organization-wide query reads one series per (category, outcome,
  reason) instead of one per key. A key's accepted error events are its ``accepted`` outcomes
  of the error categories (``KEY_ACCEPTED_KINDS``): key stats read them, never a difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from tsdb import TSDBModel


class Scope(StrEnum):
    """Whose counter: the id in a series key is an organization, project or DSN key id."""

    organization = "organization"
    project = "project"
    key = "key"


class Total(StrEnum):
    """The legacy totals of error events."""

    received = "received"
    rejected = "rejected"
    blacklisted = "blacklisted"


LEGACY_TOTALS: Final[Mapping[tuple[Scope, Total], TSDBModel]] = {
    (Scope.organization, Total.received): TSDBModel.organization_total_received,
    (Scope.organization, Total.rejected): TSDBModel.organization_total_rejected,
    (Scope.organization, Total.blacklisted): TSDBModel.organization_total_blacklisted,
    (Scope.project, Total.received): TSDBModel.project_total_received,
    (Scope.project, Total.rejected): TSDBModel.project_total_rejected,
    (Scope.project, Total.blacklisted): TSDBModel.project_total_blacklisted,
    (Scope.key, Total.received): TSDBModel.key_total_received,
    (Scope.key, Total.rejected): TSDBModel.key_total_rejected,
    (Scope.key, Total.blacklisted): TSDBModel.key_total_blacklisted,
}
"""(scope, total) -> its model, keyed by the organization, project or DSN key id."""

GENERATED: Final = TSDBModel.project
"""Accepted error events per project, at the event's own timestamp (Sentry's ``generated``)."""


class InboundFilter(StrEnum):
    """Inbound filter keys, as Sentry names them."""

    ip_address = "ip-address"
    release_version = "release-version"
    error_message = "error-message"
    browser_extensions = "browser-extensions"
    legacy_browsers = "legacy-browsers"
    localhost = "localhost"
    web_crawlers = "web-crawlers"


FILTER_COUNTERS: Final[Mapping[InboundFilter, TSDBModel]] = {
    InboundFilter.ip_address: TSDBModel.project_total_received_ip_address,
    InboundFilter.release_version: TSDBModel.project_total_received_release_version,
    InboundFilter.error_message: TSDBModel.project_total_received_error_message,
    InboundFilter.browser_extensions: TSDBModel.project_total_received_browser_extensions,
    InboundFilter.legacy_browsers: TSDBModel.project_total_received_legacy_browsers,
    InboundFilter.localhost: TSDBModel.project_total_received_localhost,
    InboundFilter.web_crawlers: TSDBModel.project_total_received_web_crawlers,
}
"""Inbound filter -> the per-project counter of the error events it dropped."""

UNCOUNTED_FILTER_STATS: Final = ("forwarded", "invalid-csp", "cors", "discarded-hash")
"""Project-stat keys Sentry accepts that nothing here counts: they read as zeros."""


class Outcome(StrEnum):
    """What became of an item (Sentry's outcome names)."""

    accepted = "accepted"
    filtered = "filtered"
    rate_limited = "rate_limited"
    invalid = "invalid"
    abuse = "abuse"
    client_discard = "client_discard"
    cardinality_limited = "cardinality_limited"


DROPPED_OUTCOMES: Final = frozenset(
    {Outcome.invalid, Outcome.rate_limited, Outcome.cardinality_limited}
)
"""The outcomes stats-summary adds into ``dropped`` (not filtered, not client_discard)."""


class Field(StrEnum):
    """The two outcome aggregates, by their stats_v2 names."""

    quantity = "sum(quantity)"
    times_seen = "sum(times_seen)"


OUTCOME_MODELS: Final[Mapping[tuple[Scope, Field], TSDBModel]] = {
    (Scope.organization, Field.quantity): TSDBModel.organization_outcome_quantity,
    (Scope.organization, Field.times_seen): TSDBModel.organization_outcome_times_seen,
    (Scope.key, Field.quantity): TSDBModel.key_outcome_quantity,
    (Scope.key, Field.times_seen): TSDBModel.key_outcome_times_seen,
}
"""(scope, aggregate) -> the outcome model, keyed by ``outcome_series_key``. Organization and
key scope only: a project's outcomes are its keys' series summed."""

ERROR_CATEGORIES: Final = ("error", "default", "security")
"""Categories stats_v2 reports together as ``error`` (Sentry's rule)."""

CATEGORIES: Final = (
    "error",
    "default",
    "security",
    "transaction",
    "transaction_indexed",
    "attachment",
    "attachment_item",
    "session",
    "span",
    "span_indexed",
    "replay",
    "profile",
    "profile_indexed",
    "profile_duration",
    "profile_duration_ui",
    "profile_chunk",
    "profile_chunk_ui",
    "monitor",
    "monitor_seat",
    "uptime",
    "log_item",
    "log_byte",
    "feedback",
    "user_report_v2",
    "metric_bucket",
)
"""Data categories stats_v2 accepts in ``category`` (lowercase singular, Sentry's names)."""

BYTE_CATEGORIES: Final = frozenset({"attachment", "log_byte"})
"""Categories whose quantity is bytes, not items: a category filter may not mix them with
item categories."""


def reported_category(category: str) -> str:
    """The category stats_v2 reports a stored one as: ``default`` and ``security`` are
    ``error``."""
    return "error" if category in ERROR_CATEGORIES else category


@dataclass(frozen=True, order=True, slots=True)
class OutcomeKind:
    """One (category, outcome, reason) an outcome is recorded under; ``reason`` None when
    there is none. No part contains ``:``."""

    category: str
    outcome: str
    reason: str | None = None

    def __post_init__(self) -> None:
        if any(":" in part for part in (self.category, self.outcome, self.reason or "")):
            raise ValueError(f"outcome parts must not contain ':': {self!r}")


KEY_ACCEPTED_KINDS: Final = tuple(
    OutcomeKind(category, Outcome.accepted.value) for category in ERROR_CATEGORIES
)
"""The outcome kinds whose key series add up to a DSN key's accepted error events."""


def outcome_series_key(scope_id: int, kind: OutcomeKind) -> str:
    """The key of an outcome series of one organization or DSN key (by ``Scope``):
    ``"<id>:<category>:<outcome>:<reason>"``, the reason empty when there is none."""
    return f"{int(scope_id)}:{kind.category}:{kind.outcome}:{kind.reason or ''}"
