"""Writes: organizations, teams, projects, DSN keys, members, API tokens, and the demo data.

Every function validates what it stores (model validators, uniqueness, known scopes) and raises
django.core.exceptions.ValidationError with a readable message before writing anything; the
ones that write several rows do it in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from organizations import scopes as scope_names
from organizations.audit import Actor, record_addition, record_change, record_deletion
from organizations.models import (
    ApiToken,
    BaseToken,
    Organization,
    OrganizationMember,
    OrgAuthToken,
    Project,
    ProjectKey,
    Team,
)

# --- validation helpers ---------------------------------------------------------------------


class SlugTaken(ValidationError):
    """Another object of the same kind in the same scope already has this slug (a
    ValidationError on `slug`, so callers that only know ValidationError still see it)."""

    def __init__(self, message: str) -> None:
        super().__init__({"slug": [message]})
        self.message_text = message


class NotAllowed(ValidationError):
    """The change is valid but the acting caller may not make it (the API answers 403)."""


def validation_message(error: ValidationError) -> str:
    """One line out of a (possibly per-field) ValidationError, for command output."""
    if hasattr(error, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
            for field, messages in error.message_dict.items()
        )
    return " ".join(error.messages)


def scopes_clean(scopes: Iterable[str]) -> list[str]:
    """The scopes as a sorted list without duplicates; unknown or no scopes: ValidationError."""
    cleaned = sorted(set(scopes))
    unknown = [scope for scope in cleaned if scope not in scope_names.ALL_SCOPES]
    if unknown:
        raise ValidationError(
            f"Unknown scope {', '.join(unknown)}. "
            f"Known scopes: {', '.join(scope_names.ALL_SCOPES)}."
        )
    if not cleaned:
        raise ValidationError("A token needs at least one scope.")
    return cleaned


def rate_limit_parse(value: str) -> tuple[int, int]:
    """`"COUNT/SECONDS"` (e.g. `"10/60"`) as `(count, seconds)`; both positive integers."""
    count, sep, seconds = value.partition("/")
    if not (sep and count.strip().isdigit() and seconds.strip().isdigit()):
        raise ValidationError(
            f"Rate limit must be COUNT/SECONDS with whole numbers, e.g. 10/60, not {value!r}."
        )
    parsed = int(count), int(seconds)
    if parsed[0] < 1 or parsed[1] < 1:
        raise ValidationError(f"Rate limit count and seconds must both be at least 1: {value!r}.")
    return parsed


def teams_check(*, organization: Organization, teams: Iterable[Team]) -> None:
    """ValidationError, naming every foreign team, unless each belongs to `organization`."""
    foreign = [team.slug for team in teams if team.organization_id != organization.pk]
    if foreign:
        raise ValidationError(
            f"These teams belong to another organization than {organization.slug}: "
            f"{', '.join(foreign)}."
        )


# --- users, organizations, teams, members ---------------------------------------------------


def user_get_or_create(*, username: str) -> tuple[User, bool]:
    """The user with this username, created (with no usable password) if missing."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is not None:
        return user, False
    user = user_model(username=username)
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    return user, True


@transaction.atomic
def organization_create(
    *, slug: str, name: str | None = None, owner: User | None = None
) -> Organization:
    """A new active organization (name defaults to the slug), with `owner` as an owner."""
    organization = Organization(slug=slug, name=name or slug)
    organization.full_clean()
    organization.save()
    if owner is not None:
        member_add(organization=organization, user=owner, role=scope_names.ROLE_OWNER)
    return organization


@transaction.atomic
def member_add(
    *,
    organization: Organization,
    user: User,
    role: str = scope_names.ROLE_MEMBER,
    teams: Sequence[Team] = (),
) -> OrganizationMember:
    """Make `user` a member of `organization` with `role` (an existing membership takes the new
    role) and add them to `teams`, which must belong to the organization."""
    if role not in scope_names.ROLE_SCOPES:
        roles = ", ".join(scope_names.ROLE_SCOPES)
        raise ValidationError(f"Unknown role {role!r}. Roles: {roles}.")
    teams_check(organization=organization, teams=teams)
    member, created = OrganizationMember.objects.get_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    if not created and member.role != role:
        member.role = role
        member.save(update_fields=["role"])
    if teams:
        member.teams.add(*teams)
    return member


def _changes(obj: Any, values: Mapping[str, Any]) -> list[str]:
    """Set each attribute of `values` that differs on `obj`; the names of those changed."""
    changed = []
    for field, value in values.items():
        if getattr(obj, field) != value:
            setattr(obj, field, value)
            changed.append(field)
    return changed


