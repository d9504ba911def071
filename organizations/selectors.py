"""Reads: organizations, teams, projects and keys by path segment, and what a caller may see.
(The counters are read by ``usage.selectors``.)"""

from __future__ import annotations

import re
from typing import TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from organizations.access import Access
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


def organization_get(*, id_or_slug: str) -> Organization | None:
    """The organization whose slug is `id_or_slug`, else (all digits) whose id it is."""
    return _by_slug_then_id(Organization.objects.all(), id_or_slug)


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


def team_get(*, organization: Organization, id_or_slug: str) -> Team | None:
    """A team of `organization`, by slug, else by id."""
    return _by_slug_then_id(Team.objects.filter(organization=organization), id_or_slug)


def project_get(*, organization: Organization, id_or_slug: str) -> Project | None:
    """A project of `organization`, by slug, else by id; its `organization` is the one
    passed in (not read again)."""
    project = _by_slug_then_id(Project.objects.filter(organization=organization), id_or_slug)
    if project is not None:
        project.organization = organization
    return project


def project_key_get(*, project: Project, public_key: str) -> ProjectKey | None:
    """A DSN key of `project` by its public key (32 lowercase hex); None for anything else."""
    if not is_public_key(public_key):
        return None
    return ProjectKey.objects.filter(project=project, public_key=public_key).first()


def project_list_visible(*, access: Access) -> QuerySet[Project]:
    """The projects `access` may see in its organization: all of them with global access
    (admin, manager, owner; organization tokens with `org:read`), else those of the caller's
    teams. Ordered by id."""
    projects = Project.objects.filter(organization=access.organization)
    if not access.has_global_access:
        projects = projects.filter(teams__in=access.team_ids).distinct()
    return projects.order_by("id")


def project_is_visible(*, access: Access, project: Project) -> bool:
    return project_list_visible(access=access).filter(pk=project.pk).exists()
