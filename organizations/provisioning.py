"""The write half of the organization API, as Terraform's Sentry provider and `@sentry/api`
call it: teams, projects, DSN keys, members and organization settings (inbound filters are
in ingest/api.py), plus the provider's start-up health check.

- `GET /api/0/internal/health/`                                  HealthEndpoint
- `GET PUT /api/0/organizations/{org}/`                          OrganizationDetailsEndpoint
- `GET POST /api/0/organizations/{org}/teams/`                   OrganizationTeamsEndpoint
- `GET PUT DELETE /api/0/teams/{org}/{team}/`                    TeamDetailsEndpoint
- `GET POST /api/0/teams/{org}/{team}/projects/`                 TeamProjectsEndpoint
- `GET PUT DELETE /api/0/projects/{org}/{project}/`              ProjectDetailsEndpoint
- `GET /api/0/projects/{org}/{project}/teams/`                   ProjectTeamsEndpoint
- `POST DELETE /api/0/projects/{org}/{project}/teams/{team}/`    ProjectTeamDetailsEndpoint
- `GET POST /api/0/projects/{org}/{project}/keys/`               ProjectKeysEndpoint
- `GET PUT DELETE /api/0/projects/{org}/{project}/keys/{key}/`   ProjectKeyDetailsEndpoint
- `GET POST /api/0/organizations/{org}/members/`                 OrganizationMembersEndpoint
- `GET PUT DELETE /api/0/organizations/{org}/members/{member}/`  OrganizationMemberDetailsEndpoint
- `POST PUT DELETE /api/0/organizations/{org}/members/{member}/teams/{team}/`
                                                         OrganizationMemberTeamDetailsEndpoint

Checks run in Sentry's order (organizations/permissions.py): authentication (401), the
token's scopes for the method (403), the lookups (404, also for another organization's
objects), the caller's scopes in the organization and their teams (403).

Each write request runs in one transaction, response body included, so an error leaves
nothing half-written and nothing can fail after the commit. Writes go through
organizations.services and are recorded in the admin history (organizations.audit).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Q, QuerySet, prefetch_related_objects
from django.http import Http404
from drf_spectacular.plumbing import build_array_type, build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from organizations import project_options, scopes, selectors, services
from organizations.audit import Actor, actor_for
from organizations.directory import EXAMPLE_ORGANIZATION, EXAMPLE_PROJECT, ORDERED_TEAMS
from organizations.directory_serializers import ProjectSerializer
from organizations.exceptions import api_exception_handler
from organizations.models import Organization, OrganizationMember, Project, ProjectKey, Team
from organizations.pagination import SentryCursorPagination
from organizations.permissions import ScopedPermission
from organizations.provisioning_serializers import (
    DetailedOrganizationSerializer,
    DetailedProjectSerializer,
    KeyCreateSerializer,
    KeyUpdateSerializer,
    MemberCreateSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    OrganizationUpdateSerializer,
    ProjectCreateSerializer,
    ProjectKeySerializer,
    ProjectUpdateSerializer,
    TeamCreateSerializer,
    TeamSerializer,
    TeamUpdateSerializer,
    rate_limit_value,
)
from organizations.views import OrganizationScopedEndpoint

FORBIDDEN = "You do not have permission to perform this action."

# A view method that doc() documents (and hands back unchanged).
_Handler = TypeVar("_Handler", bound=Callable[..., Response])

# --- OpenAPI (statsapi.schema adds every error answer) -----------------------------------------

HEALTH: dict[str, object] = {"healthy": {}, "problems": []}
EXAMPLE_TEAM = {
    "id": "1",
    "slug": "backend",
    "name": "Backend",
    "dateCreated": "2026-11-30T09:12:45.123456Z",
    "isMember": True,
    "teamRole": "admin",
    "flags": {"idp:provisioned": False},
    "access": ["project:read", "project:write", "team:read", "team:write"],
    "hasAccess": True,
    "isPending": False,
    "memberCount": 1,
    "avatar": {"avatarType": "letter_avatar", "avatarUuid": None, "avatarUrl": None},
}
EXAMPLE_KEY = {
    "id": "0123456789abcdef0123456789abcdef",
    "name": "Default",
    "label": "Default",
    "public": "0123456789abcdef0123456789abcdef",
    "secret": "fedcba9876543210fedcba9876543210",
    "projectId": 1,
    "isActive": True,
    "rateLimit": {"window": 60, "count": 100},
    "dsn": {
        "public": "http://0123456789abcdef0123456789abcdef@127.0.0.1:8000/1",
        "secret": "http://0123456789abcdef0123456789abcdef:fedcba9876543210fedcba9876543210"
        "@127.0.0.1:8000/1",
        "csp": "http://127.0.0.1:8000/api/1/csp-report/?sentry_key=0123456789abcdef0123456789abcdef",
    },
    "browserSdkVersion": "latest",
    "dateCreated": "2026-11-30T09:12:45.123456Z",
    "dynamicSdkLoaderOptions": {"hasReplay": True, "hasPerformance": True, "hasDebug": False},
}
EXAMPLE_MEMBER = {
    "id": "2",
    "email": "dev@example.com",
    "name": "dev@example.com",
    "orgRole": "member",
    "pending": False,
    "expired": False,
    "dateCreated": "2026-11-30T09:12:45.123456Z",
    "inviteStatus": "approved",
    "teamRoles": [{"teamSlug": "backend", "role": "contributor"}],
}


def doc(
    summary: str,
    status_code: int,
    example: Mapping[str, object] | Sequence[Mapping[str, object]] | None = None,
    *,
    request: type[serializers.BaseSerializer[Any]] | None = None,
    parameters: Sequence[OpenApiParameter] | None = None,
) -> Callable[[_Handler], _Handler]:
    """@extend_schema of one provisioning operation: its success answer and an example."""
    responses: dict[int, OpenApiResponse | None] = {status_code: None}
    if example is not None:
        body: OpenApiTypes | dict[str, Any] = OpenApiTypes.OBJECT
        if isinstance(example, list):
            # build_basic_type only answers None for types it does not know; OBJECT it knows.
            item = cast("dict[str, Any]", build_basic_type(OpenApiTypes.OBJECT))
            body = build_array_type(item)
        responses[status_code] = OpenApiResponse(
            response=body,
            examples=[OpenApiExample(summary, example, response_only=True)],
        )
    return extend_schema(
        summary=summary, request=request, responses=responses, parameters=parameters
    )


def _read(resource: str) -> tuple[str, ...]:
    return (f"{resource}:read", f"{resource}:write", f"{resource}:admin")


ORG_READ = _read("org")
ORG_WRITE = ("org:write", "org:admin")
TEAM_READ = _read("team")
TEAM_WRITE = ("team:write", "team:admin")
PROJECT_READ = _read("project")
PROJECT_WRITE = ("project:write", "project:admin")
MEMBER_READ = _read("member")
MEMBER_WRITE = ("member:write", "member:admin")


def scope_map(**methods: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """`GET=...` also grants HEAD."""
    if "GET" in methods:
        methods["HEAD"] = methods["GET"]
    return methods


class HealthPermission(ScopedPermission):
    scope_map: dict[str, tuple[str, ...]] = {}


class OrganizationDetailsPermission(ScopedPermission):
    scope_map = scope_map(GET=ORG_READ, PUT=ORG_WRITE)


class OrganizationTeamsPermission(ScopedPermission):
    scope_map = scope_map(GET=ORG_READ, POST=(*ORG_WRITE, *TEAM_WRITE))


class TeamDetailsPermission(ScopedPermission):
    scope_map = scope_map(GET=TEAM_READ, PUT=TEAM_WRITE, DELETE=("team:admin",))


class TeamProjectsPermission(ScopedPermission):
    scope_map = scope_map(GET=PROJECT_READ, POST=PROJECT_WRITE)


class ProjectDetailsPermission(ScopedPermission):
    scope_map = scope_map(GET=PROJECT_READ, PUT=PROJECT_WRITE, DELETE=("project:admin",))


class ProjectTeamsPermission(ScopedPermission):
    scope_map = scope_map(GET=PROJECT_READ, POST=PROJECT_WRITE, DELETE=PROJECT_WRITE)


class ProjectKeysPermission(ScopedPermission):
    scope_map = scope_map(GET=PROJECT_READ, POST=PROJECT_WRITE)


class ProjectKeyDetailsPermission(ScopedPermission):
    scope_map = scope_map(GET=PROJECT_READ, PUT=PROJECT_WRITE, DELETE=("project:admin",))


class MembersPermission(ScopedPermission):
    scope_map = scope_map(GET=MEMBER_READ, POST=(*MEMBER_WRITE, "member:invite"))


class MemberTeamsPermission(ScopedPermission):
    scope_map = scope_map(
        POST=(*MEMBER_WRITE, *TEAM_WRITE),
        PUT=(*MEMBER_WRITE, *TEAM_WRITE),
        DELETE=(*MEMBER_WRITE, *TEAM_WRITE),
    )


class MemberDetailsPermission(ScopedPermission):
    # DELETE: any member scope here; removing someone else then needs MEMBER_WRITE (a member
    # may always leave).
    scope_map = scope_map(GET=MEMBER_READ, PUT=MEMBER_WRITE, DELETE=MEMBER_READ)


def field_error_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Sentry's write-endpoint errors: a serializer's errors as `{"field": ["message"]}`
    (nested for nested serializers); a services ValidationError the same way; everything
    else as the API's usual `{"detail": ...}`."""
    if isinstance(exc, services.NotAllowed):
        return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, DjangoValidationError):
        body: dict[str, Any] = (
            exc.message_dict if hasattr(exc, "error_dict") else {"detail": " ".join(exc.messages)}
        )
        body = {("non_field_errors" if k == "__all__" else k): v for k, v in body.items()}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.ValidationError) and not isinstance(exc.detail, str):
        detail = exc.detail
        if isinstance(detail, list):
            detail = {"non_field_errors": detail}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    return api_exception_handler(exc, context)


