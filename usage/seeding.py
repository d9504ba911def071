"""Demo data: sample counts written through the typed writer, as ingest would have written them.

``demo_seed`` creates (or reuses) the demo organization, project, DSN key, user and a new token
(``organizations.services.demo_objects_create``) and fills the last 24 hours with counts:
error events accepted, rate limited (``key_quota``) and filtered (``web-crawlers``), and
accepted transactions, so both the v1 stats and stats_v2 have something to show.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.utils import timezone

import tsdb
from organizations.models import ApiToken, Organization, Project, ProjectKey
from organizations.services import DEMO_SLUG, demo_objects_create
from tsdb.base import IncrItem
from usage import registry
from usage.catalogue import LEGACY_TOTALS, InboundFilter, Outcome, Scope, Total
from usage.registry import Combination
from usage.writer import KeyIdentity, UsageWriter


@dataclass(frozen=True)
class DemoSeed:
    organization: Organization
    project: Project
    key: ProjectKey
    user: User
    token: ApiToken
    plaintext: str
    samples_written: int


def demo_sample(rng: random.Random, when: int, step: int) -> tuple[int, int, int]:
    """(received, rejected, blacklisted) for ``step`` seconds at epoch ``when``: a daily wave
    of about 6 to 30 events a minute, never zero, rejected + blacklisted <= received."""
    per_minute = 18 + 12 * math.sin(2 * math.pi * (when % 86_400) / 86_400)
    received = max(1, round(rng.uniform(0.7, 1.3) * per_minute * step / 60))
    rejected = rng.randint(0, received // 8)
    blacklisted = rng.randint(0, (received - rejected) // 10)
    return received, rejected, blacklisted


def demo_counts_fill(
    *,
    organization: Organization,
    project: Project,
    key: ProjectKey,
    now: datetime | None = None,
    seed: int | None = None,
) -> int:
    """Write sample counts for the last 24 hours in one ``incr_multi``: one sample a minute,
    one every 10 s in the last hour. Each sample is a request's worth of counts through
    ``UsageWriter`` (legacy totals, ``generated``, outcomes at every scope), and three
    transactions per accepted error.

    Hourly buckets of the bare 24-hour window that already hold counts for the project are
    left alone, so running it again does not double them. Returns the samples written.
    """
    backend = tsdb.backend
    now = now or timezone.now()
    now_s = int(now.timestamp())
    hour = 3600
    first_hour = now_s // hour * hour - 23 * hour
    existing = backend.get_range(
        LEGACY_TOTALS[Scope.project, Total.received],
        [project.pk],
        now - timedelta(seconds=86_399),
        now,
        3600,
    )[project.pk]
    filled_hours = {ts for ts, count in existing if count}
    # One sample a minute, then one per 10 s bucket the 10-s rollup still keeps (the last hour).
    fine_start = now_s // 10 * 10 - 359 * 10
    grid = [(when, 60) for when in range(first_hour, fine_start, 60)]
    grid += [(when, 10) for when in range(fine_start, now_s + 1, 10)]
    rng = random.Random(seed)
    identity = KeyIdentity(organization_id=organization.pk, project_id=project.pk, key_id=key.pk)
    items: list[IncrItem] = []
    combinations: set[Combination] = set()
    samples = 0
    for when, step in grid:
        if when // hour * hour in filled_hours:
            continue
        received, rejected, blacklisted = demo_sample(rng, when, step)
        accepted = received - rejected - blacklisted
        writer = UsageWriter(identity)
        if accepted:
            writer.error_accepted("error", when, accepted)
            writer.outcome("transaction", Outcome.accepted, None, 3 * accepted, 3 * accepted)
        if rejected:
            writer.error_rate_limited("error", "key_quota", rejected)
        if blacklisted:
            writer.error_filtered("error", InboundFilter.web_crawlers, blacklisted)
        items += writer.tsdb_items(when)
        combinations.update(writer.combinations)
        samples += 1
    if items:
        registry.get_registry().add(organization.pk, sorted(c.member for c in combinations))
        backend.incr_multi(items)
    return samples


def demo_seed(*, slug: str = DEMO_SLUG, username: str = DEMO_SLUG) -> DemoSeed:
    """The demo objects and a new token (``demo_objects_create``), and 24 hours of sample
    counts (``demo_counts_fill``)."""
    objects = demo_objects_create(slug=slug, username=username)
    samples = demo_counts_fill(
        organization=objects.organization, project=objects.project, key=objects.key
    )
    return DemoSeed(
        objects.organization,
        objects.project,
        objects.key,
        objects.user,
        objects.token,
        objects.plaintext,
        samples,
    )
