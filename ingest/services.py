"""The ingest path: authenticate, read, parse, filter, take quota, count.

``envelope_ingest`` and ``store_ingest`` return an ``IngestResult`` (status, JSON body, headers)
or raise ``IngestError`` (a 4xx, counted nowhere in the legacy totals). ``TSDBUnavailable``
propagates when Redis cannot be reached, and a ``redis.RedisError`` when it answers an error
no correct request gets (WRONGTYPE, ...): the view answers 503 either way, and nothing was
reported as accepted (quota taken for events that were then not counted is given back).

Per request: no database query once the key is cached, and at most two Redis round trips:
(1) the quota takes plus any outcome-set additions, skipped when there is neither;
(2) one ``tsdb.backend.incr_multi`` with every count and outcome. A refused event whose key
and organization both have quotas makes one more (giving back the quota the other took).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.conf import settings
from redis.exceptions import RedisError

import tsdb
from ingest import auth
from ingest.bodies import decode_content, decode_legacy_store_body, read_body
from ingest.envelope import Item, client_report, json_object, normalize_event_id, parse_envelope
from ingest.errors import IngestError, too_large
from ingest.events import event_timestamp
from ingest.filters import filter_event, parse_ip
from ingest.outcomes import (
    ACCEPTED,
    INVALID,
    ITEM_CATEGORIES,
    RATE_LIMITED,
    OutcomeRecorder,
    item_quantity,
    mark_registered,
    outcome_set_name,
    outcome_set_ttl,
    unregistered,
)
from ingest.projectconfig import ProjectConfig
from ingest.store import QuotaTake, get_store
from statsapi import metrics
from tsdb.base import TSDBUnavailable, outcome_key

logger = logging.getLogger(__name__)

ERROR_ITEM_TYPES = frozenset({"event", "security"})
RATE_LIMIT_CATEGORIES = "error;default;security"


@dataclass(slots=True)
class IngestResult:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class RateLimit:
    reason: str  # key_quota / org_quota
    scope: str  # key / organization
    retry_after: int


@dataclass(slots=True)
class ErrorEvent:
    category: str
    payload: dict[str, Any]


# -- the sender's address ----------------------------------------------------------------------


@lru_cache(maxsize=8)
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _is_trusted(address: str, networks: tuple[Any, ...]) -> bool:
    ip = parse_ip(address)
    return ip is not None and any(ip in network for network in networks)


def sender_ip(environ: Mapping[str, Any]) -> str | None:
    """REMOTE_ADDR, or the nearest untrusted X-Forwarded-For hop when REMOTE_ADDR is one of
    ``settings.INGEST_TRUSTED_PROXIES``."""
    remote = environ.get("REMOTE_ADDR") or None
    proxies = tuple(settings.INGEST_TRUSTED_PROXIES)
    if not remote or not proxies:
        return remote
    networks = _trusted_networks(proxies)
    if not _is_trusted(remote, networks):
        return remote
    hops = [hop.strip() for hop in (environ.get("HTTP_X_FORWARDED_FOR") or "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _is_trusted(hop, networks):
            return hop
    return remote


# -- quotas ---------------------------------------------------------------------------------


def _quota_takes(config: ProjectConfig, amount: int, now: float) -> list[tuple[QuotaTake, str]]:
    prefix = settings.QUOTAS_PREFIX
    takes = []
    for quota, name, reason in (
        (config.key_quota, f"k:{config.key_id}", "key_quota"),
        (config.organization_quota, f"o:{config.organization_id}", "org_quota"),
    ):
        if quota is None:
            continue
        start = int(now // quota.window) * quota.window
        take = QuotaTake(
            name=f"{prefix}{name}:{quota.window}:{start}",
            limit=quota.limit,
            amount=amount,
            expire_at=start + quota.window,
        )
        takes.append((take, reason))
    return takes


def _retry_after(take: QuotaTake, now: float) -> int:
    return max(1, math.ceil(take.expire_at - now))


# -- counting ---------------------------------------------------------------------------------


def _exchange(takes: list[QuotaTake], set_name: str, new_keys: list[str]) -> list[bool]:
    """One round trip: the quota takes, and the outcome keys this process has not yet added
    to the organization's set. Returns one granted flag per take."""
    members = {set_name: new_keys} if new_keys else {}
    results = get_store().exchange(takes, members, outcome_set_ttl())
    mark_registered(set_name, new_keys)
    return results


