"""URL wiring: the Sentry-compatible API under /api/0/, ingest under /api/<project_id>/, the
admin under /admin/, health checks at /_health/."""

from django.contrib import admin
from django.urls import include, path

from statsapi.health import health

urlpatterns = [
    path("_health/", health, name="health"),
    path("admin/", admin.site.urls),
    path("api/0/", include("organizations.urls")),
    path("api/", include("ingest.urls")),
]
