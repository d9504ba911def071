"""Reads: organizations, teams, projects and keys by path segment, visibility, and stats.

All stats endpoints share one series implementation (`stats_series_get`): the TSDB picks
the buckets, zero-fills and aligns them; these functions only choose the model and keys and
combine series (sum for teams, accepted = total - dropped - filtered for keys).
"""

from __future__ import annotations

import re
from typing import TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

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
    *, user: User | AnonymousUser, auth: object
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


def project_team_ids(*, project_id: int, cached: bool = True) -> frozenset[int]:
    """The ids of the project's teams; cached in the process unless `cached=False`."""

    def load() -> frozenset[int]:
        return frozenset(
            Project.teams.through.objects.filter(project_id=project_id).values_list(
                "team_id", flat=True
            )
        )

    if not cached:
        return load()
    return access_cache.get_or_load(("project-teams", project_id), load)


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


def project_is_visible(*, access: Access, project: Project, cached: bool = True) -> bool:
    """Whether `access` may see `project` (one of project_list_visible); answered from the
    process's access cache, or from the database with `cached=False`."""
    if project.organization_id != access.organization.pk:
        return False
    if access.has_global_access:
        return True
    teams = project_team_ids(project_id=project.pk, cached=cached)
    return not access.team_ids.isdisjoint(teams)
