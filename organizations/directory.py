"""The endpoints clients call before any stats: who am I, my organizations, their projects.

- `GET /api/0/`                                   IndexEndpoint
- `GET /api/0/organizations/`                     OrganizationIndexEndpoint
- `GET /api/0/organizations/{org}/`               OrganizationDetailsEndpoint
- `GET /api/0/organizations/{org}/projects/`      OrganizationProjectsEndpoint
- `GET /api/0/projects/{org}/{project}/`          ProjectDetailsEndpoint

Checks run in Sentry's order: authentication (401), the token's scopes (403), the lookup
(404), the caller's access in the organization (403).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from organizations.access import Access, access_for
from organizations.directory_serializers import (
    OrganizationSerializer,
    ProjectSerializer,
    UserSerializer,
)
from organizations.models import (
    ApiToken,
    Organization,
    OrganizationStatus,
    OrgAuthToken,
    Project,
    Team,
)
from organizations.pagination import SentryCursorPagination
from organizations.permissions import OrganizationPermission, ProjectPermission

# The shared API base view (spec section 4 headers) goes here once it exists.
Endpoint = APIView


# --- Selectors ----------------------------------------------------------------------------------
# Reads these endpoints need; candidates to move into organizations/selectors.py.


def organization_get(*, id_or_slug: str) -> Organization:
    """The organization whose slug is `id_or_slug`, else whose id is; Http404 if neither."""
    organization = Organization.objects.filter(slug=id_or_slug).first()
    if organization is None and id_or_slug.isdigit() and len(id_or_slug) < 19:
        organization = Organization.objects.filter(pk=int(id_or_slug)).first()
    if organization is None:
        raise Http404
    return organization


def project_get(*, organization: Organization, id_or_slug: str) -> Project:
    """The project of `organization` by slug, else by id; Http404 if neither."""
    projects = Project.objects.filter(organization=organization)
    project = projects.filter(slug=id_or_slug).first()
    if project is None and id_or_slug.isdigit() and len(id_or_slug) < 19:
        project = projects.filter(pk=int(id_or_slug)).first()
    if project is None:
        raise Http404
    return project


def organization_list_for_request(*, request: Request) -> QuerySet[Organization]:
    """Active organizations the caller belongs to (an organization token: its own), by slug."""
    organizations = Organization.objects.filter(status=OrganizationStatus.ACTIVE)
    if isinstance(request.auth, OrgAuthToken):
        organizations = organizations.filter(pk=request.auth.organization_id)
    elif request.user.is_authenticated:
        organizations = organizations.filter(members__user=request.user)
    else:
        organizations = organizations.none()
    return organizations.order_by("slug", "id")


def project_list_visible(*, access: Access) -> QuerySet[Project]:
    """Projects of `access.organization` the caller may see, by slug, teams prefetched.

    Global access (admin/manager/owner roles, organization tokens with `org:read`): every
    project; otherwise the projects of the caller's teams.
    """
    projects = Project.objects.filter(organization=access.organization)
    if not access.has_global_access:
        projects = projects.filter(teams__in=access.team_ids).distinct()
    return projects.order_by("slug", "id").prefetch_related(
        Prefetch("teams", queryset=Team.objects.order_by("slug", "id"))
    )


def project_is_visible(*, access: Access, project: Project) -> bool:
    if access.has_global_access:
        return True
    return project.teams.filter(pk__in=access.team_ids).exists()


# --- Views --------------------------------------------------------------------------------------


class IndexEndpoint(Endpoint):
    """`GET /api/0/`: the API version and, when credentials are given, what they are.

    Always 200 for anonymous callers and valid credentials. A token that is given but
    invalid or expired is a 401, as in Sentry: `sentry-cli login`/`info` then report the bad
    token instead of treating it as "not logged in".
    `auth` is `{"scopes": [...]}` for a token (null for a session login or anonymous);
    `user` is the token's user or the logged-in user, null for anonymous callers and for
    organization tokens (they act for no user, as in Sentry).
    """

    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        auth: dict[str, Any] | None = None
        if isinstance(request.auth, ApiToken | OrgAuthToken):
            auth = {"scopes": sorted(request.auth.get_scopes())}
        user = UserSerializer(request.user).data if request.user.is_authenticated else None
        return Response({"version": "0", "auth": auth, "user": user})


class OrganizationIndexEndpoint(Endpoint):
    """`GET /api/0/organizations/`: the caller's organizations, cursor-paginated."""

    permission_classes = [OrganizationPermission]
    pagination_class = SentryCursorPagination

    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            organization_list_for_request(request=request), request, view=self
        )
        return paginator.get_paginated_response(OrganizationSerializer(page, many=True).data)


class OrganizationEndpoint(Endpoint):
    """Base for `/organizations/{organization_id_or_slug}/...`: sets `self.organization` and
    `self.access` after the permission checks."""

    permission_classes = [OrganizationPermission]
    organization: Organization
    access: Access

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method == "OPTIONS":
            return
        self.organization = organization_get(id_or_slug=kwargs["organization_id_or_slug"])
        self.access = access_for(request, self.organization)
        self.check_object_permissions(request, self.organization)


class OrganizationDetailsEndpoint(OrganizationEndpoint):
    """`GET /api/0/organizations/{org}/`."""

    def get(self, request: Request, organization_id_or_slug: str) -> Response:
        return Response(OrganizationSerializer(self.organization).data)


class OrganizationProjectsEndpoint(OrganizationEndpoint):
    """`GET /api/0/organizations/{org}/projects/`: the projects the caller can see."""

    pagination_class = SentryCursorPagination

    def get(self, request: Request, organization_id_or_slug: str) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            project_list_visible(access=self.access), request, view=self
        )
        context = {
            "access": self.access,
            "organization_data": OrganizationSerializer(self.organization).data,
        }
        data = ProjectSerializer(page, many=True, context=context).data
        return paginator.get_paginated_response(data)


class ProjectDetailsEndpoint(Endpoint):
    """`GET /api/0/projects/{org}/{project}/`: one project, with its organization."""

    permission_classes = [ProjectPermission]
    organization: Organization
    project: Project
    access: Access

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method == "OPTIONS":
            return
        self.organization = organization_get(id_or_slug=kwargs["organization_id_or_slug"])
        self.project = project_get(
            organization=self.organization, id_or_slug=kwargs["project_id_or_slug"]
        )
        self.access = access_for(request, self.organization)
        self.check_object_permissions(request, self.project)
        if not project_is_visible(access=self.access, project=self.project):
            self.permission_denied(request)

    def get(
        self, request: Request, organization_id_or_slug: str, project_id_or_slug: str
    ) -> Response:
        project = (
            Project.objects.select_related("organization")
            .prefetch_related(Prefetch("teams", queryset=Team.objects.order_by("slug", "id")))
            .get(pk=self.project.pk)
        )
        context = {"access": self.access}
        return Response(ProjectSerializer(project, context=context).data)