def conflict(message: str, **extra: Any) -> Response:
    return Response({**extra, "detail": message}, status=status.HTTP_409_CONFLICT)


class WriteEndpoint(OrganizationScopedEndpoint):
    """Base of the provisioning endpoints: field errors in Sentry's shape, one transaction per
    write request, the acting user or token for the admin history. Their reads look up the
    organization, membership and project in the database, not the access cache
    (``reads_from_cache``)."""

    pagination_class = SentryCursorPagination
    reads_from_cache = False

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return field_error_handler

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return super().dispatch(request, *args, **kwargs)
        # The response is built inside the transaction: a failure anywhere rolls it all back,
        # and nothing that could fail runs after the commit.
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)
            if hasattr(response, "render"):
                response.render()
        if response.status_code == status.HTTP_204_NO_CONTENT:
            # @sentry/api reads a 204 as `{}` only with a JSON content type (else as `null`);
            # DRF drops the header of an empty body when rendering, so it is set after.
            response["Content-Type"] = "application/json"
            response["Content-Length"] = "0"
        return response

    def head(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not hasattr(self, "get"):
            # A write-only route: 405 like any other method it does not take.
            self.http_method_not_allowed(request, *args, **kwargs)
        return super().head(request, *args, **kwargs)

    @property
    def actor(self) -> Actor:
        return actor_for(user=self.request.user, token=self.request.auth)

    def paginate(self, queryset: QuerySet[Any], serialize: Callable[[list[Any]], Any]) -> Response:
        paginator = SentryCursorPagination()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serialize(page))

    def validated(self, serializer_class: type[Any], **kwargs: Any) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    # -- lookups -------------------------------------------------------------------------------

    def get_team(self, request: Request, organization_id_or_slug: str, team_slug: str) -> Team:
        organization = self.get_organization(request, organization_id_or_slug)
        team = selectors.team_get(organization=organization, id_or_slug=team_slug)
        if team is None:
            raise Http404
        team.organization = organization
        return team

    def require_team_access(self, team: Team) -> None:
        """A caller without global access acts only on their own teams."""
        if not (self.access.has_global_access or team.pk in self.access.team_ids):
            raise exceptions.PermissionDenied(FORBIDDEN)

    def allowed_roles(self) -> frozenset[str]:
        """The organization roles the caller may give, change or remove: up to their own
        role; for an organization token (or a superuser's session), the roles whose scopes it
        holds."""
        access = self.access
        if access.member is not None:
            rank = scopes.role_rank(access.member.role)
            return frozenset(scopes.ROLE_ORDER[: rank + 1])
        return frozenset(
            role for role, granted in scopes.ROLE_SCOPES.items() if granted <= access.scopes
        )


