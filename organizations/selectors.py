"""Reads: organizations, teams, projects and keys by path segment, visibility, and stats.

All stats endpoints share one series implementation (`stats_series_get`): the TSDB picks
the buckets, zero-fills and aligns them; these functions only choose the model and keys and
combine series (sum for teams, accepted = total - dropped - filtered for keys).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

import tsdb
from organizations.access import Access
from organizations.cache import access_cache, cached_instance
from organizations.models import (
    Organization,
    OrganizationStatus,
    OrgAuthToken,
    Project,
    ProjectKey,
    Team,
    is_public_key,
)
from tsdb.base import INBOUND_FILTER_MODELS, TSDBModel

Series = list[tuple[int, int]]

# `stat` query values -> the TSDB model each reads.
ORGANIZATION_STATS = {
    "received": TSDBModel.organization_total_received,
    "rejected": TSDBModel.organization_total_rejected,
    "blacklisted": TSDBModel.organization_total_blacklisted,
}
PROJECT_STATS = {
    "received": TSDBModel.project_total_received,
    "rejected": TSDBModel.project_total_rejected,
    "blacklisted": TSDBModel.project_total_blacklisted,
    "generated": TSDBModel.project,
    **INBOUND_FILTER_MODELS,
}
# Project stat keys Sentry accepts that nothing here counts: they read as zeros.
PROJECT_ZERO_STATS = ("forwarded", "invalid-csp", "cors", "discarded-hash")
PROJECT_STAT_CHOICES = (*PROJECT_STATS, *PROJECT_ZERO_STATS)
# `group=project` of organization stats: the project totals and `generated`.
ORGANIZATION_PROJECT_STATS = {
    stat: PROJECT_STATS[stat] for stat in ("received", "rejected", "blacklisted", "generated")
}
TEAM_STATS = {
    "generated": TSDBModel.project,
    "received": TSDBModel.project_total_received,
    "rejected": TSDBModel.project_total_rejected,
}

# Largest value of a PostgreSQL bigint: ids beyond it cannot exist and must not reach a query.
MAX_DB_ID = 2**63 - 1
ID_RE = re.compile(r"[0-9]{1,19}")
M = TypeVar("M", Organization, Team, Project)


def _as_id(id_or_slug: str) -> int | None:
    if ID_RE.fullmatch(id_or_slug) and int(id_or_slug) <= MAX_DB_ID:
        return int(id_or_slug)
    return None


def _by_slug_then_id(queryset: QuerySet[M], id_or_slug: str) -> M | None:
    if "\x00" in id_or_slug:
        # No stored slug holds NUL, and PostgreSQL refuses it in a query (a 500, not a 404).
        return None
    found = queryset.filter(slug=id_or_slug).first()
    if found is None and (pk := _as_id(id_or_slug)) is not None:
        found = queryset.filter(pk=pk).first()
    return found


def organization_get(*, id_or_slug: str, cached: bool = False) -> Organization | None:
    """The organization whose slug is `id_or_slug`, else (all digits) whose id it is.

    `cached=True` (reads only: GET, HEAD, OPTIONS) answers from the process's access cache,
    at most ACCESS_CACHE_TTL old (organizations.cache); the same holds for the other lookups.
    """
    if not cached:
        return _by_slug_then_id(Organization.objects.all(), id_or_slug)
    return cached_instance(
        ("organization", id_or_slug),
        lambda: _by_slug_then_id(Organization.objects.all(), id_or_slug),
    )


def organization_list_visible(
    *, user: AbstractBaseUser | AnonymousUser, auth: object
) -> QuerySet[Organization]:
    """The active organizations a caller may list, by slug: an organization token's own
    organization, else those `user` is a member of; none for an anonymous caller."""
    organizations = Organization.objects.filter(status=OrganizationStatus.ACTIVE)
    if isinstance(auth, OrgAuthToken):
        organizations = organizations.filter(pk=auth.organization_id)
    elif user.is_authenticated:
        organizations = organizations.filter(members__user=user)
    else:
        organizations = organizations.none()
    return organizations.order_by("slug", "id")


def team_get(*, organization: Organization, id_or_slug: str, cached: bool = False) -> Team | None:
    """A team of `organization`, by slug, else by id (`cached`: see organization_get)."""

    def load() -> Team | None:
        return _by_slug_then_id(Team.objects.filter(organization=organization), id_or_slug)

    if not cached:
        return load()
    return cached_instance(("team", organization.pk, id_or_slug), load)


def project_get(
    *, organization: Organization, id_or_slug: str, cached: bool = False
) -> Project | None:
    """A project of `organization`, by slug, else by id; its `organization` is the one
    passed in (not read again). `cached`: see organization_get."""

    def load() -> Project | None:
        return _by_slug_then_id(Project.objects.filter(organization=organization), id_or_slug)

    project = cached_instance(("project", organization.pk, id_or_slug), load) if cached else load()
    if project is not None:
        project.organization = organization
    return project


def project_key_get(
    *, project: Project, public_key: str, cached: bool = False
) -> ProjectKey | None:
    """A DSN key of `project` by its public key (32 lowercase hex); None for anything else.
    `cached`: see organization_get."""
    if not is_public_key(public_key):
        return None

    def load() -> ProjectKey | None:
        return ProjectKey.objects.filter(project=project, public_key=public_key).first()

    if not cached:
        return load()
    return cached_instance(("key", project.pk, public_key), load)


def project_list_visible(*, access: Access) -> QuerySet[Project]:
    """The projects `access` may see in its organization: all of them with global access
    (admin, manager, owner; organization tokens with `org:read`), else those of the caller's
    teams. Ordered by id."""
    projects = Project.objects.filter(organization=access.organization)
    if not access.has_global_access:
        projects = projects.filter(teams__in=access.team_ids).distinct()
    return projects.order_by("id")


def project_ids_visible(*, access: Access) -> tuple[int, ...]:
    """The ids of the projects `access` may see (as project_list_visible), ascending; cached
    in the process (organizations.cache)."""
    organization_id = access.organization.pk
    teams = None if access.has_global_access else access.team_ids
    return access_cache.get_or_load(
        ("visible-projects", organization_id, teams),
        lambda: tuple(project_list_visible(access=access).values_list("pk", flat=True)),
    )


def project_team_ids(*, project_id: int) -> frozenset[int]:
    """The ids of the project's teams; cached in the process."""
    return access_cache.get_or_load(
        ("project-teams", project_id),
        lambda: frozenset(
            Project.teams.through.objects.filter(project_id=project_id).values_list(
                "team_id", flat=True
            )
        ),
    )


