"""The stats endpoints: v1 (organization, project, team and DSN-key stats) and the usage API
(stats_v2, stats-summary).

Each view looks up its objects (checks in Sentry's order, see organizations.permissions),
validates the query string with a serializer, calls one selector and returns its result.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponseBase
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from organizations import selectors as tenancy
from organizations.models import ProjectKey
from organizations.permissions import OrganizationPermission, ProjectPermission, TeamPermission
from organizations.views import OrganizationScopedEndpoint
from statsapi.schema import SERIES, series_example, stat_parameter, stats_window_parameters
from usage import outcomes, selectors
from usage.catalogue import Field
from usage.outcome_query import OutcomeQuery, OutcomeQuerySerializer
from usage.selectors import (
    ORGANIZATION_PROJECT_STATS,
    ORGANIZATION_STATS,
    PROJECT_STAT_CHOICES,
    TEAM_STATS,
)
from usage.serializers import (
    OrganizationStatsSerializer,
    ProjectStatsSerializer,
    StatsWindowSerializer,
    TeamStatsSerializer,
    series_by_key_json,
    series_json,
    stats_v2_json,
    summary_csv_response,
    summary_entry_representation,
)
from usage.window import format_rfc3339

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
                ("accepted", "Of those, accepted (read from the key's own accepted outcomes)."),
            )
        },
        "required": ["ts", "total", "dropped", "filtered", "accepted"],
    },
}


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
        window = params["window"]
        if params["group"] == "project":
            by_project = selectors.organization_project_stats_get(
                access=self.access,
                stat=params["stat"],
                project_ids=params["projectID"],
                ids=params["id"],
                window=window,
            )
            return Response(series_by_key_json(by_project))
        series = selectors.organization_stats_get(
            organization=organization,
            stat=params["stat"],
            ids=params["id"],
            window=window,
        )
        if series is None:
            return Response([])
        return Response(series_json(series))


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
            window=params["window"],
        )
        return Response(series_json(series))


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
        team = tenancy.team_get(organization=organization, id_or_slug=team_id_or_slug, cached=True)
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
        return Response([] if series is None else series_json(series))


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
        key: ProjectKey | None = tenancy.project_key_get(
            project=project, public_key=key_id, cached=True
        )
        if key is None:
            raise Http404
        serializer = StatsWindowSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        return Response(selectors.project_key_stats_get(key=key, window=params["window"]))


def _list_parameter(name: str, description: str, enum: list[str] | None = None) -> Any:
    items: dict[str, Any] = {"type": "string"}
    if enum is not None:
        items["enum"] = enum
    return OpenApiParameter(
        name, {"type": "array", "items": items}, description=description, explode=True
    )


OUTCOME_QUERY_PARAMETERS = [
    _list_parameter(
        "field", "`sum(quantity)` and/or `sum(times_seen)`; required.", [f.value for f in Field]
    ),
    _list_parameter(
        "category",
        "Data categories (`error` means error, default and security); filter or group by "
        "category (stats_v2).",
    ),
    _list_parameter("outcome", "Outcomes to keep (any case)."),
    _list_parameter("reason", "Reasons to keep; every value is used."),
    _list_parameter("key_id", "DSN key ids to keep."),
    _list_parameter("project", "Project ids to keep; `-1` means every visible project."),
    OpenApiParameter("statsPeriod", str, description="`<n><s|m|h|d|w>`; wins over `start`/`end`."),
    OpenApiParameter(
        "start", str, description="ISO 8601 (no zone means UTC) or Unix seconds; with `end`."
    ),
    OpenApiParameter("end", str, description="As `start`."),
    OpenApiParameter(
        "interval",
        str,
        description="`<n><unit>`, default `1h`; divides a day; `10s` and up while its data "
        "is kept for the whole window.",
    ),
]
STATS_V2_EXAMPLE = {
    "start": "2026-11-30T12:00:00Z",
    "end": "2026-11-30T15:00:00Z",
    "intervals": ["2026-11-30T12:00:00Z", "2026-11-30T13:00:00Z", "2026-11-30T14:00:00Z"],
    "groups": [
        {
            "by": {"outcome": "accepted", "category": "error"},
            "totals": {"sum(quantity)": 37},
            "series": {"sum(quantity)": [12, 0, 25]},
        }
    ],
}
STATS_SUMMARY_EXAMPLE = {
    "start": "2026-11-30T12:00:00Z",
    "end": "2026-12-01T13:00:00Z",
    "projects": [
        {
            "id": 42,
            "slug": "web",
            "stats": [
                {
                    "category": "error",
                    "outcomes": {
                        "accepted": 1200,
                        "filtered": 10,
                        "rate_limited": 190,
                        "invalid": 0,
                        "abuse": 0,
                        "client_discard": 7,
                        "cardinality_limited": 0,
                    },
                    "totals": {"dropped": 190, "sum(quantity)": 1407},
                }
            ],
        }
    ],
}
COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}


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

    @extend_schema(
        operation_id="organization_stats_v2",
        summary="Outcome counts of an organization (the usage API)",
        parameters=[
            *OUTCOME_QUERY_PARAMETERS,
            _list_parameter(
                "groupBy",
                "Group by these (repeatable).",
                ["outcome", "category", "reason", "project"],
            ),
        ],
        responses={
            200: {
                "type": "object",
                "properties": {
                    "start": {"type": "string"},
                    "end": {"type": "string"},
                    "intervals": {"type": "array", "items": {"type": "string"}},
                    "groups": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "by": {"type": "object"},
                                "totals": COUNTS,
                                "series": {
                                    "type": "object",
                                    "additionalProperties": {
                                        "type": "array",
                                        "items": {"type": "integer"},
                                    },
                                },
                            },
                            "required": ["by", "totals", "series"],
                        },
                    },
                },
                "required": ["start", "end", "intervals", "groups"],
            }
        },
        examples=[OpenApiExample("by outcome and category", STATS_V2_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, organization_id_or_slug: str) -> Response:
        query = self.get_query(request, organization_id_or_slug)
        try:
            groups = outcomes.outcome_stats_get(access=self.access, query=query)
        except outcomes.ProjectNotVisible:
            raise PermissionDenied from None
        return Response(
            stats_v2_json(end=query.window_end, intervals=query.intervals, groups=groups)
        )


class OrganizationStatsSummaryEndpoint(OutcomeEndpoint):
    """Outcome totals per project and category (spec/stats-v2.md section 2); ``download``
    answers CSV."""

    summary = True

    @extend_schema(
        operation_id="organization_stats_summary",
        summary="Outcome totals per project and category (the usage API)",
        parameters=[
            *OUTCOME_QUERY_PARAMETERS,
            OpenApiParameter("download", str, description="Any non-empty value: the same as CSV."),
        ],
        responses={
            (200, "application/json"): {
                "type": "object",
                "properties": {
                    "start": {"type": "string"},
                    "end": {"type": "string"},
                    "projects": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "integer"},
                                "slug": {"type": "string"},
                                "stats": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "category": {"type": "string"},
                                            "reason": {"type": ["string", "null"]},
                                            "outcomes": COUNTS,
                                            "totals": COUNTS,
                                        },
                                        "required": ["category", "outcomes", "totals"],
                                    },
                                },
                            },
                            "required": ["id", "slug", "stats"],
                        },
                    },
                },
                "required": ["start", "end", "projects"],
            },
            (200, "text/csv"): {"type": "string"},
        },
        examples=[OpenApiExample("per project", STATS_SUMMARY_EXAMPLE, response_only=True)],
    )
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