# --- health -----------------------------------------------------------------------------------


class HealthEndpoint(WriteEndpoint):
    """`GET /api/0/internal/health/`: 200 for any valid token (Terraform's provider calls it
    on every run and fails on anything else). It checks nothing: `/_health/?full` is the
    readiness check."""

    permission_classes = [HealthPermission]

    @doc("Health check for Terraform's provider", 200, HEALTH)
    def get(self, request: Request) -> Response:
        return Response({"healthy": {}, "problems": []})


# --- organization -----------------------------------------------------------------------------


class OrganizationDetailsEndpoint(WriteEndpoint):
    """`GET /api/0/organizations/{org}/` and `PUT` (`name`, `slug`, `rateLimit`)."""

    permission_classes = [OrganizationDetailsPermission]

    def organization_response(self, organization: Organization) -> Response:
        context = {"allowed_roles": self.allowed_roles()}
        return Response(DetailedOrganizationSerializer(organization, context=context).data)

    @doc("One organization, with its role lists", 200, EXAMPLE_ORGANIZATION)
    def get(self, request: Request, organization_id_or_slug: str) -> Response:
        return self.organization_response(self.get_organization(request, organization_id_or_slug))

    @doc(
        "Rename an organization, change its slug or its rate limit",
        200,
        EXAMPLE_ORGANIZATION,
        request=OrganizationUpdateSerializer,
    )
    def put(self, request: Request, organization_id_or_slug: str) -> Response:
        organization = self.get_organization(request, organization_id_or_slug)
        data = self.validated(OrganizationUpdateSerializer)
        kwargs: dict[str, Any] = {}
        if "rateLimit" in data:
            kwargs["rate_limit"] = rate_limit_value(data["rateLimit"])
        try:
            services.organization_update(
                organization=organization,
                name=data.get("name"),
                slug=data.get("slug"),
                actor=self.actor,
                **kwargs,
            )
        except services.SlugTaken as exc:
            return Response({"slug": [exc.message_text]}, status=status.HTTP_409_CONFLICT)
        return self.organization_response(organization)


