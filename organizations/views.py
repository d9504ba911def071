"""Bases of the read-only API endpoints: Sentry's response headers, HEAD, and the lookup of
the organization (and project) of the path with the checks in Sentry's order (see
permissions.py). The directory endpoints (directory.py) and the stats endpoints (usage.views)
build on them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404
from django.utils import translation
from django.utils.cache import patch_vary_headers
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from organizations import selectors
from organizations.access import Access, access_for
from organizations.models import Organization, Project


class ApiEndpoint(APIView):
    """Base of the read-only API endpoints: Sentry's response headers on every answer
    (errors included), HEAD answered like GET without a body."""

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["X-Frame-Options"] = "deny"
        response["X-Content-Type-Options"] = "nosniff"
        response["X-XSS-Protection"] = "1; mode=block"
        response.headers.setdefault(
            "Content-Language", translation.get_language() or settings.LANGUAGE_CODE
        )
        # Token requests never touch the session, so SessionMiddleware would not add Cookie.
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        if request.method == "HEAD" and isinstance(response, Response):
            response.render()
            length = len(response.content)
            response.content = b""
            response["Content-Length"] = str(length)
        return response

    def head(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.get(request, *args, **kwargs)  # type: ignore[attr-defined, no-any-return]


class OrganizationScopedEndpoint(ApiEndpoint):
    """Looks up the organization of the path and the caller's access in it: 404 for an
    unknown organization, then 403 without the permission's scope there.

    ``reads_from_cache``: whether reads (GET, HEAD, OPTIONS) take the organization, the
    caller's membership and the project from the process's access cache (organizations.cache):
    a change made through another process is then seen within ``ACCESS_CACHE_TTL``. The stats
    and directory endpoints do (dashboards poll them); the provisioning endpoints do not, so a
    tool reading back what it has just written sees it, whichever process answers. Writes
    always read the database."""

    access: Access
    reads_from_cache = True

    def cached_lookups(self, request: Request) -> bool:
        """Whether this request's lookups may come from the access cache."""
        return self.reads_from_cache and request.method in SAFE_METHODS

    def get_organization(self, request: Request, organization_id_or_slug: str) -> Organization:
        """The organization of the path (404 if none), with `self.access` set (403 without
        the permission's scope there), looked up as ``cached_lookups`` says."""
        cached = self.cached_lookups(request)
        organization = selectors.organization_get(id_or_slug=organization_id_or_slug, cached=cached)
        if organization is None:
            raise Http404
        self.access = access_for(request, organization, cached=cached)
        self.check_object_permissions(request, organization)
        return organization

    def get_project(
        self, request: Request, organization_id_or_slug: str, project_id_or_slug: str
    ) -> Project:
        """A project the caller may see: 404 if it does not exist, 403 if not visible."""
        organization = self.get_organization(request, organization_id_or_slug)
        cached = self.cached_lookups(request)
        project = selectors.project_get(
            organization=organization, id_or_slug=project_id_or_slug, cached=cached
        )
        if project is None:
            raise Http404
        if not selectors.project_is_visible(access=self.access, project=project, cached=cached):
            raise PermissionDenied
        return project
