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
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from organizations import selectors
from organizations.access import Access, access_for
from organizations.models import Organization, Project, ProjectKey
from organizations.permissions import OrganizationPermission, ProjectPermission, TeamPermission
from organizations.serializers import (
    OrganizationStatsSerializer,
    ProjectStatsSerializer,
    StatsWindowSerializer,
    TeamStatsSerializer,
    series_representation,
)


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
