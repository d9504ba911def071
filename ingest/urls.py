"""Ingest routes, included at ``api/`` after ``api/0/``: project ids are digits and never 0,
so nothing under ``/api/0/`` can match."""

from django.urls import re_path

from ingest import views

PROJECT_ID = r"(?P<project_id>[1-9][0-9]{0,17})"

urlpatterns = [
    re_path(rf"^{PROJECT_ID}/envelope/?$", views.envelope_endpoint, name="ingest-envelope"),
    re_path(rf"^{PROJECT_ID}/store/?$", views.store_endpoint, name="ingest-store"),
]
