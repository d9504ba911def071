"""The endpoints clients call before any stats: who am I, my organizations, their projects.

- `GET /api/0/`                                   IndexEndpoint
- `GET /api/0/organizations/`                     OrganizationIndexEndpoint
- `GET /api/0/organizations/{org}/projects/`      OrganizationProjectsEndpoint

One organization and one project (`GET`, and the writes) are in organizations/provisioning.py.

Checks run in Sentry's order: authentication (401), the token's scopes (403), the lookup
(404), the caller's access in the organization (403).
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.db.models import Prefetch
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from organizations import selectors
from organizations.directory_serializers import (
    OrganizationSerializer,
    ProjectSerializer,
    UserSerializer,
)
from organizations.models import ApiToken, OrgAuthToken, Team
from organizations.pagination import SentryCursorPagination
from organizations.permissions import OrganizationPermission
from organizations.views import ApiEndpoint, OrganizationScopedEndpoint

ORDERED_TEAMS = Prefetch("teams", queryset=Team.objects.order_by("slug", "id"))


class IndexEndpoint(ApiEndpoint):
    """`GET /api/0/`: the API version and, when credentials are given, what they are.

    Always 200, whatever the credentials: a token that is invalid or expired is answered like
    an anonymous caller (`auth` and `user` null), which is how `sentry-cli info` tells that it
    is not logged in.
    `auth` is `{"scopes": [...]}` for a token (null for a session login or anonymous);
    `user` is the token's user or the logged-in user, null for anonymous callers and for
    organization tokens (they act for no user, as in Sentry).
    Other methods are 405 with or without credentials: nothing here needs them, so the
    stats endpoints' "401 before 405" rule has nothing to protect.
    """

    permission_classes = [AllowAny]

    def perform_authentication(self, request: Request) -> None:
        # Evaluating request.user runs the authentication classes; on failure DRF has already
        # made the request anonymous before raising.
        with contextlib.suppress(exceptions.AuthenticationFailed):
            request.user  # noqa: B018

    def get(self, request: Request) -> Response:
        auth: dict[str, Any] | None = None
        if isinstance(request.auth, ApiToken | OrgAuthToken):
            auth = {"scopes": sorted(request.auth.get_scopes())}
        user = UserSerializer(request.user).data if request.user.is_authenticated else None
        return Response({"version": "0", "auth": auth, "user": user})


class OrganizationIndexEndpoint(ApiEndpoint):
    """`GET /api/0/organizations/`: the caller's organizations, cursor-paginated."""

    permission_classes = [OrganizationPermission]
    pagination_class = SentryCursorPagination

    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        organizations = selectors.organization_list_visible(user=request.user, auth=request.auth)
        page = paginator.paginate_queryset(organizations, request, view=self)
        return paginator.get_paginated_response(OrganizationSerializer(page, many=True).data)


class OrganizationProjectsEndpoint(OrganizationScopedEndpoint):
    """`GET /api/0/organizations/{org}/projects/`: the projects the caller can see, by slug."""

    permission_classes = [OrganizationPermission]
    pagination_class = SentryCursorPagination

    def get(self, request: Request, organization_id_or_slug: str) -> Response:
        organization = self.get_organization(request, organization_id_or_slug)
        projects = (
            selectors.project_list_visible(access=self.access)
            .order_by("slug", "id")
            .prefetch_related(ORDERED_TEAMS)
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(projects, request, view=self)
        context = {
            "access": self.access,
            "organization_data": OrganizationSerializer(organization).data,
        }
        data = ProjectSerializer(page, many=True, context=context).data
        return paginator.get_paginated_response(data)
