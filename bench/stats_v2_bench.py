"""stats_v2 read latency: 50 projects x 10 outcome combinations over 90 days, through the
whole Django stack (token auth, the query, the registry read, the TSDB read, JSON).

    .venv/bin/python bench/stats_v2_bench.py [--requests 20] [--projects 50]

In one process (the Django test client), against the local Redis (REDIS_URL, default
redis://127.0.0.1:6379/0) under a fresh ``bench:stats:<random>:`` prefix deleted at the end,
and a throwaway SQLite database. Each project records 10 (category, outcome, reason)
combinations once a day for 90 days, through ``usage.writer.UsageWriter`` (so at project,
organization and key scope, as ingest writes them). Prints a Markdown table of p50/p90 per
request: the organization-wide query (read at organization scope: 10 series), the same
grouped by project (project scope: 500 series), and v1 organization stats (one series) as the
baseline of the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

from harness import delete_prefix, server_env  # noqa: E402

KINDS = [
    ("error", "accepted", None),
    ("error", "filtered", "web-crawlers"),
    ("error", "rate_limited", "key_quota"),
    ("error", "client_discard", "queue_overflow"),
    ("transaction", "accepted", None),
    ("transaction", "client_discard", "sample_rate"),
    ("attachment", "accepted", None),
    ("span", "accepted", None),
    ("replay", "accepted", None),
    ("session", "accepted", None),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="per query")
    parser.add_argument("--projects", type=int, default=50)
    args = parser.parse_args()

    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    prefix = f"bench:stats:{uuid.uuid4().hex[:12]}:"
    workdir = Path(tempfile.mkdtemp(prefix="stats-bench-"))
    os.environ.update(
        server_env(
            settings="statsapi.settings",
            database_url=f"sqlite:///{workdir / 'bench.sqlite3'}",
            redis_url=redis_url,
            prefix=prefix,
        )
    )
    os.environ.pop("PYTEST_VERSION", None)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    try:
        seed_and_measure(args)
    finally:
        delete_prefix(redis_url, prefix)


def seed_and_measure(args: Any) -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    import tsdb
    from organizations.models import (
        ApiToken,
        Organization,
        OrganizationMember,
        Project,
        ProjectKey,
    )
    from usage import registry
    from usage.writer import KeyIdentity, UsageWriter

    organization = Organization.objects.create(slug="bench", name="Bench")
    user = User.objects.create_user("bench-owner")
    OrganizationMember.objects.create(organization=organization, user=user, role="owner")
    plaintext = ApiToken.generate_plaintext()
    token = ApiToken(user=user, scopes=["org:read"])
    token.set_plaintext(plaintext)
    token.save()

    now = int(time.time())
    started = time.perf_counter()
    for index in range(args.projects):
        project = Project.objects.create(
            organization=organization, slug=f"p{index}", name=f"P{index}"
        )
        key = ProjectKey.objects.create(project=project)
        identity = KeyIdentity(organization.pk, project.pk, key.pk)
        items = []
        members = set()
        for day in range(90):
            writer = UsageWriter(identity)
            for category, outcome, reason in KINDS:
                writer.outcome(category, outcome, reason, 1 + (index + day) % 7)
            items += writer.tsdb_items(now - day * 86_400)
            members.update(c.member for c in writer.combinations)
        tsdb.backend.incr_multi(items)
        registry.get_registry().add(organization.pk, sorted(members))
    seeded = time.perf_counter() - started

    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}
    v2 = "/api/0/organizations/bench/stats_v2/?field=sum(quantity)&statsPeriod=90d"
    queries = [
        ("v1 organization stats, bare (baseline)", "/api/0/organizations/bench/stats/"),
        (
            "stats_v2 groupBy=outcome,category 90d 1d",
            f"{v2}&groupBy=outcome&groupBy=category&interval=1d",
        ),
        (
            "stats_v2 groupBy=outcome,category 90d 1h",
            f"{v2}&groupBy=outcome&groupBy=category&interval=1h",
        ),
        (
            "stats_v2 groupBy=project,category 90d 1d",
            f"{v2}&groupBy=project&groupBy=category&interval=1d",
        ),
        (
            "stats_v2 groupBy=project,category 90d 1h",
            f"{v2}&groupBy=project&groupBy=category&interval=1h",
        ),
    ]
    rows: list[tuple[str, float | None, float | None, str]] = []
    baseline: float | None = None
    for name, url in queries:
        response = client.get(url, **headers)  # warm-up (and a correctness check)
        if response.status_code != 200:
            rows.append((name, None, None, response.content.decode()[:80]))
            continue
        timings = []
        for _ in range(args.requests):
            begin = time.perf_counter()
            response = client.get(url, **headers)
            timings.append((time.perf_counter() - begin) * 1000)
            if response.status_code != 200:
                break
        if response.status_code != 200:
            rows.append((name, None, None, response.content.decode()[:80]))
            continue
        p50 = statistics.median(timings)
        p90 = statistics.quantiles(timings, n=10)[-1]
        baseline = baseline or p50
        rows.append((name, p50, p90, f"{p50 / baseline:.1f}"))

    print(
        f"{args.projects} projects x {len(KINDS)} combinations, 90 days "
        f"(seeded in {seeded:.1f} s), {args.requests} requests each, backend "
        f"{type(tsdb.get_backend()).__name__}\n"
    )
    print("| request | p50 ms | p90 ms | p50 / baseline |")
    print("|---|---:|---:|---:|")
    for name, p50, p90, ratio in rows:
        if p50 is None or p90 is None:
            print(f"| {name} | failed | | {ratio} |")
        else:
            print(f"| {name} | {p50:.1f} | {p90:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