@transaction.atomic
def team_create(
    *,
    organization: Organization,
    slug: str,
    name: str | None = None,
    actor: Actor | None = None,
) -> Team:
    """A new team in `organization` (name defaults to the slug). SlugTaken if the
    organization already has a team with this slug."""
    if Team.objects.filter(organization=organization, slug=slug).exists():
        raise SlugTaken("A team with this slug already exists.")
    team = Team(organization=organization, slug=slug, name=name or slug)
    team.full_clean()
    _save_unique(team, SlugTaken("A team with this slug already exists."))
    record_addition(actor=actor, obj=team)
    return team


def _save_unique(obj: Any, taken: SlugTaken) -> None:
    """Save `obj`; a unique-constraint race lost to a concurrent request is `taken`."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        raise taken from None


@transaction.atomic
def team_update(
    *,
    team: Team,
    name: str | None = None,
    slug: str | None = None,
    actor: Actor | None = None,
) -> Team:
    """Rename a team and/or change its slug (SlugTaken if another team of the organization
    has it)."""
    values = {field: value for field, value in (("name", name), ("slug", slug)) if value}
    taken = SlugTaken(f'The slug "{slug}" is already in use.')
    siblings = Team.objects.filter(organization_id=team.organization_id, slug=slug)
    if slug and slug != team.slug and siblings.exists():
        raise taken
    changed = _changes(team, values)
    if changed:
        team.full_clean(validate_unique=False, validate_constraints=False)
        _save_unique(team, taken)
        record_change(actor=actor, obj=team, fields=changed)
    return team


@transaction.atomic
def team_member_add(*, team: Team, member: OrganizationMember, actor: Actor | None = None) -> bool:
    """Put `member` in `team` (same organization); False if they already were."""
    teams_check(organization=member.organization, teams=[team])
    if member.teams.filter(pk=team.pk).exists():
        return False
    member.teams.add(team)
    record_change(actor=actor, obj=member, fields=[f"teams (added {team.slug})"])
    return True


@transaction.atomic
def team_member_remove(
    *, team: Team, member: OrganizationMember, actor: Actor | None = None
) -> bool:
    """Take `member` out of `team`; False if they were not in it."""
    if not member.teams.filter(pk=team.pk).exists():
        return False
    member.teams.remove(team)
    record_change(actor=actor, obj=member, fields=[f"teams (removed {team.slug})"])
    return True


@transaction.atomic
def team_delete(*, team: Team, actor: Actor | None = None) -> None:
    """Delete a team. Its projects stay (they lose this team); its members stay in the
    organization."""
    record_deletion(actor=actor, obj=team)
    team.delete()


def team_get_or_create(
    *, organization: Organization, slug: str, name: str | None = None
) -> tuple[Team, bool]:
    """The organization's team with this slug, created if missing."""
    team = Team.objects.filter(organization=organization, slug=slug).first()
    if team is not None:
        return team, False
    return team_create(organization=organization, slug=slug, name=name), True


# --- projects and DSN keys ------------------------------------------------------------------


UNSET: Any = object()
"""A keyword argument's default meaning "leave this as it is" where None is a value."""


def project_key_create(
    *,
    project: Project,
    label: str = "Default",
    rate_limit_count: int | None = None,
    rate_limit_window: int | None = None,
    browser_sdk_version: str | None = None,
    loader_options: Mapping[str, bool] | None = None,
    actor: Actor | None = None,
) -> ProjectKey:
    """A new active DSN key for `project`, optionally limited to `count` events per `window` s
    and with JavaScript loader settings (`loader_options` overrides the defaults it names)."""
    key = ProjectKey(
        project=project,
        label=label,
        rate_limit_count=rate_limit_count,
        rate_limit_window=rate_limit_window,
    )
    if browser_sdk_version is not None:
        key.browser_sdk_version = browser_sdk_version
    if loader_options:
        key.loader_options = {**key.loader_options, **loader_options}
    key.full_clean()
    key.save()
    record_addition(actor=actor, obj=key)
    return key


