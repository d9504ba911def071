"""Stats read path: the stats endpoints under gunicorn (2 sync workers) driven by wrk, each case
beside a bare DRF view answering 24 pairs in the same server and run; plus the Redis memory
that a day of counters of 1,000 projects takes.

    .venv/bin/python bench/stats_bench.py [--seconds 5] [--rounds 3] [--connections 16]
                                          [--case NAME ...] [--no-memory]

Starts its own redis-server on a free 127.0.0.1 port (the memory figures are then this run's
alone) and a throwaway PostgreSQL database (``DATABASE_URL``'s server, default
postgres://postgres@127.0.0.1:5432), both removed at the end. Data: organization ``bench``
(one project, 90 days of hourly counts), ``big`` (1,000 projects, 24 hourly counts each) and
``usage`` (50 projects, each with one DSN key recording 10 outcome combinations every hour for
90 days, written as ingest writes them), all read with one owner's personal token (the
costliest credential: token and membership).

Each case alternates with the baseline for ``--rounds`` rounds of ``--seconds``; the table shows
the median round of each, its p50/p99, and the ratio case / baseline of those medians. The
``stats_v2`` cases run at 1 connection (their targets are latencies) beside a 1-connection
baseline.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path[:0] = [str(BENCH), str(ROOT)]

from harness import (  # noqa: E402
    gunicorn,
    median_run,
    private_redis,
    require_wrk,
    run_wrk,
    server_env,
)
from ingest_bench import envelope_body  # noqa: E402
from redis_memory import memory_per_1000_projects  # noqa: E402

LUA = BENCH / "stats_get.lua"
INGEST_LUA = BENCH / "ingest_envelope.lua"
HOUR = 3600
DAY = 86_400
BASELINE = "/bench/baseline/"
# (category, outcome, reason): the 10 outcome combinations of each project of `usage`.
COMBINATIONS = [
    ("error", "accepted", None),
    ("error", "filtered", "web-crawlers"),
    ("error", "rate_limited", "key_quota"),
    ("error", "client_discard", "sample_rate"),
    ("transaction", "accepted", None),
    ("transaction", "client_discard", "sample_rate"),
    ("attachment", "accepted", None),
    ("session", "accepted", None),
    ("span", "accepted", None),
    ("replay", "invalid", "too_large"),
]


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    connections: int | None = None  # None: --connections
    ingest: bool = False  # POST an envelope (ingest_envelope.lua) instead of a GET


def cases(now: int, ingest_project: int) -> list[Case]:
    since = now - 90 * DAY
    window = f"since={since}&until={now}"
    v2 = "field=sum(quantity)&groupBy=outcome&groupBy=category&statsPeriod=90d"
    return [
        Case("organization stats, bare (24 hourly points)", "/api/0/organizations/bench/stats/"),
        Case(
            "organization stats, 90 days at 1h (2,161 points)",
            f"/api/0/organizations/bench/stats/?{window}&resolution=1h",
        ),
        Case(
            "organization stats, 90 days at 1d (91 points)",
            f"/api/0/organizations/bench/stats/?{window}&resolution=1d",
        ),
        Case(
            "organization stats, group=project, 1,000 projects x 24 points",
            "/api/0/organizations/big/stats/?group=project",
        ),
        Case("project stats, bare (24 hourly points)", "/api/0/projects/bench/web/stats/"),
        Case(
            "stats_v2, 90 days at 1d, 50 projects x 10 combinations (1 connection)",
            f"/api/0/organizations/usage/stats_v2/?{v2}&interval=1d",
            connections=1,
        ),
        Case(
            "stats_v2, 90 days at 1h, 50 projects x 10 combinations (1 connection)",
            f"/api/0/organizations/usage/stats_v2/?{v2}&interval=1h",
            connections=1,
        ),
        # Not a stats case: what one event costs Redis, for the scaling estimate (its ratio to
        # its own baseline is bench/ingest_bench.py's).
        Case(
            "ingest, envelope with 1 error event", f"/api/{ingest_project}/envelope/", ingest=True
        ),
    ]


# -- services ---------------------------------------------------------------------------------


@contextlib.contextmanager
def throwaway_database() -> Iterator[str]:
    """A new empty PostgreSQL database on DATABASE_URL's server; dropped afterwards."""
    import psycopg2

    server = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(server)
    name = f"bench_stats_{uuid.uuid4().hex[:12]}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.close()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + sys) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def workers_cpu(master: int) -> float:
    """CPU seconds used so far by the gunicorn master's workers (its child processes)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sum(process_cpu(int(pid)) for pid in children)


class Meter:
    """CPU seconds of Redis and of the gunicorn workers, and Redis commands processed, summed
    over measured spans. CPU time per request hardly depends on what else the machine runs,
    unlike requests per second: it is the figure the scaling estimate uses."""

    def __init__(self, url: str, master: int) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.master = master
        self.reset()

    def reset(self) -> None:
        self.cpu = 0.0
        self.commands = 0
        self.web_cpu = 0.0

    def _sample(self) -> tuple[float, int]:
        info = self.client.info()
        return info["used_cpu_user"] + info["used_cpu_sys"], int(info["total_commands_processed"])

    def wait_idle(self) -> None:
        """Until the workers stop using CPU: the requests wrk left in flight at its deadline
        (one per connection) are done."""
        last = workers_cpu(self.master)
        while True:
            time.sleep(0.3)
            now = workers_cpu(self.master)
            if now - last < 0.02:
                return
            last = now

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        """CPU of one wrk run, including the requests in flight at its deadline (counted by
        the caller: one per connection)."""
        self.wait_idle()
        cpu, commands = self._sample()
        web = workers_cpu(self.master)
        yield
        self.wait_idle()
        self.web_cpu += workers_cpu(self.master) - web
        cpu_after, commands_after = self._sample()
        self.cpu += cpu_after - cpu
        self.commands += commands_after - commands - 1  # less our own INFO


# -- data -------------------------------------------------------------------------------------


def load_data(now: int) -> tuple[str, int, str]:
    """The organizations, projects, token and counts of the cases; returns the token, the
    project id and public key of `bench/web`'s DSN key."""
    from django.contrib.auth import get_user_model

    import tsdb
    from organizations import services
    from organizations.models import Project, ProjectKey
    from tsdb.base import TSDBModel
    from usage import registry
    from usage.writer import KeyIdentity, UsageWriter

    owner = get_user_model().objects.create_user(username="bench-owner")
    bench = services.organization_create(slug="bench", owner=owner)
    web = services.project_create(organization=bench, slug="web")
    big = services.organization_create(slug="big", owner=owner)
    Project.objects.bulk_create(
        Project(organization=big, slug=f"p{index:04d}", name=f"P{index:04d}")
        for index in range(1000)
    )
    usage = services.organization_create(slug="usage", owner=owner)
    Project.objects.bulk_create(
        Project(organization=usage, slug=f"u{index:02d}", name=f"U{index:02d}")
        for index in range(50)
    )
    _, plaintext = services.api_token_create(user=owner, scopes=["org:read", "project:read"])

    hours = [now - HOUR * age for age in range(90 * 24)]
    tsdb.backend.incr_multi(
        [(model, key, ts, 1 + ts % 7)
         for ts in hours
         for model, key in ((TSDBModel.organization_total_received, bench.pk),
                            (TSDBModel.project_total_received, web.pk))]
    )  # fmt: skip
    big_ids = list(Project.objects.filter(organization=big).values_list("pk", flat=True))
    tsdb.backend.incr_multi(
        [
            (TSDBModel.project_total_received, pk, ts, 1 + pk % 5)
            for pk in big_ids
            for ts in hours[:24]
        ]
    )
    # `usage`: every project records its 10 combinations every hour for 90 days, through one
    # DSN key, written as ingest writes them (key and organization scope; usage.writer).
    for project in Project.objects.filter(organization=usage):
        key = ProjectKey.objects.create(project=project)
        writer = UsageWriter(KeyIdentity(usage.pk, project.pk, key.pk))
        for category, outcome, reason in COMBINATIONS:
            writer.outcome(category, outcome, reason, 3)
        items = writer.tsdb_items()
        tsdb.backend.incr_multi(
            [(model, series, ts, count) for ts in hours for model, series, _, count in items]
        )
        registry.get_registry().add(usage.pk, [c.member for c in writer.combinations])
    web_key = web.keys.get()
    return plaintext, web.pk, web_key.public_key


