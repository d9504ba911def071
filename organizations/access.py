"""What a request may do in one organization: effective scopes and project visibility."""

from __future__ import annotations

from dataclasses import dataclass, field

from rest_framework.request import Request

from organizations.cache import access_cache
from organizations.models import ApiToken, Organization, OrganizationMember, OrgAuthToken
from organizations.scopes import ALL_SCOPES


@dataclass(frozen=True)
class Access:
    organization: Organization
    scopes: frozenset[str] = frozenset()
    member: OrganizationMember | None = None
    # Sees every project of the organization, not only its teams' projects.
    has_global_access: bool = False
    team_ids: frozenset[int] = field(default_factory=frozenset)

    def has_any_scope(self, required: tuple[str, ...] | list[str]) -> bool:
        return any(scope in self.scopes for scope in required)


NO_MEMBERSHIP: tuple[None, frozenset[int]] = (None, frozenset())


def load_membership(
    *, organization_id: int, user_id: int
) -> tuple[OrganizationMember | None, frozenset[int]]:
    """The user's membership in the organization and its team ids, read from the database."""
    member = (
        OrganizationMember.objects.filter(organization_id=organization_id, user_id=user_id)
        .prefetch_related("teams")
        .first()
    )
    if member is None:
        return NO_MEMBERSHIP
    return member, frozenset(team.pk for team in member.teams.all())


def membership_get(
    *, organization_id: int, user_id: int, cached: bool = True
) -> tuple[OrganizationMember | None, frozenset[int]]:
    """`(member, team ids)` of the user in the organization, `(None, {})` for a non-member;
    cached in the process (the member is the cached instance: read-only), or read from the
    database with `cached=False`."""
    if not cached:
        return load_membership(organization_id=organization_id, user_id=user_id)
    return access_cache.get_or_load(
        ("member", organization_id, user_id),
        lambda: load_membership(organization_id=organization_id, user_id=user_id),
    )


def request_token_scopes(request: Request) -> frozenset[str] | None:
    """The token's own scopes, or None for a session (browser) login."""
    if isinstance(request.auth, ApiToken | OrgAuthToken):
        return request.auth.get_scopes()
    return None


def access_for(request: Request, organization: Organization, *, cached: bool = True) -> Access:
    """Effective access of the request's credentials in `organization`.

    - organization token: its scopes, only in its own organization; sees every project (it is
      an organization-wide credential, not bound to teams; its scopes limit what it may do);
    - personal token: its scopes intersected with its user's role scopes in the organization;
    - session login: the user's role scopes (superusers: every scope, every project).
    A caller with no membership gets an Access with no scopes. The membership comes from the
    process's access cache (organizations.cache), or from the database with `cached=False`.
    """
    token = request.auth
    if isinstance(token, OrgAuthToken):
        if token.organization_id != organization.pk:
            return Access(organization)
        scopes = token.get_scopes()
        return Access(organization, scopes=scopes, has_global_access=bool(scopes))

    user = request.user
    if not user.is_authenticated:
        return Access(organization)
    member, team_ids = membership_get(
        organization_id=organization.pk, user_id=user.pk, cached=cached
    )
    if member is None:
        if token is None and user.is_superuser:
            return Access(organization, scopes=frozenset(ALL_SCOPES), has_global_access=True)
        return Access(organization)
    scopes = member.scopes
    if isinstance(token, ApiToken):
        scopes = scopes & token.get_scopes()
    return Access(
        organization,
        scopes=frozenset(scopes),
        member=member,
        has_global_access=member.has_global_access,
        team_ids=team_ids,
    )
