"""Routes of the stats endpoints, under /api/0/ (see statsapi/urls.py). Trailing slashes are
part of each route."""

from django.urls import URLPattern, URLResolver, path

from usage import views

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "organizations/<str:organization_id_or_slug>/stats/",
        views.OrganizationStatsEndpoint.as_view(),
        name="organization-stats",
    ),
    path(
        "organizations/<str:organization_id_or_slug>/stats_v2/",
        views.OrganizationStatsV2Endpoint.as_view(),
        name="organization-stats-v2",
    ),
    path(
        "organizations/<str:organization_id_or_slug>/stats-summary/",
        views.OrganizationStatsSummaryEndpoint.as_view(),
        name="organization-stats-summary",
    ),
    path(
        "projects/<str:organization_id_or_slug>/<str:project_id_or_slug>/stats/",
        views.ProjectStatsEndpoint.as_view(),
        name="project-stats",
    ),
    path(
        "projects/<str:organization_id_or_slug>/<str:project_id_or_slug>/keys/<str:key_id>/stats/",
        views.ProjectKeyStatsEndpoint.as_view(),
        name="project-key-stats",
    ),
    path(
        "teams/<str:organization_id_or_slug>/<str:team_id_or_slug>/stats/",
        views.TeamStatsEndpoint.as_view(),
        name="team-stats",
    ),
]