# --- teams ------------------------------------------------------------------------------------


class OrganizationTeamsEndpoint(WriteEndpoint):
    """`GET` the organization's teams (by slug; `?detailed=0` leaves out their projects,
    `?query=` filters on slug and name) and `POST` a new team (`slug` and/or `name`)."""

    permission_classes = [OrganizationTeamsPermission]

    @doc("An organization's teams", 200, [EXAMPLE_TEAM])
    def get(self, request: Request, organization_id_or_slug: str) -> Response:
        organization = self.get_organization(request, organization_id_or_slug)
        teams = Team.objects.filter(organization=organization).order_by("slug", "id")
        query = request.query_params.get("query", "").strip()
        if query:
            teams = teams.filter(Q(slug__icontains=query) | Q(name__icontains=query))
        expand = () if request.query_params.get("detailed") == "0" else ("projects",)
        context = {"access": self.access, "expand": expand}

        def serialize(page: list[Team]) -> Any:
            for team in page:
                team.organization = organization
            return TeamSerializer(page, many=True, context=context).data

        return self.paginate(teams, serialize)

    @doc("Create a team", 201, EXAMPLE_TEAM, request=TeamCreateSerializer)
    def post(self, request: Request, organization_id_or_slug: str) -> Response:
        organization = self.get_organization(request, organization_id_or_slug)
        data = self.validated(TeamCreateSerializer)
        try:
            team = services.team_create(
                organization=organization,
                slug=data["slug"],
                name=data.get("name"),
                actor=self.actor,
            )
        except services.SlugTaken as exc:
            return conflict(exc.message_text, non_field_errors=[exc.message_text])
        access = self.access
        if access.member is not None:
            # As in Sentry, the user who creates a team joins it.
            services.team_member_add(team=team, member=access.member, actor=self.actor)
            access = dataclasses.replace(access, team_ids=access.team_ids | {team.pk})
        body = TeamSerializer(team, context={"access": access}).data
        return Response(body, status=status.HTTP_201_CREATED)


