"""Routes under /api/0/ (see statsapi/urls.py). Trailing slashes are part of each route."""

from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("organizations.directory_urls")),
    path("", include("organizations.provisioning_urls")),
]
