"""Ingest routes, included at ``api/`` after ``api/0/``. The project id segment takes anything
so that an id that cannot exist (0, negative, not digits, past bigint) gets the ingest view's
JSON 404 with CORS headers rather than Django's HTML page."""

from django.urls import re_path

from ingest import views

urlpatterns = [
    re_path(r"^(?P<project_id>[^/]+)/envelope/?$", views.envelope_endpoint, name="ingest-envelope"),
    re_path(r"^(?P<project_id>[^/]+)/store/?$", views.store_endpoint, name="ingest-store"),
]