class TeamDetailsEndpoint(WriteEndpoint):
    """`GET` (with `organization` unless `?collapse=organization`), `PUT` (`name`, `slug`)
    and `DELETE` one team."""

    permission_classes = [TeamDetailsPermission]

    def team_response(self, team: Team, expand: tuple[str, ...] = ()) -> Response:
        context = {"access": self.access, "expand": expand}
        return Response(TeamSerializer(team, context=context).data)

    @doc("One team", 200, EXAMPLE_TEAM)
    def get(self, request: Request, organization_id_or_slug: str, team_id_or_slug: str) -> Response:
        team = self.get_team(request, organization_id_or_slug, team_id_or_slug)
        collapse = request.query_params.getlist("collapse")
        return self.team_response(team, () if "organization" in collapse else ("organization",))

    @doc("Rename a team or change its slug", 200, EXAMPLE_TEAM, request=TeamUpdateSerializer)
    def put(self, request: Request, organization_id_or_slug: str, team_id_or_slug: str) -> Response:
        team = self.get_team(request, organization_id_or_slug, team_id_or_slug)
        self.require_team_access(team)
        data = self.validated(TeamUpdateSerializer)
        services.team_update(
            team=team, name=data.get("name"), slug=data.get("slug"), actor=self.actor
        )
        return self.team_response(team)

    @doc("Delete a team", 204)
    def delete(
        self, request: Request, organization_id_or_slug: str, team_id_or_slug: str
    ) -> Response:
        team = self.get_team(request, organization_id_or_slug, team_id_or_slug)
        self.require_team_access(team)
        services.team_delete(team=team, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamProjectsEndpoint(WriteEndpoint):
    """`GET` a team's projects (those the caller can see) and `POST` a new project owned by
    the team (`name`, `slug`, `platform`; it gets a "Default" DSN key)."""

    permission_classes = [TeamProjectsPermission]

    @doc("A team's projects", 200, [EXAMPLE_PROJECT])
    def get(self, request: Request, organization_id_or_slug: str, team_id_or_slug: str) -> Response:
        team = self.get_team(request, organization_id_or_slug, team_id_or_slug)
        projects = (
            selectors.project_list_visible(access=self.access)
            .filter(teams=team)
            .order_by("slug", "id")
            .prefetch_related(ORDERED_TEAMS)
        )
        organization = team.organization

        def serialize(page: list[Project]) -> Any:
            for project in page:
                project.organization = organization
            return ProjectSerializer(page, many=True, context={"access": self.access}).data

        return self.paginate(projects, serialize)

    @doc(
        "Create a project for a team, with a Default DSN key",
        201,
        EXAMPLE_PROJECT,
        request=ProjectCreateSerializer,
    )
    def post(
        self, request: Request, organization_id_or_slug: str, team_id_or_slug: str
    ) -> Response:
        team = self.get_team(request, organization_id_or_slug, team_id_or_slug)
        self.require_team_access(team)
        data = self.validated(ProjectCreateSerializer)
        try:
            project = services.project_create(
                organization=team.organization,
                slug=data.get("slug") or None,
                name=data["name"],
                platform=data.get("platform") or "",
                teams=[team],
                actor=self.actor,
            )
        except services.SlugTaken as exc:
            return conflict(exc.message_text)
        project.organization = team.organization
        body = ProjectSerializer(project, context={"access": self.access}).data
        return Response(body, status=status.HTTP_201_CREATED)


# --- projects ---------------------------------------------------------------------------------


class ProjectEndpoint(WriteEndpoint):
    def detailed(self, project: Project) -> dict[str, Any]:
        project = Project.objects.prefetch_related(ORDERED_TEAMS).get(pk=project.pk)
        return dict(DetailedProjectSerializer(project, context={"access": self.access}).data)


class ProjectDetailsEndpoint(ProjectEndpoint):
    """`GET`, `PUT` and `DELETE` one project (by slug or numeric id) the caller can see,
    with its organization, teams, stored settings and `options`."""

    permission_classes = [ProjectDetailsPermission]

    @doc("One project, with its organization, teams, settings and options", 200, EXAMPLE_PROJECT)
    def get(
        self, request: Request, organization_id_or_slug: str, project_id_or_slug: str
    ) -> Response:
        project = self.get_project(request, organization_id_or_slug, project_id_or_slug)
        prefetch_related_objects([project], ORDERED_TEAMS)
        return Response(DetailedProjectSerializer(project, context={"access": self.access}).data)

    @doc("Change a project", 200, EXAMPLE_PROJECT, request=ProjectUpdateSerializer)
    def put(
        self, request: Request, organization_id_or_slug: str, project_id_or_slug: str
    ) -> Response:
        project = self.get_project(request, organization_id_or_slug, project_id_or_slug)
        data = self.validated(ProjectUpdateSerializer, context={"project": project})
        options = data.pop("options", None) or {}
        name, slug, platform = data.pop("name", None), data.pop("slug", None), None
        if "platform" in data:
            platform = data.pop("platform") or ""
        data.pop("isBookmarked", None)  # per user in Sentry; statsapi keeps no bookmarks
        try:
            services.project_update(
                project=project,
                name=name,
                slug=slug,
                platform=platform,
                settings=data,
                actor=self.actor,
            )
        except services.SlugTaken as exc:
            return Response({"slug": [exc.message_text]}, status=status.HTTP_400_BAD_REQUEST)
        if options:
            for provider in project_options.providers():
                values = {key: options[key] for key in provider.keys if key in options}
                if values:
                    provider.write(project=project, values=values, actor=self.actor)
        return Response(self.detailed(project))

    @doc("Delete a project and its DSN keys", 204)
    def delete(
        self, request: Request, organization_id_or_slug: str, project_id_or_slug: str
    ) -> Response:
        project = self.get_project(request, organization_id_or_slug, project_id_or_slug)
        services.project_delete(project=project, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectTeamsEndpoint(ProjectEndpoint):
    """`GET /projects/{org}/{project}/teams/`: the project's teams."""

    permission_classes = [ProjectTeamsPermission]

    @doc("A project's teams", 200, [EXAMPLE_TEAM])
    def get(
        self, request: Request, organization_id_or_slug: str, project_id_or_slug: str
    ) -> Response:
        project = self.get_project(request, organization_id_or_slug, project_id_or_slug)
        teams = project.teams.order_by("slug", "id")
        organization = project.organization

        def serialize(page: list[Team]) -> Any:
            for team in page:
                team.organization = organization
            return TeamSerializer(page, many=True, context={"access": self.access}).data

        return self.paginate(teams, serialize)


class ProjectTeamDetailsEndpoint(ProjectEndpoint):
    """`POST` (201) gives the project to one more team; `DELETE` (200) takes it away. Both
    answer the project with its teams."""

    permission_classes = [ProjectTeamsPermission]

    def lookups(
        self, request: Request, organization_id_or_slug: str, project_id_or_slug: str, team: str
    ) -> tuple[Project, Team]:
        project = self.get_project(request, organization_id_or_slug, project_id_or_slug)
        found = selectors.team_get(organization=project.organization, id_or_slug=team)
        if found is None:
            raise exceptions.NotFound("Team does not exist.")
        self.require_team_access(found)
        return project, found

    def with_teams(self, project: Project) -> dict[str, Any]:
        project = Project.objects.prefetch_related(ORDERED_TEAMS).get(pk=project.pk)
        return dict(ProjectSerializer(project, context={"access": self.access}).data)

    @doc("Give a project to one more team", 201, EXAMPLE_PROJECT)
    def post(
        self,
        request: Request,
        organization_id_or_slug: str,
        project_id_or_slug: str,
        team_id_or_slug: str,
    ) -> Response:
        project, team = self.lookups(
            request, organization_id_or_slug, project_id_or_slug, team_id_or_slug
        )
        services.project_team_add(project=project, team=team, actor=self.actor)
        return Response(self.with_teams(project), status=status.HTTP_201_CREATED)

    @doc("Take a project away from a team", 200, EXAMPLE_PROJECT)
    def delete(
        self,
        request: Request,
        organization_id_or_slug: str,
        project_id_or_slug: str,
        team_id_or_slug: str,
    ) -> Response:
        project, team = self.lookups(
            request, organization_id_or_slug, project_id_or_slug, team_id_or_slug
        )
        services.project_team_remove(project=project, team=team, actor=self.actor)
        return Response(self.with_teams(project))


# --- DSN keys ---------------------------------------------------------------------------------

KEY_STATUSES = {"active": True, "inactive": False}


def key_options(data: dict[str, Any]) -> dict[str, Any]:
    """Service keyword arguments from a validated key body."""
    kwargs: dict[str, Any] = {}
    if data.get("name") is not None:
        kwargs["label"] = data["name"]
    if "browserSdkVersion" in data:
        kwargs["browser_sdk_version"] = data["browserSdkVersion"]
    if data.get("dynamicSdkLoaderOptions"):
        kwargs["loader_options"] = dict(data["dynamicSdkLoaderOptions"])
    return kwargs


class ProjectKeysEndpoint(ProjectEndpoint):
    """`GET` a project's DSN keys (newest first; `?status=active|inactive`) and `POST` a new
    one (`name`, `rateLimit`, `browserSdkVersion`, `dynamicSdkLoaderOptions`)."""

    permission_classes = [ProjectKeysPermission]

    @doc("A project's DSN keys", 200, [EXAMPLE_KEY])
    def get(
        self, request: Request, organization_id_or_slug: str, project_id_or_slug: str
    ) -> Response:
        project = self.get_project(request, organization_id_or_slug, project_id_or_slug)
        keys = ProjectKey.objects.filter(project=project).order_by("-id")
        wanted = request.query_params.get("status")
        if wanted in KEY_STATUSES:
            keys = keys.filter(is_active=KEY_STATUSES[wanted])
        elif wanted:
            keys = keys.none()
        return self.paginate(keys, lambda page: ProjectKeySerializer(page, many=True).data)

    @doc("Create a DSN key", 201, EXAMPLE_KEY, request=KeyCreateSerializer)
    def post(
        self, request: Request, organization_id_or_slug: str, project_id_or_slug: str
    ) -> Response:
        project = self.get_project(request, organization_id_or_slug, project_id_or_slug)
        data = self.validated(KeyCreateSerializer)
        kwargs = key_options(data)
        kwargs.setdefault("label", "")
        count, window = rate_limit_value(data.get("rateLimit")) or (None, None)
        key = services.project_key_create(
            project=project,
            rate_limit_count=count,
            rate_limit_window=window,
            actor=self.actor,
            **kwargs,
        )
        return Response(ProjectKeySerializer(key).data, status=status.HTTP_201_CREATED)


class ProjectKeyDetailsEndpoint(ProjectEndpoint):
    """`GET`, `PUT` (`name`, `isActive`, `rateLimit`, loader settings) and `DELETE` one DSN
    key, by its public key. Ingest sees a change within INGEST_CONFIG_CACHE_TTL seconds."""

    permission_classes = [ProjectKeyDetailsPermission]

    def get_key(
        self, request: Request, organization_id_or_slug: str, project_id_or_slug: str, key_id: str
    ) -> ProjectKey:
        project = self.get_project(request, organization_id_or_slug, project_id_or_slug)
        key = selectors.project_key_get(project=project, public_key=key_id)
        if key is None:
            raise Http404
        return key

    @doc("One DSN key", 200, EXAMPLE_KEY)
    def get(
        self,
        request: Request,
        organization_id_or_slug: str,
        project_id_or_slug: str,
        key_id: str,
    ) -> Response:
        key = self.get_key(request, organization_id_or_slug, project_id_or_slug, key_id)
        return Response(ProjectKeySerializer(key).data)

    @doc(
        "Change a DSN key: name, active, rate limit, loader settings",
        200,
        EXAMPLE_KEY,
        request=KeyUpdateSerializer,
    )
    def put(
        self,
        request: Request,
        organization_id_or_slug: str,
        project_id_or_slug: str,
        key_id: str,
    ) -> Response:
        key = self.get_key(request, organization_id_or_slug, project_id_or_slug, key_id)
        data = self.validated(KeyUpdateSerializer)
        kwargs = key_options(data)
        if "rateLimit" in data:
            kwargs["rate_limit"] = rate_limit_value(data["rateLimit"])
        if "isActive" in data:
            kwargs["is_active"] = data["isActive"]
        services.project_key_update(key=key, actor=self.actor, **kwargs)
        return Response(ProjectKeySerializer(key).data)

    @doc("Delete a DSN key", 204)
    def delete(
        self,
        request: Request,
        organization_id_or_slug: str,
        project_id_or_slug: str,
        key_id: str,
    ) -> Response:
        key = self.get_key(request, organization_id_or_slug, project_id_or_slug, key_id)
        services.project_key_delete(key=key, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- members ----------------------------------------------------------------------------------


class MemberEndpoint(WriteEndpoint):
    def teams_for(
        self, organization: Organization, data: dict[str, Any], role: str
    ) -> list[Team] | None:
        """The teams named in a validated member body (None: not given); 400 for an unknown
        slug or a team role the organization role does not give."""
        slugs: list[str] | None = data["team_slugs"]
        if slugs is None:
            return None
        teams = list(Team.objects.filter(organization=organization, slug__in=slugs))
        missing = sorted(set(slugs) - {team.slug for team in teams})
        if missing:
            raise exceptions.ValidationError(
                {"teamRoles": [f"Team {', '.join(missing)} does not exist."]}
            )
        if teams and role == scopes.ROLE_BILLING:
            raise exceptions.ValidationError(
                {"teamRoles": ["The user with a 'billing' role cannot have team-level roles."]}
            )
        given = scopes.team_role_for(role)
        for entry in data["team_roles"]:
            wanted = entry.get("role")
            if wanted == scopes.TEAM_ROLE_ADMIN and given != scopes.TEAM_ROLE_ADMIN:
                raise exceptions.ValidationError(
                    {
                        "teamRoles": [
                            "statsapi keeps no team-level roles: a member's team role follows "
                            "from their organization role, and only admin, manager and owner "
                            "are team admins."
                        ]
                    }
                )
        return teams

    def get_member(
        self, request: Request, organization_id_or_slug: str, member_id: str
    ) -> OrganizationMember:
        organization = self.get_organization(request, organization_id_or_slug)
        members = OrganizationMember.objects.filter(organization=organization).select_related(
            "user"
        )
        if member_id == "me":
            user_pk = request.user.pk if request.user.is_authenticated else None
            member = members.filter(user_id=user_pk).first() if user_pk is not None else None
        else:
            pk = selectors._as_id(member_id)
            member = members.filter(pk=pk).first() if pk is not None else None
        if member is None:
            raise Http404
        member.organization = organization
        return member

    def member_response(self, member: OrganizationMember, **kwargs: Any) -> Response:
        only_owner = (
            member.role == scopes.ROLE_OWNER
            and services.owner_count(organization=member.organization) == 1
        )
        context = {
            "with_roles": True,
            "allowed_roles": self.allowed_roles(),
            "is_only_owner": only_owner,
        }
        return Response(MemberSerializer(member, context=context).data, **kwargs)


class OrganizationMembersEndpoint(MemberEndpoint):
    """`GET` the organization's members (by id; `?query=` filters on email and username) and
    `POST` one (`email`, `orgRole` or `role`, `teamRoles` or `teams`)."""

    permission_classes = [MembersPermission]

    @doc("An organization's members", 200, [EXAMPLE_MEMBER])
    def get(self, request: Request, organization_id_or_slug: str) -> Response:
        organization = self.get_organization(request, organization_id_or_slug)
        members = (
            OrganizationMember.objects.filter(organization=organization)
            .select_related("user")
            .order_by("id")
        )
        query = request.query_params.get("query", "").strip()
        if query:
            for word in query.split():
                term = word.split(":", 1)[-1]
                members = members.filter(
                    Q(user__email__icontains=term) | Q(user__username__icontains=term)
                )
        return self.paginate(members, lambda page: MemberSerializer(page, many=True).data)

    @doc("Add a member by email", 201, EXAMPLE_MEMBER, request=MemberCreateSerializer)
    def post(self, request: Request, organization_id_or_slug: str) -> Response:
        organization = self.get_organization(request, organization_id_or_slug)
        data = self.validated(MemberCreateSerializer)
        role = data["role"] or scopes.ROLE_MEMBER
        if role not in self.allowed_roles():
            raise exceptions.ValidationError(
                {"orgRole": ["You do not have permission to set that org-level role"]}
            )
        teams = self.teams_for(organization, data, role) or []
        member = services.member_invite(
            organization=organization,
            email=data["email"],
            role=role,
            teams=teams,
            actor=self.actor,
        )
        return self.member_response(member, status=status.HTTP_201_CREATED)


class OrganizationMemberDetailsEndpoint(MemberEndpoint):
    """`GET`, `PUT` (`orgRole`, `teamRoles`) and `DELETE` one member, by id (or `me`)."""

    permission_classes = [MemberDetailsPermission]

    def is_self(self, member: OrganizationMember) -> bool:
        return self.access.member is not None and self.access.member.pk == member.pk

    @doc("One member, with roles", 200, EXAMPLE_MEMBER)
    def get(self, request: Request, organization_id_or_slug: str, member_id: str) -> Response:
        return self.member_response(self.get_member(request, organization_id_or_slug, member_id))

    @doc("Change a member's role and teams", 200, EXAMPLE_MEMBER, request=MemberUpdateSerializer)
    def put(self, request: Request, organization_id_or_slug: str, member_id: str) -> Response:
        member = self.get_member(request, organization_id_or_slug, member_id)
        data = self.validated(MemberUpdateSerializer)
        allowed = self.allowed_roles()
        role = data["role"]
        if role is not None and role != member.role:
            if self.is_self(member):
                raise exceptions.ValidationError(
                    {"detail": "You cannot make changes to your own role."}
                )
            if role not in allowed or member.role not in allowed:
                return Response(
                    {"role": "You do not have permission to assign the given role."},
                    status=status.HTTP_403_FORBIDDEN,
                )
        if member.role not in allowed and not self.is_self(member):
            raise exceptions.PermissionDenied(FORBIDDEN)
        teams = self.teams_for(member.organization, data, role or member.role)
        services.member_update(member=member, role=role, teams=teams, actor=self.actor)
        return self.member_response(member)

    @doc("Remove a member", 204)
    def delete(self, request: Request, organization_id_or_slug: str, member_id: str) -> Response:
        member = self.get_member(request, organization_id_or_slug, member_id)
        if not self.is_self(member):
            if not self.access.has_any_scope(MEMBER_WRITE):
                raise exceptions.PermissionDenied(FORBIDDEN)
            if member.role not in self.allowed_roles():
                raise exceptions.ValidationError(
                    {"detail": "You cannot remove a member who has more access than you."}
                )
        services.member_remove(member=member, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamRoleUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    teamRole = serializers.ChoiceField(choices=scopes.TEAM_ROLES)


class OrganizationMemberTeamDetailsEndpoint(MemberEndpoint):
    """One member in one team (Terraform's `sentry_team_member`): `POST` puts them in it
    (201; 204 when they already are), `DELETE` takes them out (200), `PUT` `{"teamRole"}`
    (200 `{"isActive": true, "teamRole"}`) accepts the team role their organization role
    gives (statsapi keeps no other). Callers without `member:write` act only on their own
    teams."""

    permission_classes = [MemberTeamsPermission]

    def lookups(
        self, request: Request, organization_id_or_slug: str, member_id: str, team_slug: str
    ) -> tuple[OrganizationMember, Team]:
        member = self.get_member(request, organization_id_or_slug, member_id)
        team = selectors.team_get(organization=member.organization, id_or_slug=team_slug)
        if team is None:
            raise Http404
        team.organization = member.organization
        if not self.access.has_any_scope(MEMBER_WRITE):
            self.require_team_access(team)
        return member, team

    def team_member(self, member: OrganizationMember, team: Team) -> dict[str, Any]:
        data = dict(TeamSerializer(team, context={"access": self.access}).data)
        is_member = member.teams.filter(pk=team.pk).exists()
        data["isMember"] = is_member
        data["teamRole"] = scopes.team_role_for(member.role) if is_member else None
        return data

    @doc("Put a member in a team", 201, EXAMPLE_TEAM)
    def post(
        self, request: Request, organization_id_or_slug: str, member_id: str, team_id_or_slug: str
    ) -> Response:
        member, team = self.lookups(request, organization_id_or_slug, member_id, team_id_or_slug)
        if member.role == scopes.ROLE_BILLING:
            raise exceptions.ValidationError(
                {"detail": "A member with the billing role cannot join teams."}
            )
        if not services.team_member_add(team=team, member=member, actor=self.actor):
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(self.team_member(member, team), status=status.HTTP_201_CREATED)

    @doc(
        "Confirm a member's team role",
        200,
        {"isActive": True, "teamRole": "contributor"},
        request=TeamRoleUpdateSerializer,
    )
    def put(
        self, request: Request, organization_id_or_slug: str, member_id: str, team_id_or_slug: str
    ) -> Response:
        member, team = self.lookups(request, organization_id_or_slug, member_id, team_id_or_slug)
        role = self.validated(TeamRoleUpdateSerializer)["teamRole"]
        if not member.teams.filter(pk=team.pk).exists():
            raise exceptions.ValidationError({"detail": "The member is not in this team."})
        given = scopes.team_role_for(member.role)
        if role != given:
            raise exceptions.ValidationError(
                {
                    "teamRole": [
                        f"statsapi keeps no team-level roles: this member's organization role "
                        f"({member.role}) makes them {given} of each of their teams."
                    ]
                }
            )
        return Response({"isActive": True, "teamRole": role})

    @doc("Take a member out of a team", 200, EXAMPLE_TEAM)
    def delete(
        self, request: Request, organization_id_or_slug: str, member_id: str, team_id_or_slug: str
    ) -> Response:
        member, team = self.lookups(request, organization_id_or_slug, member_id, team_id_or_slug)
        services.team_member_remove(team=team, member=member, actor=self.actor)
        return Response(self.team_member(member, team))
