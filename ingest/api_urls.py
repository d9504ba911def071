"""Routes of ingest's part of the Sentry API (mounted under /api/0/; see api.py)."""

from django.urls import path

from ingest import api

PROJECT = "projects/<str:organization_id_or_slug>/<str:project_id_or_slug>"

urlpatterns = [
    path(f"{PROJECT}/filters/", api.ProjectFiltersEndpoint.as_view(), name="project-filters"),
    path(
        f"{PROJECT}/filters/<str:filter_id>/",
        api.ProjectFilterDetailsEndpoint.as_view(),
        name="project-filter-details",
    ),
]