def team_project_ids(*, team_id: int) -> frozenset[int]:
    """The ids of the team's projects; cached in the process."""
    return access_cache.get_or_load(
        ("team-projects", team_id),
        lambda: frozenset(
            Project.teams.through.objects.filter(team_id=team_id).values_list(
                "project_id", flat=True
            )
        ),
    )


def project_is_visible(*, access: Access, project: Project) -> bool:
    """Whether `access` may see `project` (one of project_list_visible); answered from the
    process's access cache."""
    if project.organization_id != access.organization.pk:
        return False
    if access.has_global_access:
        return True
    return not access.team_ids.isdisjoint(project_team_ids(project_id=project.pk))


def stats_series_get(
    *,
    model: TSDBModel,
    keys: Iterable[int],
    start: datetime,
    end: datetime,
    rollup: int,
) -> dict[int, Series]:
    """One `[(bucket_ts, count), ...]` series per key: ascending, zero-filled, the last
    bucket `floor(end / rollup) * rollup`. Raises TSDBUnavailable when the TSDB is down."""
    keys = list(keys)
    if not keys:
        return {}
    return tsdb.backend.get_range(model, keys, start, end, rollup=rollup)


def zero_series(*, start: datetime, end: datetime, rollup: int) -> Series:
    """The window's buckets, every count 0. Reads nothing."""
    return [(ts, 0) for ts in tsdb.backend.get_series(start, end, rollup)]


