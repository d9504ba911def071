"""URL wiring: the Sentry-compatible API under /api/0/ (the stats endpoints from usage, the
rest from organizations), ingest under /api/<project_id>/, the admin under /admin/, health
checks at /_health/, Prometheus metrics at /metrics, the OpenAPI schema at /api/0/schema/ and
its interactive docs at /api/0/docs/."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from statsapi.health import health
from statsapi.metrics import MetricsView
from usage.admin_charts import usage_overview

admin.site.site_header = "statsapi administration"
admin.site.site_title = "statsapi admin"
admin.site.index_title = "Organizations, projects, DSN keys and tokens"
# The admin's "View site" link: the API documentation (there is no other public site).
admin.site.site_url = "/api/0/docs/"

handler400 = "statsapi.errors.bad_request"
handler403 = "statsapi.errors.permission_denied"
handler404 = "statsapi.errors.page_not_found"
handler500 = "statsapi.errors.server_error"

urlpatterns = [
    path("_health/", health, name="health"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("admin/usage/", admin.site.admin_view(usage_overview), name="admin-usage"),
    path("admin/", admin.site.urls),
    path("api/0/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/0/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/0/", include("usage.urls")),
    path("api/0/", include("organizations.urls")),
    path("api/0/", include("ingest.api_urls")),
    path("api/", include("ingest.urls")),
]