def format_vs_read(now: int, repeat: int = 200) -> str:
    """In this process: the median time to read `bench`'s 90 days at 1h (2,161 points) from
    Redis, and to write them as the response body, side by side."""
    import statistics
    from datetime import UTC, datetime

    import tsdb
    from organizations.models import Organization
    from tsdb.base import TSDBModel
    from usage.selectors import StatsSeries
    from usage.serializers import _series_format, series_json

    pk = Organization.objects.get(slug="bench").pk
    model = TSDBModel.organization_total_received
    start, end = datetime.fromtimestamp(now - 90 * DAY, UTC), datetime.fromtimestamp(now, UTC)

    def read() -> StatsSeries:
        columns = tsdb.backend.get_columns([model], [pk], start, end, rollup=HOUR, now=now)
        return StatsSeries(columns.timestamps, columns.counts[model][pk])

    series = read()

    def median_us(call: Any) -> float:
        timings = []
        for _ in range(repeat):
            began = time.perf_counter()
            call()
            timings.append(time.perf_counter() - began)
        return statistics.median(timings) * 1e6

    read_us = median_us(read)
    write_us = median_us(lambda: series_json(series))

    def write_cold() -> None:
        _series_format.cache_clear()
        series_json(series)

    cold_us = median_us(write_cold)
    return (
        f"90 days at 1h ({len(series.counts):,} points), in process: Redis read (tsdb "
        f"get_columns) {read_us:,.0f} µs; response body written {write_us:,.0f} µs with the "
        f"window's format cached ({write_us / read_us:.2f} of the read), {cold_us:,.0f} µs "
        f"without ({cold_us / read_us:.2f})"
    )


