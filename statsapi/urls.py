"""URL wiring: the Sentry-compatible API under /api/0/, ingest under /api/<project_id>/, the
admin under /admin/, health checks at /_health/."""

from django.contrib import admin
from django.urls import include, path

from statsapi.health import health

admin.site.site_header = "statsapi administration"
admin.site.site_title = "statsapi admin"
admin.site.index_title = "Organizations, projects, DSN keys and tokens"

handler400 = "statsapi.errors.bad_request"
handler403 = "statsapi.errors.permission_denied"
handler404 = "statsapi.errors.page_not_found"
handler500 = "statsapi.errors.server_error"

urlpatterns = [
    path("_health/", health, name="health"),
    path("admin/", admin.site.urls),
    path("api/0/", include("organizations.urls")),
    path("api/0/", include("ingest.api_urls")),
    path("api/", include("ingest.urls")),
]
