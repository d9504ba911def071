"""Sentry's API scopes and the scope set of each organization role.

A user token's effective scopes in an organization are the token's own scopes intersected with
the scopes of the user's role there; an organization token has exactly its own scopes.
"""

from __future__ import annotations

ORG_SCOPES = ("org:read", "org:write", "org:admin", "org:integrations", "org:billing")
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

ROLE_BILLING = "billing"
ROLE_MEMBER = "member"
ROLE_ADMIN = "admin"
ROLE_MANAGER = "manager"
ROLE_OWNER = "owner"
ROLE_CHOICES = [
    (ROLE_BILLING, "Billing"),
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
    # Billing only: it sees no projects, teams or members.
    ROLE_BILLING: frozenset({"org:billing"}),
    ROLE_MEMBER: _MEMBER,
    ROLE_ADMIN: frozenset(_ADMIN),
    ROLE_MANAGER: frozenset(_MANAGER),
    ROLE_OWNER: frozenset(_OWNER),
}

# Roles that see every project of the organization, not only their teams' projects.
GLOBAL_ACCESS_ROLES = frozenset({ROLE_ADMIN, ROLE_MANAGER, ROLE_OWNER})

# Lowest to highest. A caller may give (or take away) only roles up to their own.
ROLE_ORDER = (ROLE_BILLING, ROLE_MEMBER, ROLE_ADMIN, ROLE_MANAGER, ROLE_OWNER)

ROLE_DESCRIPTIONS = {
    ROLE_BILLING: "Can manage payment and compliance details.",
    ROLE_MEMBER: "Can view the organization's projects, teams and stats.",
    ROLE_ADMIN: "Can also create, change and delete teams, projects and DSN keys.",
    ROLE_MANAGER: "Can also manage members and change the organization's settings.",
    ROLE_OWNER: "Unrestricted access to the organization, its data and its settings.",
}

# Team-level roles (Sentry's): a team member's role in one team. statsapi stores none: a
# member's team role follows from their organization role (TEAM_ROLE_FOR).
TEAM_ROLE_CONTRIBUTOR = "contributor"
TEAM_ROLE_ADMIN = "admin"
TEAM_ROLES = (TEAM_ROLE_CONTRIBUTOR, TEAM_ROLE_ADMIN)
TEAM_ROLE_SCOPES: dict[str, frozenset[str]] = {
    TEAM_ROLE_CONTRIBUTOR: frozenset(
        {
            "event:read",
            "event:write",
            "team:read",
            "project:read",
            "project:releases",
            "alerts:read",
        }
    ),
    TEAM_ROLE_ADMIN: frozenset(
        {
            "event:read",
            "event:write",
            "event:admin",
            "team:read",
            "team:write",
            "team:admin",
            "project:read",
            "project:write",
            "project:admin",
            "project:releases",
            "alerts:read",
            "alerts:write",
        }
    ),
}
TEAM_ROLE_DESCRIPTIONS = {
    TEAM_ROLE_CONTRIBUTOR: "Can view the team's projects and their stats.",
    TEAM_ROLE_ADMIN: "Can also change the team and its projects.",
}


def team_role_for(org_role: str) -> str | None:
    """The team role a member with `org_role` has in each of their teams (admin for the
    roles with global access, contributor for members, none for billing)."""
    if org_role in GLOBAL_ACCESS_ROLES:
        return TEAM_ROLE_ADMIN
    if org_role == ROLE_MEMBER:
        return TEAM_ROLE_CONTRIBUTOR
    return None


def role_rank(role: str) -> int:
    return ROLE_ORDER.index(role) if role in ROLE_ORDER else -1
