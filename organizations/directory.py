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
from drf_spectacular.utils import OpenApiExample, extend_schema
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
from statsapi.schema import LINK_HEADER, PAGINATION_PARAMETERS

USER_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "username": {"type": "string"},
        "email": {"type": "string"},
        "isActive": {"type": "boolean"},
        "isSuperuser": {"type": "boolean"},
        "isStaff": {"type": "boolean"},
        "dateJoined": {"type": "string", "format": "date-time"},
    },
    "required": [
        "id", "name", "username", "email", "isActive", "isSuperuser", "isStaff", "dateJoined"
    ],
}  # fmt: skip
INDEX_SCHEMA = {
    "type": "object",
    "properties": {
        "version": {"type": "string", "enum": ["0"]},
        "auth": {
            "type": "object",
            "nullable": True,
            "properties": {"scopes": {"type": "array", "items": {"type": "string"}}},
            "required": ["scopes"],
        },
        "user": {**USER_SCHEMA, "nullable": True},
    },
    "required": ["version", "auth", "user"],
}
EXAMPLE_ORGANIZATION = {
    "id": "1",
    "slug": "demo",
    "name": "Demo",
    "dateCreated": "2026-11-30T09:12:45.123456Z",
    "status": {"id": "active", "name": "active"},
    "isEarlyAdopter": False,
    "require2FA": False,
    "requireEmailVerification": False,
    "avatar": {"avatarType": "letter_avatar", "avatarUuid": None, "avatarUrl": None},
    "features": [],
    "links": {
        "organizationUrl": "http://127.0.0.1:8000",
        "regionUrl": "http://127.0.0.1:8000",
    },
    "hasAuthProvider": False,
}
EXAMPLE_PROJECT = {
    "id": "1",
    "slug": "backend",
    "name": "Backend",
    "platform": "python",
    "dateCreated": "2026-11-30T09:12:45.234567Z",
    "isBookmarked": False,
    "isMember": True,
    "hasAccess": True,
    "features": [],
    "firstEvent": None,
    "status": "active",
    "environments": [],
    "access": ["org:read", "project:read", "team:read"],
    "organization": EXAMPLE_ORGANIZATION,
    "team": {"id": "1", "slug": "backend", "name": "Backend"},
    "teams": [{"id": "1", "slug": "backend", "name": "Backend"}],
}

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

    @extend_schema(
        operation_id="api_index",
        summary="The API version and what the credentials are",
        responses={200: INDEX_SCHEMA},
        examples=[
            OpenApiExample(
                "a personal token",
                {
                    "version": "0",
                    "auth": {"scopes": ["org:read", "project:read"]},
                    "user": {
                        "id": "1",
                        "name": "demo",
                        "username": "demo",
                        "email": "demo@example.com",
                        "isActive": True,
                        "isSuperuser": False,
                        "isStaff": False,
                        "dateJoined": "2026-11-30T09:12:45.123456Z",
                    },
                },
                response_only=True,
            ),
            OpenApiExample(
                "no credentials",
                {"version": "0", "auth": None, "user": None},
                response_only=True,
            ),
        ],
    )
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

    @extend_schema(
        operation_id="organization_list",
        summary="The caller's organizations",
        parameters=[*PAGINATION_PARAMETERS, LINK_HEADER],
        responses={200: OrganizationSerializer(many=True)},
        examples=[OpenApiExample("one organization", [EXAMPLE_ORGANIZATION], response_only=True)],
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        organizations = selectors.organization_list_visible(user=request.user, auth=request.auth)
        page = paginator.paginate_queryset(organizations, request, view=self)
        return paginator.get_paginated_response(OrganizationSerializer(page, many=True).data)


class OrganizationProjectsEndpoint(OrganizationScopedEndpoint):
    """`GET /api/0/organizations/{org}/projects/`: the projects the caller can see, by slug."""

    permission_classes = [OrganizationPermission]
    pagination_class = SentryCursorPagination

    @extend_schema(
        operation_id="organization_projects",
        summary="The projects of an organization the caller can see",
        parameters=[*PAGINATION_PARAMETERS, LINK_HEADER],
        responses={200: ProjectSerializer(many=True)},
        examples=[OpenApiExample("one project", [EXAMPLE_PROJECT], response_only=True)],
    )
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
