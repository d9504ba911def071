"""The stats endpoints: organization, project, team and DSN-key stats.

Each view looks up its objects (checks in Sentry's order, see permissions.py), validates the
query string with a serializer, calls one selector and returns its result.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404
from django.utils import translation
from django.utils.cache import patch_vary_headers
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from organizations import selectors
from organizations.access import Access, access_for
from organizations.models import Organization, Project, ProjectKey
from organizations.permissions import OrganizationPermission, ProjectPermission, TeamPermission
from organizations.selectors import (
    ORGANIZATION_PROJECT_STATS,
    ORGANIZATION_STATS,
    PROJECT_STAT_CHOICES,
    TEAM_STATS,
)
from organizations.serializers import (
    OrganizationStatsSerializer,
    ProjectStatsSerializer,
    StatsWindowSerializer,
    TeamStatsSerializer,
    series_representation,
)
from statsapi.schema import SERIES, series_example, stat_parameter, stats_window_parameters

KEY_STATS_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            name: {"type": "integer", "description": description}
            for name, description in (
                ("ts", "Start of the bucket, Unix seconds."),
                ("total", "Events received with the key."),
                ("dropped", "Of those, refused (rate limits, quotas)."),
                ("filtered", "Of those, filtered by inbound filters."),
                ("accepted", "total - dropped - filtered."),
            )
        },
        "required": ["ts", "total", "dropped", "filtered", "accepted"],
    },
}


class ApiEndpoint(APIView):
    """Base of the read-only API endpoints: Sentry's response headers on every answer
    (errors included), HEAD answered like GET without a body."""

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["X-Frame-Options"] = "deny"
        response["X-Content-Type-Options"] = "nosniff"
        response["X-XSS-Protection"] = "1; mode=block"
        response.headers.setdefault(
            "Content-Language", translation.get_language() or settings.LANGUAGE_CODE
        )
        # Token requests never touch the session, so SessionMiddleware would not add Cookie.
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        if request.method == "HEAD" and isinstance(response, Response):
            response.render()
            length = len(response.content)
            response.content = b""
            response["Content-Length"] = str(length)
        return response

    def head(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.get(request, *args, **kwargs)  # type: ignore[attr-defined, no-any-return]


class OrganizationScopedEndpoint(ApiEndpoint):
    """Looks up the organization of the path and the caller's access in it: 404 for an
    unknown organization, then 403 without the permission's scope there."""

    access: Access

    def get_organization(self, request: Request, organization_id_or_slug: str) -> Organization:
        """The organization of the path (404 if none), with `self.access` set (403 without
        the permission's scope there). Reads (GET, HEAD, OPTIONS) come from the process's
        access cache; writes read the database."""
        organization = selectors.organization_get(
            id_or_slug=organization_id_or_slug, cached=request.method in SAFE_METHODS
        )
        if organization is None:
            raise Http404
        self.access = access_for(request, organization)
        self.check_object_permissions(request, organization)
        return organization

    def get_project(
        self, request: Request, organization_id_or_slug: str, project_id_or_slug: str
    ) -> Project:
        """A project the caller may see: 404 if it does not exist, 403 if not visible."""
        organization = self.get_organization(request, organization_id_or_slug)
        project = selectors.project_get(
            organization=organization,
            id_or_slug=project_id_or_slug,
            cached=request.method in SAFE_METHODS,
        )
        if project is None:
            raise Http404
        if not selectors.project_is_visible(access=self.access, project=project):
            raise PermissionDenied
        return project


