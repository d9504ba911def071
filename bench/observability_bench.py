"""Per-request cost of the request log line and the Prometheus metrics
(``statsapi.middleware.RequestObservabilityMiddleware``), in-process.

    .venv/bin/python bench/observability_bench.py [--seconds 3] [--rounds 5]

Runs Django's test client against three endpoints, in alternating rounds with and without the
middleware in ``MIDDLEWARE`` (everything else the same, in one process): ``GET /api/0/`` (the
cheapest API view: the worst case in relative terms), ``GET /api/0/organizations/demo/stats/``
(24 hourly points, in-memory TSDB, SQLite in a temporary directory) and an ingest ``POST`` to
``/api/<id>/store/``. The log lines go to a file, as a server's stderr would, in the plain
format (``--json`` for LOG_FORMAT=json). Prints the median time per request of each side,
the difference (the middleware's cost) and the throughput ratio with / without. Times are
this process's CPU time per request (``time.process_time``): on a machine shared with other
jobs, wall-clock time mostly measures the waiting for a core, CPU time what a request costs.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def setup(directory: str, log_format: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "statsapi.settings",
            "DATABASE_URL": f"sqlite:///{directory}/bench.sqlite3",
            "TSDB_BACKEND": "tsdb.inmemory.InMemoryTSDB",
            "REDIS_URL": "",
            "LOG_FORMAT": log_format,
            "SECRET_KEY": "bench",
            "ALLOWED_HOSTS": "testserver",
        }
    )
    os.environ.pop("PYTEST_VERSION", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # Log lines to a file, as a server's stderr redirected to a file.
    handler = logging.FileHandler(Path(directory) / "requests.log")
    handler.setFormatter(logging.getLogger().handlers[0].formatter)
    logging.getLogger().handlers = [handler]


def middleware_alone(seconds: float, rounds: int) -> tuple[str, float, float]:
    """The middleware around a view that returns a ready response, against that view called
    directly: the middleware's own cost, with little else in the measurement."""
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.urls import resolve

    from statsapi.middleware import RequestObservabilityMiddleware

    request = RequestFactory().get("/api/0/organizations/demo/stats/?stat=received&token=x")
    request.resolver_match = resolve("/api/0/organizations/demo/stats/")
    response = HttpResponse(b"[]", content_type="application/json")

    def view(request: Any) -> HttpResponse:
        return response

    wrapped = RequestObservabilityMiddleware(view)
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for enabled in (True, False):
            call = wrapped if enabled else view
            count, started, cpu = 0, time.perf_counter(), time.process_time()
            while time.perf_counter() - started < seconds:
                for _ in range(100):
                    call(request)
                count += 100
            times[enabled].append((time.process_time() - cpu) / count)
    return ("middleware alone (view returns at once)", *_medians(times))


def _medians(times: dict[bool, list[float]]) -> tuple[float, float]:
    return statistics.median(times[True]), statistics.median(times[False])


def run(seconds: float, rounds: int) -> list[tuple[str, float, float]]:
    from django.conf import settings
    from django.test import Client, override_settings

    from organizations.services import demo_seed

    seed = demo_seed()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {seed.plaintext}"}
    cases: list[tuple[str, Any]] = [
        ("GET /api/0/", lambda c: c.get("/api/0/")),
        (
            "GET /api/0/organizations/demo/stats/",
            lambda c: c.get("/api/0/organizations/demo/stats/", **auth),
        ),
        (
            "POST /api/<id>/store/",
            lambda c: c.post(
                f"/api/{seed.project.pk}/store/?sentry_key={seed.key.public_key}",
                data=b'{"message": "bench"}',
                content_type="application/json",
            ),
        ),
    ]
    without = [m for m in settings.MIDDLEWARE if not m.endswith("RequestObservabilityMiddleware")]
    results = []
    for name, call in cases:
        per_request: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(rounds):
            for enabled in (True, False):
                middleware = settings.MIDDLEWARE if enabled else without
                with override_settings(MIDDLEWARE=middleware):
                    client = Client()
                    status = call(client).status_code
                    assert status in (200, 429), (name, status)
                    count, started, cpu = 0, time.perf_counter(), time.process_time()
                    while time.perf_counter() - started < seconds:
                        call(client)
                        count += 1
                    per_request[enabled].append((time.process_time() - cpu) / count)
        results.append(
            (name, statistics.median(per_request[True]), statistics.median(per_request[False]))
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="LOG_FORMAT=json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="statsapi-obs-bench-") as directory:
        setup(directory, "json" if args.json else "plain")
        results = [middleware_alone(args.seconds, args.rounds), *run(args.seconds, args.rounds)]
    print(f"LOG_FORMAT={'json' if args.json else 'plain'}, median of {args.rounds} rounds")
    print("| request | with (CPU us) | without (CPU us) | cost (us) | throughput ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, with_, without in results:
        print(
            f"| `{name}` | {with_ * 1e6:,.0f} | {without * 1e6:,.0f} | "
            f"{(with_ - without) * 1e6:,.0f} | {without / with_:.3f} |"
        )


if __name__ == "__main__":
    main()
