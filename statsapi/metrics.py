"""Prometheus metrics, served at ``/metrics`` in the Prometheus text format.

Under gunicorn every worker writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR``
(prometheus-client's multiprocess mode; ``statsapi.gunicorn_hooks`` creates the directory
before the workers start), and ``/metrics`` adds up the files of every worker, so one scrape
sees the whole server whichever worker answers it. Without that variable (``manage.py
runserver``, the tests) the metrics are this process's.

``/metrics`` answers only clients whose address is in ``METRICS_ALLOWED_IPS`` (default:
loopback) or that send ``Authorization: Bearer <METRICS_TOKEN>``; anyone else gets 403.

Metric families (all prefixed ``statsapi_``):

- ``http_requests_total{endpoint, method, status}`` and ``http_request_duration_seconds{endpoint}``
  (histogram): every request; ``endpoint`` is the route's name (``organization-stats``,
  ``ingest-envelope``, ``admin:index``), ``static`` for static files, ``unmatched`` for a
  path no route takes.
- ``ingest_outcomes_total{outcome, category, reason}``: quantities of every counted outcome.
- ``quota_refusals_total{scope}``: error events refused by a key's or organization's quota.
- ``tsdb_errors_total``, ``database_errors_total``: requests refused because Redis or the
  database could not be reached.
- ``cache_requests_total{cache, result}``: lookups of the per-process caches (``hit``/``miss``).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from prometheus_client import Counter, Histogram
from prometheus_client.django import PrometheusDjangoView

from statsapi import logs

REQUESTS = Counter(
    "statsapi_http_requests",
    "HTTP requests answered, by route name, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "statsapi_http_request_duration_seconds",
    "Time from the request reaching Django to its response, by route name.",
    ["endpoint"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
INGEST_OUTCOMES = Counter(
    "statsapi_ingest_outcomes",
    "Quantities counted per ingest outcome, data category and reason.",
    ["outcome", "category", "reason"],
)
QUOTA_REFUSALS = Counter(
    "statsapi_quota_refusals",
    "Error events refused by a rate limit, by the quota's scope (key or organization).",
    ["scope"],
)
TSDB_ERRORS = Counter(
    "statsapi_tsdb_errors", "Requests refused because the TSDB (Redis) could not be reached."
)
DATABASE_ERRORS = Counter(
    "statsapi_database_errors", "Requests refused because the database could not be reached."
)
CACHE_REQUESTS = Counter(
    "statsapi_cache_requests",
    "Lookups in the per-process caches, by cache and result (hit or miss).",
    ["cache", "result"],
)

# Labels a client controls (client report categories and reasons) are folded into "other"
# beyond this many distinct values per process, so a hostile client cannot grow the series.
MAX_LABEL_VALUES = 200
_seen_labels: set[tuple[str, str, str]] = set()

# Children of the per-request metrics, kept to skip prometheus-client's label lookup.
_request_children: dict[tuple[str, str, int], Any] = {}
_latency_children: dict[str, Any] = {}


# Methods outside this set are counted as "other" (the method is the client's choice).
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    if method not in KNOWN_METHODS:
        method = "other"
    key = (endpoint, method, status)
    counter = _request_children.get(key)
    if counter is None:
        counter = _request_children.setdefault(key, REQUESTS.labels(endpoint, method, str(status)))
    counter.inc()
    histogram = _latency_children.get(endpoint)
    if histogram is None:
        histogram = _latency_children.setdefault(endpoint, LATENCY.labels(endpoint))
    histogram.observe(seconds)


def endpoint_of(request: HttpRequest) -> str:
    """The name of the route that answered: ``static`` for the static files WhiteNoise serves
    before any route is matched, ``unmatched`` when no route took the path."""
    match = request.resolver_match
    if match is None:
        return "static" if request.path.startswith(_static_prefix()) else "unmatched"
    return str(match.view_name or match.route or "unnamed")


@lru_cache(maxsize=1)
def _static_prefix() -> str:
    return "/" + str(settings.STATIC_URL).lstrip("/")


def ingest_outcome(outcome: str, category: str, reason: str | None, quantity: int) -> None:
    labels = (outcome, category, reason or "")
    if labels not in _seen_labels:
        if len(_seen_labels) >= MAX_LABEL_VALUES:
            labels = (outcome, "other", "other")
        else:
            _seen_labels.add(labels)
    INGEST_OUTCOMES.labels(*labels).inc(quantity)


def outcomes_counted(quantities: Mapping[str, int]) -> None:
    """Count the outcomes of one request once they are in the TSDB: ``quantities`` maps
    ``tsdb.base.outcome_key`` keys (``project:category:outcome:reason``) to quantities."""
    for key, quantity in quantities.items():
        _, category, outcome, reason = key.split(":")
        ingest_outcome(outcome, category, reason, quantity)


def quota_refused(scope: str, events: int) -> None:
    QUOTA_REFUSALS.labels(scope).inc(events)


def record_outage(request: Any, part: str, exc: BaseException) -> None:
    """``part`` (``tsdb`` or ``database``) could not be reached while answering ``request``:
    counted, and said once, in the request's log line."""
    (DATABASE_ERRORS if part == "database" else TSDB_ERRORS).inc()
    logs.note_failure(request, f"{part} unavailable: {exc}")


_cache_children: dict[tuple[str, bool], Any] = {}


def cache_lookup(cache: str, hit: bool) -> None:
    child = _cache_children.get((cache, hit))
    if child is None:
        child = _cache_children.setdefault(
            (cache, hit), CACHE_REQUESTS.labels(cache, "hit" if hit else "miss")
        )
    child.inc()


@lru_cache(maxsize=4)
def _networks(addresses: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(ipaddress.ip_network(address, strict=False) for address in addresses)


def may_read_metrics(request: HttpRequest) -> bool:
    """Whether ``request`` may read /metrics: ``METRICS_TOKEN`` as a Bearer token, or a client
    address in ``METRICS_ALLOWED_IPS``."""
    token: str = settings.METRICS_TOKEN
    if token:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), token.encode()
        ):
            return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(settings.METRICS_ALLOWED_IPS)))


class MetricsView(PrometheusDjangoView):
    """``GET /metrics``: every worker's metrics in the Prometheus text format."""

    http_method_names = ["get", "options"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not may_read_metrics(request):
            return JsonResponse(
                {
                    "detail": "Metrics are readable from METRICS_ALLOWED_IPS or with "
                    "Authorization: Bearer <METRICS_TOKEN>."
                },
                status=403,
            )
        response: HttpResponse = super().dispatch(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response
