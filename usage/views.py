"""The stats endpoints: v1 (organization, project, team and DSN-key stats) and the usage API
(stats_v2, stats-summary).

Each view looks up its objects (checks in Sentry's order, see organizations.permissions),
validates the query string with a serializer, calls one selector and returns its result.
"""

from __future__ import annotations

from django.http import Http404, HttpResponseBase
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from organizations import selectors as tenancy
from organizations.models import ProjectKey
from organizations.permissions import OrganizationPermission, ProjectPermission, TeamPermission
from organizations.views import OrganizationScopedEndpoint
from usage import outcomes, selectors
from usage.outcome_query import OutcomeQuery, OutcomeQuerySerializer
from usage.serializers import (
    OrganizationStatsSerializer,
    ProjectStatsSerializer,
    StatsWindowSerializer,
    TeamStatsSerializer,
    series_representation,
    summary_csv_response,
    summary_entry_representation,
)
from usage.window import format_rfc3339


class OrganizationStatsEndpoint(OrganizationScopedEndpoint):
    """Event counts of an organization, or of each of its projects (`group=project`)."""

    permission_classes = [OrganizationPermission]

    def get(self, request: Request, organization_id_or_slug: str) -> Response:
        organization = self.get_organization(request, organization_id_or_slug)
        serializer = OrganizationStatsSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        window = params["window"]
        if params["group"] == "project":
            by_project = selectors.organization_project_stats_get(
                access=self.access,
                stat=params["stat"],
                project_ids=params["projectID"],
                ids=params["id"],
                window=window,
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
            window=window,
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
            window=params["window"],
        )
        return Response(series_representation(series))


class TeamStatsEndpoint(OrganizationScopedEndpoint):
    """The team's visible projects' series, summed point by point."""

    permission_classes = [TeamPermission]

    def get(self, request: Request, organization_id_or_slug: str, team_id_or_slug: str) -> Response:
        organization = self.get_organization(request, organization_id_or_slug)
        team = tenancy.team_get(organization=organization, id_or_slug=team_id_or_slug)
        if team is None:
            raise Http404
        serializer = TeamStatsSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        series = selectors.team_stats_get(
            access=self.access,
            team=team,
            stat=params["stat"],
            window=params["window"],
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
        key: ProjectKey | None = tenancy.project_key_get(project=project, public_key=key_id)
        if key is None:
            raise Http404
        serializer = StatsWindowSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        return Response(selectors.project_key_stats_get(key=key, window=params["window"]))


class OutcomeEndpoint(OrganizationScopedEndpoint):
    """Shared by stats_v2 and stats-summary: the organization, then the query, then the
    projects it names (403 for one the caller may not see)."""

    permission_classes = [OrganizationPermission]
    summary = False

    def get_query(self, request: Request, organization_id_or_slug: str) -> OutcomeQuery:
        self.get_organization(request, organization_id_or_slug)
        serializer = OutcomeQuerySerializer(data=request.query_params, summary=self.summary)
        serializer.is_valid(raise_exception=True)
        query: OutcomeQuery = serializer.validated_data["query"]
        return query


class OrganizationStatsV2Endpoint(OutcomeEndpoint):
    """Outcome counts of an organization, grouped by outcome, category, reason or project
    (spec/stats-v2.md section 1)."""

    def get(self, request: Request, organization_id_or_slug: str) -> Response:
        query = self.get_query(request, organization_id_or_slug)
        try:
            result = outcomes.outcome_stats_get(access=self.access, query=query)
        except outcomes.ProjectNotVisible:
            raise PermissionDenied from None
        return Response(
            {
                "start": format_rfc3339(query.intervals[0]),
                "end": format_rfc3339(query.window_end),
                "intervals": [format_rfc3339(ts) for ts in query.intervals],
                "groups": result["groups"],
            }
        )


class OrganizationStatsSummaryEndpoint(OutcomeEndpoint):
    """Outcome totals per project and category (spec/stats-v2.md section 2); ``download``
    answers CSV."""

    summary = True

    def get(self, request: Request, organization_id_or_slug: str) -> HttpResponseBase:
        query = self.get_query(request, organization_id_or_slug)
        try:
            projects = outcomes.outcome_summary_get(access=self.access, query=query)
        except outcomes.ProjectNotVisible:
            raise PermissionDenied from None
        if request.query_params.get("download"):
            return summary_csv_response(projects)
        return Response(
            {
                "start": format_rfc3339(query.intervals[0]),
                "end": format_rfc3339(query.window_end),
                "projects": [
                    {
                        "id": project_id,
                        "slug": slug,
                        "stats": [summary_entry_representation(entry) for entry in entries],
                    }
                    for project_id, slug, entries in projects
                ],
            }
        )