def _count(
    *,
    config: ProjectConfig,
    recorder: OutcomeRecorder,
    events: list[ErrorEvent],
    received: float,
    protocol_version: int,
    sender: str | None,
) -> RateLimit | None:
    """Decide each error event's outcome (filtered, rate limited, accepted) and count it all."""
    kept: list[ErrorEvent] = []
    for event in events:
        filter_key = filter_event(event.payload, config.filters, sender)
        if filter_key is not None:
            recorder.error_filtered(event.category, filter_key)
        else:
            kept.append(event)

    takes = _quota_takes(config, len(kept), received) if kept else []
    set_name = outcome_set_name(config.organization_id)
    candidates = set(recorder.outcomes)
    for event in kept:
        candidates.add(
            outcome_key(
                project_id=config.project_id, category=event.category, outcome=ACCEPTED, reason=None
            )
        )
        for _, reason in takes:
            candidates.add(
                outcome_key(
                    project_id=config.project_id,
                    category=event.category,
                    outcome=RATE_LIMITED,
                    reason=reason,
                )
            )
    new_keys = unregistered(set_name, candidates)

    limited: RateLimit | None = None
    granted: list[QuotaTake] = []
    store = get_store()
    if takes or new_keys:
        results = _exchange([take for take, _ in takes], set_name, new_keys)
        for (take, reason), ok in zip(takes, results, strict=True):
            if ok:
                granted.append(take)
            elif limited is None:
                scope = "key" if reason == "key_quota" else "organization"
                limited = RateLimit(reason, scope, _retry_after(take, received))
        if limited is not None and granted:
            store.give_back(granted)  # the refused events must not use the other quota
            granted = []

    for event in kept:
        if limited is not None:
            recorder.error_rate_limited(event.category, limited.reason)
        else:
            timestamp = event_timestamp(
                event.payload, received=received, protocol_version=protocol_version
            )
            recorder.error_accepted(event.category, timestamp)

    try:
        tsdb.backend.incr_multi(recorder.tsdb_items(), timestamp=received)
    except (TSDBUnavailable, RedisError):
        if granted:
            try:
                store.give_back(granted)
            except (TSDBUnavailable, RedisError) as exc:
                logger.warning("could not give back quota after a failed count: %s", exc)
        raise
    metrics.outcomes_counted(recorder.outcomes)
    if limited is not None:
        metrics.quota_refused(limited.scope, len(kept))
    return limited


def _record_invalid(config: ProjectConfig, categories: list[tuple[str, int]], reason: str) -> None:
    """Count an ``invalid`` outcome per item of a refused request; best effort (the client gets
    its 4xx even if Redis is down)."""
    if not categories:
        return
    recorder = OutcomeRecorder(config)
    for category, quantity in categories:
        recorder.outcome(category, INVALID, reason, quantity)
    set_name = outcome_set_name(config.organization_id)
    try:
        new_keys = unregistered(set_name, recorder.outcomes)
        if new_keys:
            _exchange([], set_name, new_keys)
        tsdb.backend.incr_multi(recorder.tsdb_items())
        metrics.outcomes_counted(recorder.outcomes)
    except TSDBUnavailable:
        logger.warning("could not record an invalid outcome: Redis is unavailable")
    except RedisError:
        logger.exception("could not record an invalid outcome: unexpected Redis reply")


def _item_categories(items: list[Item]) -> list[tuple[str, int]]:
    categories = []
    for item in items:
        category = ITEM_CATEGORIES.get(item.type)
        if category is not None:
            categories.append((category, item_quantity(item.type, item.headers, item.payload)))
    return categories


def _answer(limited: RateLimit | None, event_id: str | None) -> IngestResult:
    """200 ``{"id": event_id}`` (``{}`` without one), or 429 when the events were refused."""
    if limited is None:
        return IngestResult(200, {"id": event_id} if event_id else {})
    return IngestResult(
        429,
        {"detail": "Event dropped due to rate limiting"},
        {
            "Retry-After": str(limited.retry_after),
            "X-Sentry-Rate-Limits": (
                f"{limited.retry_after}:{RATE_LIMIT_CATEGORIES}:{limited.scope}:{limited.reason}"
            ),
        },
    )


