"""URL wiring: the Sentry-compatible API under /api/0/, the admin under /admin/."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/0/", include("organizations.urls")),
    path("api/", include("ingest.urls")),
]
