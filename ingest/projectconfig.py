"""What ingest needs to know about a DSN key, cached in each process.

``get_project_config(public_key)`` answers from a per-process ``LocalCache`` for up to
``settings.INGEST_CONFIG_CACHE_TTL`` seconds (at most 10), then reads the key, its project,
organization and inbound filters again in one query. So a request on a warm key makes no
database query, and a change made anywhere (admin, another server) is seen by every process
within the TTL. Saves in this process clear the cache at once (``ingest.signals``). Unknown
keys are cached too, so a flood of bad keys costs one query per key per TTL.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from ingest.filters import FilterSettings
from ingest.models import InboundFilters
from organizations.models import ProjectKey, is_public_key
from statsapi.localcache import LocalCache


@dataclass(frozen=True, slots=True)
class Quota:
    """``limit`` error events per ``window`` seconds."""

    limit: int
    window: int


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    key_id: int
    public_key: str
    is_active: bool
    project_id: int
    organization_id: int
    key_quota: Quota | None
    organization_quota: Quota | None
    filters: FilterSettings


_cache = LocalCache(
    ttl=lambda: float(settings.INGEST_CONFIG_CACHE_TTL), metrics_name="ingest_project_config"
)


def _quota(count: int | None, window: int | None) -> Quota | None:
    if count is None or not window:
        return None
    return Quota(limit=count, window=window)


def load_project_config(public_key: str) -> ProjectConfig | None:
    """Read a key's configuration from the database (one query); None if it does not exist."""
    key = (
        ProjectKey.objects.select_related("project__organization", "project__inbound_filters")
        .filter(public_key=public_key)
        .first()
    )
    if key is None:
        return None
    project = key.project
    organization = project.organization
    try:
        filters_row: InboundFilters | None = project.inbound_filters
    except InboundFilters.DoesNotExist:
        filters_row = None
    return ProjectConfig(
        key_id=key.pk,
        public_key=key.public_key,
        is_active=key.is_active,
        project_id=project.pk,
        organization_id=organization.pk,
        key_quota=_quota(key.rate_limit_count, key.rate_limit_window),
        organization_quota=_quota(organization.rate_limit_count, organization.rate_limit_window),
        filters=FilterSettings.from_model(filters_row),
    )


def get_project_config(public_key: str) -> ProjectConfig | None:
    """The cached configuration of ``public_key`` (None: no such key), at most TTL old."""
    if not is_public_key(public_key):
        return None  # not a public key (NUL bytes included): answer without a query
    return _cache.get_or_load(public_key, lambda: load_project_config(public_key))


def clear_cache() -> None:
    """Forget every cached key (this process only)."""
    _cache.clear()