def sum_series(series: Iterable[Series], *, start: datetime, end: datetime, rollup: int) -> Series:
    """Point-by-point sum of series sharing the window's timestamps."""
    timestamps = tsdb.backend.get_series(start, end, rollup)
    totals = [0] * len(timestamps)
    for points in series:
        for index, (_, count) in enumerate(points):
            totals[index] += count
    return list(zip(timestamps, totals, strict=True))


def organization_stats_get(
    *,
    organization: Organization,
    stat: str,
    start: datetime,
    end: datetime,
    rollup: int,
    ids: frozenset[int] | None = None,
) -> Series | None:
    """The organization's series of `stat` (a key of ORGANIZATION_STATS); None when `ids`
    excludes the organization."""
    if ids is not None and organization.pk not in ids:
        return None
    series = stats_series_get(
        model=ORGANIZATION_STATS[stat], keys=[organization.pk], start=start, end=end, rollup=rollup
    )
    return series[organization.pk]


def organization_project_stats_get(
    *,
    access: Access,
    stat: str,
    start: datetime,
    end: datetime,
    rollup: int,
    project_ids: frozenset[int] | None = None,
    ids: frozenset[int] | None = None,
) -> dict[int, Series]:
    """Series of `stat` (a key of ORGANIZATION_PROJECT_STATS) per visible project of the
    organization (`group=project`), optionally only those in `project_ids` and in `ids`;
    invisible ids are silently left out. Keyed by project id."""
    keys = [
        pk
        for pk in project_ids_visible(access=access)
        if (project_ids is None or pk in project_ids) and (ids is None or pk in ids)
    ]
    model = ORGANIZATION_PROJECT_STATS[stat]
    return stats_series_get(model=model, keys=keys, start=start, end=end, rollup=rollup)


def project_stats_get(
    *,
    project: Project,
    stat: str,
    start: datetime,
    end: datetime,
    rollup: int,
) -> Series:
    """The project's series of `stat` (one of PROJECT_STAT_CHOICES); zeros for the keys
    nothing counts (PROJECT_ZERO_STATS)."""
    if stat not in PROJECT_STATS:
        return zero_series(start=start, end=end, rollup=rollup)
    series = stats_series_get(
        model=PROJECT_STATS[stat], keys=[project.pk], start=start, end=end, rollup=rollup
    )
    return series[project.pk]


def team_stats_get(
    *,
    access: Access,
    team: Team,
    stat: str,
    start: datetime,
    end: datetime,
    rollup: int,
) -> Series | None:
    """The sum of the `stat` series (a key of TEAM_STATS) of the team's projects visible to
    `access`; None when it has none."""
    keys = team_project_ids(team_id=team.pk)
    if not access.has_global_access:
        keys = keys.intersection(project_ids_visible(access=access))
    if not keys:
        return None
    series = stats_series_get(
        model=TEAM_STATS[stat], keys=keys, start=start, end=end, rollup=rollup
    )
    return sum_series(series.values(), start=start, end=end, rollup=rollup)


def project_key_stats_get(
    *, key: ProjectKey, start: datetime, end: datetime, rollup: int
) -> list[dict[str, int]]:
    """Per bucket: `total`, `dropped`, `filtered` (the key's received, rejected and
    blacklisted counts, read together) and `accepted = total - dropped - filtered`."""
    models = (
        TSDBModel.key_total_received,
        TSDBModel.key_total_rejected,
        TSDBModel.key_total_blacklisted,
    )
    series = tsdb.backend.get_range_multi(models, [key.pk], start, end, rollup=rollup)
    total, dropped, filtered = (series[model][key.pk] for model in models)
    return [
        {
            "ts": ts,
            "total": received,
            "dropped": rejected,
            "filtered": blacklisted,
            "accepted": received - rejected - blacklisted,
        }
        for (ts, received), (_, rejected), (_, blacklisted) in zip(
            total, dropped, filtered, strict=True
        )
    ]