# -- wrk ----------------------------------------------------------------------------------------


def wrk_run(
    base: str, path: str, auth: str, seconds: int, connections: int, *, ingest: str = ""
) -> dict[str, Any]:
    """One wrk run: GET ``path`` with ``auth``, or with ``ingest`` (an envelope file) POST it
    with ``auth`` as the DSN's X-Sentry-Auth."""
    env = {"BENCH_PATH": path, "BENCH_AUTH": auth}
    if ingest:
        return run_wrk(base, INGEST_LUA, {**env, "BENCH_BODY_FILE": ingest}, seconds, connections)
    return run_wrk(base, LUA, env, seconds, connections)


def status_of(base: str, path: str, auth: str) -> int:
    import http.client

    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("GET", path, headers={"Authorization": auth})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def table_row(case: Case, baseline: dict[str, Any], row: dict[str, Any]) -> str:
    ratio = f"{row['rps'] / baseline['rps']:.2f}" if baseline["rps"] else "n/a"
    return (
        f"| {case.name} | {row['rps']:,.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
        f"| {baseline['rps']:,.0f} | {baseline['p50_ms']:.1f} / {baseline['p99_ms']:.1f} "
        f"| {ratio} | {row['web_us']:,.0f} | {baseline['web_us']:,.0f} "
        f"| {baseline['web_us'] / row['web_us']:.2f} "
        f"| {row['redis_us']:,.0f} | {row['redis_commands']:,.1f} "
        f"| {', '.join(f'{n:,}' for n in row['all_rps'])} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="per round and endpoint")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--case", action="append", help="only cases whose name contains this")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    parser.add_argument("--memory-only", action="store_true", help="only the memory measurement")
    args = parser.parse_args()
    require_wrk()

    workdir = Path(tempfile.mkdtemp(prefix="stats-bench-"))
    results: list[tuple[Case, dict[str, Any], dict[str, Any]]] = []
    skipped: list[str] = []
    memory: dict[str, int] | None = None
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        if args.memory_only:
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stats_bench_settings")
            import django

            django.setup()
            memory = memory_per_1000_projects(stack.enter_context(private_redis(workdir)))
            print(memory_line(memory))
            return
        redis_url = stack.enter_context(private_redis(workdir))
        database_url = stack.enter_context(throwaway_database())
        env = server_env(
            settings="stats_bench_settings",
            database_url=database_url,
            redis_url=redis_url,
            prefix="",
        )
        os.environ.update(env)

        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0, interactive=False)
        now = int(time.time())
        started = time.monotonic()
        token, ingest_project, public_key = load_data(now)
        print(f"data loaded in {time.monotonic() - started:.0f} s", file=sys.stderr)
        format_line = format_vs_read(now)
        print(format_line, file=sys.stderr)
        connections.close_all()
        auth = f"Bearer {token}"
        base, server = stack.enter_context(gunicorn(env, args.workers))

        selected = [
            case
            for case in cases(now, ingest_project)
            if not args.memory_only
            and (not args.case or any(part in case.name for part in args.case))
        ]
        body_file = workdir / "envelope.bin"
        body_file.write_bytes(envelope_body())
        sentry_auth = f"Sentry sentry_key={public_key}, sentry_version=7, sentry_client=bench/1.0"
        meter = Meter(redis_url, server.pid)
        baseline_meter = Meter(redis_url, server.pid)
        for case in selected:

            def wrk(path: str, seconds: int, connections: int, case: Case = case) -> Any:
                if path == BASELINE or not case.ingest:
                    return wrk_run(base, path, auth, seconds, connections)
                return wrk_run(base, path, sentry_auth, seconds, connections, ingest=str(body_file))

            if not case.ingest:
                status = status_of(base, case.path, auth)
                if status != 200:
                    raise SystemExit(f"{case.name}: {case.path} answers {status}, not 200")
            connections_ = case.connections or args.connections
            # Warm-up: imports, caches and connections in both workers.
            wrk(case.path, 2, connections_)
            wrk(BASELINE, 2, connections_)
            rounds: dict[str, list[dict[str, Any]]] = {"baseline": [], "case": []}
            meter.reset()
            baseline_meter.reset()
            for _ in range(args.rounds):
                with baseline_meter.measure():
                    rounds["baseline"].append(wrk(BASELINE, args.seconds, connections_))
                with meter.measure():
                    rounds["case"].append(wrk(case.path, args.seconds, connections_))
            baseline, measured = median_run(rounds["baseline"]), median_run(rounds["case"])
            if not measured["requests"]:
                # A machine too busy for one answer per round: say so, go on with the others.
                skipped.append(f"{case.name}: no request completed within a {args.seconds} s round")
                print(f"skipped: {skipped[-1]}", file=sys.stderr)
                continue
            if measured["non2xx"] or baseline["non2xx"]:
                raise SystemExit(f"{case.name}: non-2xx answers ({measured['non2xx']})")
            # Served: what wrk read, plus the one request per connection in flight at each
            # round's deadline (finished by the server within the measurement).
            served = measured["requests"] + connections_ * args.rounds
            measured["redis_us"] = meter.cpu / served * 1e6
            measured["redis_commands"] = meter.commands / served
            measured["web_us"] = meter.web_cpu / served * 1e6
            served = baseline["requests"] + connections_ * args.rounds
            baseline["web_us"] = baseline_meter.web_cpu / served * 1e6
            results.append((case, baseline, measured))
            print(
                table_row(case, baseline, measured), file=sys.stderr
            )  # kept if a later case fails

        if not args.no_memory:
            memory_url = stack.enter_context(private_redis(workdir))
            memory = memory_per_1000_projects(memory_url)
            print(memory_line(memory), file=sys.stderr)

    print(
        f"gunicorn {args.workers} sync workers, wrk {args.connections} connections "
        f"(unless stated), {args.rounds} alternating rounds of {args.seconds} s per case and "
        f"baseline (median round shown); baseline: a bare DRF view answering 24 pairs. "
        f"CPU: user + sys time of the gunicorn workers and of Redis per request, over all "
        f"rounds (CPU ratio: baseline worker CPU / case worker CPU)."
    )
    print()
    print(
        "| case | req/s | p50 ms | p99 ms | baseline req/s | baseline p50 / p99 ms | ratio "
        "| worker CPU µs/req | baseline worker CPU µs/req | CPU ratio "
        "| Redis CPU µs/req | Redis commands/req | rounds (req/s) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for case, baseline, row in results:
        print(table_row(case, baseline, row))
    for line in skipped:
        print(f"\nskipped: {line}")
    print()
    print(format_line)
    if memory is not None:
        print()
        print(memory_line(memory))


def memory_line(memory: dict[str, int]) -> str:
    return (
        f"Redis memory (INFO used_memory, a Redis of its own), 1,000 projects with a count "
        f"in every bucket any rollup keeps for a day ({memory['writes']} writes of one "
        f"accepted error event per project): {memory['day'] / 2**20:.1f} MiB; each further "
        f"day of hourly buckets: {memory['next_day'] / 2**20:.1f} MiB"
    )


if __name__ == "__main__":
    main()