@transaction.atomic
def project_key_update(
    *,
    key: ProjectKey,
    label: str | None = None,
    is_active: bool | None = None,
    rate_limit: tuple[int, int] | None = UNSET,
    browser_sdk_version: str | None = None,
    loader_options: Mapping[str, bool] | None = None,
    actor: Actor | None = None,
) -> ProjectKey:
    """Change a DSN key. `rate_limit` is (count, window seconds), None to remove the limit,
    or left out to keep it. Ingest sees the change within INGEST_CONFIG_CACHE_TTL seconds."""
    values: dict[str, Any] = {}
    if label is not None:
        values["label"] = label
    if is_active is not None:
        values["is_active"] = is_active
    if rate_limit is not UNSET:
        count, window = rate_limit if rate_limit is not None else (None, None)
        values.update(rate_limit_count=count, rate_limit_window=window)
    if browser_sdk_version is not None:
        values["browser_sdk_version"] = browser_sdk_version
    if loader_options:
        values["loader_options"] = {**key.loader_options, **loader_options}
    changed = _changes(key, values)
    if changed:
        key.full_clean()
        key.save(update_fields=changed)
        record_change(actor=actor, obj=key, fields=changed)
    return key


@transaction.atomic
def project_key_delete(*, key: ProjectKey, actor: Actor | None = None) -> None:
    """Delete a DSN key: ingest refuses it within INGEST_CONFIG_CACHE_TTL seconds."""
    record_deletion(actor=actor, obj=key)
    key.delete()


def project_slug_from_name(*, organization: Organization, name: str) -> str:
    """A free project slug made from `name` ("My App" -> "my-app", then "my-app-2", ...)."""
    max_length = Project._meta.get_field("slug").max_length or 50
    base = slugify(name)[:max_length].strip("-_") or "project"
    if base.isdigit():
        base = f"project-{base}"[:max_length]
    taken = set(
        Project.objects.filter(organization=organization, slug__startswith=base).values_list(
            "slug", flat=True
        )
    )
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        suffix = f"-{number}"
        candidate = base[: max_length - len(suffix)] + suffix
    return candidate


PROJECT_SLUG_TAKEN = "A project with this slug already exists."


@transaction.atomic
def project_create(
    *,
    organization: Organization,
    slug: str | None,
    name: str | None = None,
    teams: Sequence[Team] = (),
    rate_limit: tuple[int, int] | None = None,
    platform: str = "",
    settings: Mapping[str, Any] | None = None,
    actor: Actor | None = None,
) -> Project:
    """A new project with its first DSN key, "Default" (limited to `rate_limit` = (count,
    seconds) if given), owned by `teams`, which must belong to the organization. Without a
    slug, one is made from the name. SlugTaken if the organization has a project with it."""
    teams_check(organization=organization, teams=teams)
    if slug is None:
        slug = project_slug_from_name(organization=organization, name=name or "project")
    elif Project.objects.filter(organization=organization, slug=slug).exists():
        raise SlugTaken(PROJECT_SLUG_TAKEN)
    project = Project(
        organization=organization,
        slug=slug,
        name=name or slug,
        platform=platform,
        settings=dict(settings or {}),
    )
    project.full_clean()
    _save_unique(project, SlugTaken(PROJECT_SLUG_TAKEN))
    if teams:
        project.teams.add(*teams)
    record_addition(actor=actor, obj=project)
    count, window = rate_limit if rate_limit is not None else (None, None)
    project_key_create(
        project=project, rate_limit_count=count, rate_limit_window=window, actor=actor
    )
    return project


@transaction.atomic
def project_update(
    *,
    project: Project,
    name: str | None = None,
    slug: str | None = None,
    platform: str | None = None,
    settings: Mapping[str, Any] | None = None,
    actor: Actor | None = None,
) -> Project:
    """Change a project's name, slug, platform ("" for none) and stored Sentry settings
    (merged into `Project.settings`). SlugTaken if another project of the organization has
    the slug."""
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = name
    if platform is not None:
        values["platform"] = platform
    if slug is not None and slug != project.slug:
        other = Project.objects.filter(organization_id=project.organization_id, slug=slug).first()
        if other is not None:
            raise SlugTaken(f"Another project ({other.name}) is already using that slug")
        values["slug"] = slug
    if settings:
        merged = {**project.settings, **settings}
        if merged != project.settings:
            values["settings"] = merged
    changed = _changes(project, values)
    if changed:
        project.full_clean(validate_unique=False, validate_constraints=False)
        _save_unique(project, SlugTaken("Another project is already using that slug"))
        described = [field for field in changed if field != "settings"] + sorted(
            key for key in (settings or {}) if key in values.get("settings", {})
        )
        record_change(actor=actor, obj=project, fields=described)
    return project


