"""Scope-based permissions, checked in Sentry's order.

1. authentication (401, from DRF when `has_permission` refuses an anonymous request);
2. the token's own scopes against the method (403, even for an organization that does not
   exist);
3. the object lookup in the view (404);
4. the caller's effective scopes in that organization (403).
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from organizations.access import Access, request_token_scopes


class ScopedPermission(BasePermission):
    """Grants a method when the caller holds one of `scope_map[method]`.

    Methods missing from `scope_map` pass, so that the view answers 405 for them (after
    authentication). OPTIONS always passes, also without credentials.
    """

    scope_map: dict[str, tuple[str, ...]] = {}

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method == "OPTIONS":
            return True
        token_scopes = request_token_scopes(request)
        if token_scopes is None and not request.user.is_authenticated:
            return False
        required = self.scope_map.get(request.method or "")
        if required is None or token_scopes is None:
            return True
        return any(scope in token_scopes for scope in required)

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        if request.method == "OPTIONS":
            return True
        required = self.scope_map.get(request.method or "")
        if required is None:
            return True
        access: Access = view.access  # type: ignore[attr-defined]
        return access.has_any_scope(required)


def read_scope_map(resource: str) -> dict[str, tuple[str, ...]]:
    """GET and HEAD need any of `<resource>:read`, `:write` or `:admin` (write implies read)."""
    scopes = (f"{resource}:read", f"{resource}:write", f"{resource}:admin")
    return {"GET": scopes, "HEAD": scopes}


class OrganizationPermission(ScopedPermission):
    scope_map = read_scope_map("org")


class ProjectPermission(ScopedPermission):
    scope_map = read_scope_map("project")


class TeamPermission(ScopedPermission):
    scope_map = read_scope_map("team")