def _raw_body(environ: Mapping[str, Any]) -> bytes:
    """The body as sent. One that cannot be read (too long, cut off, malformed chunks) is
    refused before anything in it is known: no outcome is recorded for it."""
    return read_body(environ, max_request=settings.INGEST_MAX_REQUEST_BYTES)


def _decoded(raw: bytes, environ: Mapping[str, Any]) -> bytes:
    return decode_content(
        raw,
        environ.get("HTTP_CONTENT_ENCODING") or "",
        max_decompressed=settings.INGEST_MAX_DECOMPRESSED_BYTES,
    )


# -- endpoints --------------------------------------------------------------------------------


def envelope_ingest(
    *, environ: Mapping[str, Any], project_id: int, query: Mapping[str, str]
) -> IngestResult:
    """Handle ``POST /api/{project_id}/envelope/``."""
    received = time.time()
    credentials = auth.request_credentials(environ, query)
    config = None
    if credentials.public_key:
        config = auth.authenticate(credentials.public_key, project_id)
    body = _decoded(_raw_body(environ), environ)  # refused before any item is known
    try:
        envelope = parse_envelope(body, max_event_bytes=settings.INGEST_MAX_EVENT_BYTES)
    except IngestError as exc:
        if config is not None:
            _record_invalid(config, _item_categories(exc.items), exc.reason)
        raise

    if "dsn" in envelope.headers:
        dsn_key = auth.dsn_public_key(envelope.headers["dsn"], project_id)
        if credentials.public_key and dsn_key != credentials.public_key:
            raise auth.unauthorized("Conflicting authentication information: two different keys")
        if config is None:
            config = auth.authenticate(dsn_key, project_id)
    if config is None:
        raise auth.unauthorized(auth.NO_AUTH)

    recorder = OutcomeRecorder(config)
    events: list[ErrorEvent] = []
    try:
        for item in envelope.items:
            if item.type in ERROR_ITEM_TYPES:
                payload = json_object(item.payload, f"The {item.type} item")
                events.append(ErrorEvent(ITEM_CATEGORIES[item.type], payload))
            elif item.type == "client_report":
                # A broken (or oversized) client report is dropped, as Relay does.
                report = client_report(item.payload)
                if report is not None:
                    recorder.client_report(report)
            else:
                category = ITEM_CATEGORIES.get(item.type)
                if category is not None:
                    quantity = item_quantity(item.type, item.headers, item.payload)
                    recorder.outcome(category, ACCEPTED, None, quantity)
    except IngestError as exc:
        _record_invalid(config, _item_categories(envelope.items), exc.reason)
        raise

    limited = _count(
        config=config,
        recorder=recorder,
        events=events,
        received=received,
        protocol_version=credentials.version,
        sender=sender_ip(environ),
    )
    event_id = envelope.headers.get("event_id")
    if event_id is None and events:
        event_id = normalize_event_id(events[0].payload.get("event_id")) or uuid.uuid4().hex
    return _answer(limited, event_id)


def store_ingest(
    *, environ: Mapping[str, Any], project_id: int, query: Mapping[str, str]
) -> IngestResult:
    """Handle ``POST /api/{project_id}/store/``: one event per request."""
    received = time.time()
    credentials = auth.request_credentials(environ, query)
    config = auth.authenticate(credentials.public_key, project_id)
    raw = _raw_body(environ)
    try:
        body = decode_legacy_store_body(
            _decoded(raw, environ), max_decompressed=settings.INGEST_MAX_DECOMPRESSED_BYTES
        )
        if len(body) > settings.INGEST_MAX_EVENT_BYTES:
            raise too_large(f"An event is larger than {settings.INGEST_MAX_EVENT_BYTES} bytes")
        payload = json_object(body, "The event")
    except IngestError as exc:
        _record_invalid(config, [("error", 1)], exc.reason)
        raise
    limited = _count(
        config=config,
        recorder=OutcomeRecorder(config),
        events=[ErrorEvent("error", payload)],
        received=received,
        protocol_version=credentials.version,
        sender=sender_ip(environ),
    )
    return _answer(limited, normalize_event_id(payload.get("event_id")) or uuid.uuid4().hex)