@transaction.atomic
def project_delete(*, project: Project, actor: Actor | None = None) -> None:
    """Delete a project with its DSN keys (ingest refuses them within
    INGEST_CONFIG_CACHE_TTL seconds). Counts already in the TSDB stay until they expire."""
    record_deletion(actor=actor, obj=project)
    project.delete()


@transaction.atomic
def project_team_add(*, project: Project, team: Team, actor: Actor | None = None) -> bool:
    """Give `project` to `team` as well (same organization); False if it already had it."""
    teams_check(organization=project.organization, teams=[team])
    if project.teams.filter(pk=team.pk).exists():
        return False
    project.teams.add(team)
    record_change(actor=actor, obj=project, fields=[f"teams (added {team.slug})"])
    return True


@transaction.atomic
def project_team_remove(*, project: Project, team: Team, actor: Actor | None = None) -> bool:
    """Take `project` away from `team`; False if the team did not have it."""
    if not project.teams.filter(pk=team.pk).exists():
        return False
    project.teams.remove(team)
    record_change(actor=actor, obj=project, fields=[f"teams (removed {team.slug})"])
    return True


# --- members (API) ----------------------------------------------------------------------------


class MemberExists(ValidationError):
    """The user is already a member of the organization."""


def user_for_email(*, email: str) -> tuple[User, bool]:
    """The user with this email address (case-insensitive; the oldest if several), else a
    new active user named after it with no usable password (an admin sets one, or the user
    signs in another way)."""
    user_model = get_user_model()
    user = user_model.objects.filter(email__iexact=email).order_by("pk").first()
    if user is not None:
        return user, False
    username = email
    number = 1
    while user_model.objects.filter(username=username).exists():
        number += 1
        username = f"{email}-{number}"
    user = user_model(username=username, email=email)
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    return user, True


@transaction.atomic
def member_invite(
    *,
    organization: Organization,
    email: str,
    role: str = scope_names.ROLE_MEMBER,
    teams: Sequence[Team] = (),
    actor: Actor | None = None,
) -> OrganizationMember:
    """Make the user with `email` (created if there is none, see user_for_email) a member of
    `organization` with `role` and `teams`. MemberExists if they already are one."""
    if role not in scope_names.ROLE_SCOPES:
        raise ValidationError({"orgRole": [f"Unknown role {role!r}."]})
    teams_check(organization=organization, teams=teams)
    user, created = user_for_email(email=email)
    if created:
        record_addition(actor=actor, obj=user, message=f"Added for {organization.slug}.")
    elif OrganizationMember.objects.filter(organization=organization, user_id=user.pk).exists():
        raise MemberExists({"email": [f"The user {email} is already a member"]})
    member = OrganizationMember(organization=organization, user_id=user.pk, role=role)
    member.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError:
        raise MemberExists({"email": [f"The user {email} is already a member"]}) from None
    if teams:
        member.teams.add(*teams)
    record_addition(actor=actor, obj=member)
    return member


def owner_count(*, organization: Organization) -> int:
    return OrganizationMember.objects.filter(
        organization=organization, role=scope_names.ROLE_OWNER
    ).count()


@transaction.atomic
def member_update(
    *,
    member: OrganizationMember,
    role: str | None = None,
    teams: Sequence[Team] | None = None,
    actor: Actor | None = None,
) -> OrganizationMember:
    """Change a member's role and/or set their teams (exactly `teams`). NotAllowed when it
    would leave the organization without an owner."""
    changed: list[str] = []
    if role is not None and role != member.role:
        if role not in scope_names.ROLE_SCOPES:
            raise ValidationError({"orgRole": [f"Unknown role {role!r}."]})
        if (
            member.role == scope_names.ROLE_OWNER
            and owner_count(organization=member.organization) <= 1
        ):
            raise NotAllowed("You cannot remove the only remaining owner of the organization.")
        member.role = role
        member.save(update_fields=["role"])
        changed.append("role")
    if teams is not None:
        teams_check(organization=member.organization, teams=teams)
        current = set(member.teams.values_list("pk", flat=True))
        wanted = {team.pk for team in teams}
        if current != wanted:
            member.teams.set(list(teams))
            changed.append("teams")
    record_change(actor=actor, obj=member, fields=changed)
    return member


@transaction.atomic
def member_remove(*, member: OrganizationMember, actor: Actor | None = None) -> None:
    """Remove a member from the organization (the user account stays). NotAllowed for the
    only owner."""
    if member.role == scope_names.ROLE_OWNER and owner_count(organization=member.organization) <= 1:
        raise NotAllowed("You cannot remove the only remaining owner of the organization.")
    record_deletion(actor=actor, obj=member)
    member.delete()


