"""Sentry's API scopes and the scope set of each organization role.

A user token's effective scopes in an organization are the token's own scopes intersected with
the scopes of the user's role there; an organization token has exactly its own scopes.
"""

from __future__ import annotations

ORG_SCOPES = ("org:read", "org:write", "org:admin", "org:integrations")
MEMBER_SCOPES = ("member:read", "member:write", "member:admin", "member:invite")
TEAM_SCOPES = ("team:read", "team:write", "team:admin")
PROJECT_SCOPES = ("project:read", "project:write", "project:admin", "project:releases")
EVENT_SCOPES = ("event:read", "event:write", "event:admin")
ALERT_SCOPES = ("alerts:read", "alerts:write")

ALL_SCOPES: tuple[str, ...] = (
    ORG_SCOPES + MEMBER_SCOPES + TEAM_SCOPES + PROJECT_SCOPES + EVENT_SCOPES + ALERT_SCOPES
)
SCOPE_CHOICES = [(scope, scope) for scope in ALL_SCOPES]

DEFAULT_TOKEN_SCOPES = ("org:read", "project:read", "team:read", "member:read")

ROLE_MEMBER = "member"
ROLE_ADMIN = "admin"
ROLE_MANAGER = "manager"
ROLE_OWNER = "owner"
ROLE_CHOICES = [
    (ROLE_MEMBER, "Member"),
    (ROLE_ADMIN, "Admin"),
    (ROLE_MANAGER, "Manager"),
    (ROLE_OWNER, "Owner"),
]

_MEMBER = frozenset(
    {
        "event:read",
        "event:write",
        "event:admin",
        "project:releases",
        "project:read",
        "org:read",
        "member:read",
        "team:read",
        "alerts:read",
        "alerts:write",
    }
)
_ADMIN = _MEMBER | {
    "project:write",
    "project:admin",
    "team:write",
    "team:admin",
    "org:integrations",
}
_MANAGER = _ADMIN | {"member:write", "member:admin", "member:invite", "org:write"}
_OWNER = _MANAGER | {"org:admin"}

ROLE_SCOPES: dict[str, frozenset[str]] = {
    ROLE_MEMBER: _MEMBER,
    ROLE_ADMIN: frozenset(_ADMIN),
    ROLE_MANAGER: frozenset(_MANAGER),
    ROLE_OWNER: frozenset(_OWNER),
}

# Roles that see every project of the organization, not only their teams' projects.
GLOBAL_ACCESS_ROLES = frozenset({ROLE_ADMIN, ROLE_MANAGER, ROLE_OWNER})
