"""Routes under /api/0/ (see statsapi/urls.py). Trailing slashes are part of each route."""

from django.urls import URLPattern, URLResolver, include, path

from organizations import views

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "organizations/<str:organization_id_or_slug>/stats/",
        views.OrganizationStatsEndpoint.as_view(),
        name="organization-stats",
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
    path("", include("organizations.directory_urls")),
    path("", include("organizations.provisioning_urls")),
]