# --- organizations (API) ----------------------------------------------------------------------


@transaction.atomic
def organization_update(
    *,
    organization: Organization,
    name: str | None = None,
    slug: str | None = None,
    rate_limit: tuple[int, int] | None = UNSET,
    actor: Actor | None = None,
) -> Organization:
    """Change an organization's name, slug (SlugTaken if another has it) and the
    organization-wide ingest rate limit ((count, window seconds), None for none)."""
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = name
    taken = SlugTaken("An organization with this slug already exists.")
    if slug is not None and slug != organization.slug:
        if Organization.objects.filter(slug=slug).exists():
            raise taken
        values["slug"] = slug
    if rate_limit is not UNSET:
        count, window = rate_limit if rate_limit is not None else (None, None)
        values.update(rate_limit_count=count, rate_limit_window=window)
    changed = _changes(organization, values)
    if changed:
        organization.full_clean(validate_unique=False, validate_constraints=False)
        _save_unique(organization, taken)
        record_change(actor=actor, obj=organization, fields=changed)
    return organization


# --- tokens ---------------------------------------------------------------------------------


def token_issue(*, token: BaseToken) -> str:
    """Give an unsaved token a fresh secret, save it, and return the plaintext.

    This is the only moment the plaintext exists: only its hash is stored.
    """
    if token.pk is not None:
        raise ValueError("token_issue only issues new tokens")
    token.scopes = scopes_clean(token.scopes or ())
    while True:
        plaintext = token.generate_plaintext()
        token.set_plaintext(plaintext)
        # The lookup prefix is 8 random hex characters: a collision is rare but possible.
        if not type(token)._default_manager.filter(token_lookup=token.token_lookup).exists():
            break
    token.save()
    return plaintext


def api_token_create(
    *,
    user: User,
    scopes: Iterable[str],
    name: str = "",
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new personal token acting as `user`; returns it and its plaintext (shown once)."""
    token = ApiToken(user=user, name=name, scopes=scopes_clean(scopes), expires_at=expires_at)
    return token, token_issue(token=token)


def org_token_create(
    *,
    organization: Organization,
    scopes: Iterable[str],
    name: str = "",
    expires_at: datetime | None = None,
    created_by: User | None = None,
) -> tuple[OrgAuthToken, str]:
    """A new organization token bound to `organization`; returns it and its plaintext."""
    token = OrgAuthToken(
        organization=organization,
        name=name,
        scopes=scopes_clean(scopes),
        expires_at=expires_at,
        created_by=created_by,
    )
    return token, token_issue(token=token)


def token_revoke(*, token: BaseToken) -> bool:
    """Revoke the token from now on; False if it was already revoked."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    return True


# --- demo -----------------------------------------------------------------------------------

DEMO_SLUG = "demo"
# The name of the demo user's token: `demo` replaces the one an earlier run issued.
DEMO_TOKEN_NAME = "demo"


@dataclass(frozen=True)
class DemoObjects:
    organization: Organization
    project: Project
    key: ProjectKey
    user: User
    token: ApiToken
    plaintext: str


@transaction.atomic
def demo_objects_create(*, slug: str = DEMO_SLUG, username: str = DEMO_SLUG) -> DemoObjects:
    """Create (or reuse) the demo organization, team, project with its DSN key, and the user
    who owns the organization; issue a new personal token with the default scopes. (Its
    sample counts are written by ``usage.seeding``.)"""
    user, _ = user_get_or_create(username=username)
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        organization = organization_create(slug=slug, name="Demo", owner=user)
    team, _ = team_get_or_create(organization=organization, slug=f"{slug}-team", name="Demo team")
    member_add(organization=organization, user=user, role=scope_names.ROLE_OWNER, teams=[team])
    project = Project.objects.filter(organization=organization, slug=f"{slug}-project").first()
    if project is None:
        project = project_create(
            organization=organization, slug=f"{slug}-project", name="Demo project", teams=[team]
        )
    key = project.keys.filter(is_active=True).order_by("id").first() or project_key_create(
        project=project
    )
    # Replace the token an earlier run issued (its plaintext is gone): one demo token at most.
    ApiToken.objects.filter(user=user, name=DEMO_TOKEN_NAME).delete()
    token, plaintext = api_token_create(
        user=user, scopes=scope_names.DEFAULT_TOKEN_SCOPES, name=DEMO_TOKEN_NAME
    )
    return DemoObjects(organization, project, key, user, token, plaintext)
