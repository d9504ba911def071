"""Routes of the directory endpoints (mounted under /api/0/)."""

from django.urls import path

from organizations import directory, provisioning

urlpatterns = [
    path("", directory.IndexEndpoint.as_view(), name="api-index"),
    path(
        "organizations/",
        directory.OrganizationIndexEndpoint.as_view(),
        name="organization-index",
    ),
    path(
        "organizations/<str:organization_id_or_slug>/",
        provisioning.OrganizationDetailsEndpoint.as_view(),
        name="organization-details",
    ),
    path(
        "organizations/<str:organization_id_or_slug>/projects/",
        directory.OrganizationProjectsEndpoint.as_view(),
        name="organization-projects",
    ),
    path(
        "projects/<str:organization_id_or_slug>/<str:project_id_or_slug>/",
        provisioning.ProjectDetailsEndpoint.as_view(),
        name="project-details",
    ),
]