class OrganizationStatsEndpoint(OrganizationScopedEndpoint):
    """Event counts of an organization, or of each of its projects (`group=project`)."""

    permission_classes = [OrganizationPermission]

    @extend_schema(
        operation_id="organization_stats",
        summary="Event counts of an organization (v1)",
        parameters=[
            stat_parameter(
                dict.fromkeys((*ORGANIZATION_STATS, *ORGANIZATION_PROJECT_STATS)), "received"
            ),
            OpenApiParameter(
                "group",
                {"type": "string", "enum": ["organization", "project"]},
                description="`organization` (default): one series; `project`: one series per "
                "project the caller can see, keyed by project id (`[]` when there are none).",
            ),
            OpenApiParameter(
                "projectID",
                {"type": "array", "items": {"type": "integer"}},
                description="With `group=project`: only these projects (repeatable).",
            ),
            OpenApiParameter(
                "id",
                {"type": "array", "items": {"type": "integer"}},
                description="Only these projects (`group=project`) or none but this "
                "organization (repeatable).",
            ),
            *stats_window_parameters(),
        ],
        responses={
            200: {
                "anyOf": [
                    SERIES,
                    {"type": "object", "additionalProperties": SERIES},
                ]
            }
        },
        examples=[
            OpenApiExample("one series", series_example(), response_only=True),
            OpenApiExample(
                "group=project",
                {"1": series_example(2), "4": series_example(2)},
                response_only=True,
            ),
        ],
    )
    def get(self, request: Request, organization_id_or_slug: str) -> Response:
        organization = self.get_organization(request, organization_id_or_slug)
        serializer = OrganizationStatsSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        window = {"start": params["start"], "end": params["end"], "rollup": params["rollup"]}
        if params["group"] == "project":
            by_project = selectors.organization_project_stats_get(
                access=self.access,
                stat=params["stat"],
                project_ids=params["projectID"],
                ids=params["id"],
                **window,
            )
            if not by_project:
                return Response([])
            return Response(
                {str(pk): series_representation(points) for pk, points in by_project.items()}
            )
        series = selectors.organization_stats_get(
            organization=organization,
            stat=params["stat"],
            ids=params["id"],
            **window,
        )
        return Response(series_representation(series or []))


class ProjectStatsEndpoint(OrganizationScopedEndpoint):
    """Event counts of one project: one `[timestamp, count]` series."""

    permission_classes = [ProjectPermission]

    @extend_schema(
        operation_id="project_stats",
        summary="Event counts of a project (v1)",
        parameters=[stat_parameter(PROJECT_STAT_CHOICES, "received"), *stats_window_parameters()],
        responses={200: SERIES},
        examples=[OpenApiExample("hourly received", series_example(), response_only=True)],
    )
    def get(
        self, request: Request, organization_id_or_slug: str, project_id_or_slug: str
    ) -> Response:
        project = self.get_project(request, organization_id_or_slug, project_id_or_slug)
        serializer = ProjectStatsSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        series = selectors.project_stats_get(
            project=project,
            stat=params["stat"],
            start=params["start"],
            end=params["end"],
            rollup=params["rollup"],
        )
        return Response(series_representation(series))


class TeamStatsEndpoint(OrganizationScopedEndpoint):
    """The team's visible projects' series, summed point by point."""

    permission_classes = [TeamPermission]

    @extend_schema(
        operation_id="team_stats",
        summary="Event counts of a team's projects, summed (v1)",
        parameters=[stat_parameter(TEAM_STATS, "generated"), *stats_window_parameters()],
        responses={200: SERIES},
        examples=[OpenApiExample("hourly generated", series_example(), response_only=True)],
    )
    def get(self, request: Request, organization_id_or_slug: str, team_id_or_slug: str) -> Response:
        organization = self.get_organization(request, organization_id_or_slug)
        team = selectors.team_get(
            organization=organization, id_or_slug=team_id_or_slug, cached=True
        )
        if team is None:
            raise Http404
        serializer = TeamStatsSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        series = selectors.team_stats_get(
            access=self.access,
            team=team,
            stat=params["stat"],
            start=params["start"],
            end=params["end"],
            rollup=params["rollup"],
        )
        return Response([] if series is None else series_representation(series))


class ProjectKeyStatsEndpoint(OrganizationScopedEndpoint):
    """Per bucket counts of one DSN key: total, dropped, filtered and accepted."""

    permission_classes = [ProjectPermission]

    @extend_schema(
        operation_id="project_key_stats",
        summary="Event counts of a DSN key",
        parameters=[
            OpenApiParameter(
                "key_id",
                str,
                OpenApiParameter.PATH,
                description="The key's public key (32 hex digits), as in its DSN.",
            ),
            *stats_window_parameters(),
        ],
        responses={200: KEY_STATS_SCHEMA},
        examples=[
            OpenApiExample(
                "two hourly buckets",
                [
                    {"ts": 1795586400, "total": 120, "dropped": 4, "filtered": 6, "accepted": 110},
                    {"ts": 1795590000, "total": 98, "dropped": 0, "filtered": 2, "accepted": 96},
                ],
                response_only=True,
            )
        ],
    )
    def get(
        self,
        request: Request,
        organization_id_or_slug: str,
        project_id_or_slug: str,
        key_id: str,
    ) -> Response:
        project = self.get_project(request, organization_id_or_slug, project_id_or_slug)
        key: ProjectKey | None = selectors.project_key_get(
            project=project, public_key=key_id, cached=True
        )
        if key is None:
            raise Http404
        serializer = StatsWindowSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        return Response(
            selectors.project_key_stats_get(
                key=key, start=params["start"], end=params["end"], rollup=params["rollup"]
            )
        )
