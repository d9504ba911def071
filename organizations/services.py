"""Writes: organizations, teams, projects, DSN keys, members, API tokens, and the demo data.

Every function validates what it stores (model validators, uniqueness, known scopes) and raises
django.core.exceptions.ValidationError with a readable message before writing anything; the
ones that write several rows do it in one transaction.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from organizations import scopes as scope_names
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


def user_get_or_create(*, username: str) -> tuple[AbstractBaseUser, bool]:
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
    *, slug: str, name: str | None = None, owner: AbstractBaseUser | None = None
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
    user: AbstractBaseUser,
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


def team_create(*, organization: Organization, slug: str, name: str | None = None) -> Team:
    """A new team in `organization` (name defaults to the slug)."""
    team = Team(organization=organization, slug=slug, name=name or slug)
    team.full_clean()
    team.save()
    return team


def team_get_or_create(
    *, organization: Organization, slug: str, name: str | None = None
) -> tuple[Team, bool]:
    """The organization's team with this slug, created if missing."""
    team = Team.objects.filter(organization=organization, slug=slug).first()
    if team is not None:
        return team, False
    return team_create(organization=organization, slug=slug, name=name), True


# --- projects and DSN keys ------------------------------------------------------------------


def project_key_create(
    *,
    project: Project,
    label: str = "Default",
    rate_limit_count: int | None = None,
    rate_limit_window: int | None = None,
) -> ProjectKey:
    """A new active DSN key for `project`, optionally limited to `count` events per `window` s."""
    key = ProjectKey(
        project=project,
        label=label,
        rate_limit_count=rate_limit_count,
        rate_limit_window=rate_limit_window,
    )
    key.full_clean()
    key.save()
    return key


@transaction.atomic
def project_create(
    *,
    organization: Organization,
    slug: str,
    name: str | None = None,
    teams: Sequence[Team] = (),
    rate_limit: tuple[int, int] | None = None,
) -> Project:
    """A new project with its first DSN key (limited to `rate_limit` = (count, seconds) if
    given), owned by `teams`, which must belong to the organization."""
    teams_check(organization=organization, teams=teams)
    project = Project(organization=organization, slug=slug, name=name or slug)
    project.full_clean()
    project.save()
    if teams:
        project.teams.add(*teams)
    count, window = rate_limit if rate_limit is not None else (None, None)
    project_key_create(project=project, rate_limit_count=count, rate_limit_window=window)
    return project


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
        if not type(token).objects.filter(token_lookup=token.token_lookup).exists():
            break
    token.save()
    return plaintext


def api_token_create(
    *,
    user: AbstractBaseUser,
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
    created_by: AbstractBaseUser | None = None,
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
class DemoSeed:
    organization: Organization
    project: Project
    key: ProjectKey
    user: AbstractBaseUser
    token: ApiToken
    plaintext: str
    samples_written: int


def demo_sample(rng: random.Random, when: int, step: int) -> tuple[int, int, int]:
    """(received, rejected, blacklisted) for `step` seconds at epoch `when`: a daily wave of
    about 6 to 30 events a minute, never zero, rejected + blacklisted <= received."""
    per_minute = 18 + 12 * math.sin(2 * math.pi * (when % 86_400) / 86_400)
    received = max(1, round(rng.uniform(0.7, 1.3) * per_minute * step / 60))
    rejected = rng.randint(0, received // 8)
    blacklisted = rng.randint(0, (received - rejected) // 10)
    return received, rejected, blacklisted


def demo_counts_fill(
    *,
    organization: Organization,
    project: Project,
    key: ProjectKey,
    now: datetime | None = None,
    seed: int | None = None,
) -> int:
    """Write sample counts for the last 24 hours through `tsdb.backend.incr_multi`: one sample
    a minute, one every 10 s in the last hour, for the organization, project and key totals
    (received >= rejected + blacklisted) and the project's `generated` series (accepted).

    Hourly buckets of the bare 24-hour window that already hold counts for the project are
    left alone, so running it again does not double them. Returns the samples written.
    """
    from tsdb import backend
    from tsdb.base import TSDBModel

    now = now or timezone.now()
    now_s = int(now.timestamp())
    hour = 3600
    first_hour = now_s // hour * hour - 23 * hour
    existing = backend.get_range(
        TSDBModel.project_total_received, [project.pk], now - timedelta(seconds=86_399), now, 3600
    )[project.pk]
    filled_hours = {ts for ts, count in existing if count}
    # One sample a minute, then one per 10 s bucket the 10-s rollup still keeps (the last hour).
    fine_start = now_s // 10 * 10 - 359 * 10
    grid = [(when, 60) for when in range(first_hour, fine_start, 60)]
    grid += [(when, 10) for when in range(fine_start, now_s + 1, 10)]
    rng = random.Random(seed)
    items: list[tuple[TSDBModel, int, int, int]] = []
    samples = 0
    for when, step in grid:
        if when // hour * hour in filled_hours:
            continue
        received, rejected, blacklisted = demo_sample(rng, when, step)
        for prefix, object_id in (
            ("organization", organization.pk),
            ("project", project.pk),
            ("key", key.pk),
        ):
            for suffix, count in (
                ("received", received),
                ("rejected", rejected),
                ("blacklisted", blacklisted),
            ):
                if count:
                    items.append((TSDBModel[f"{prefix}_total_{suffix}"], object_id, when, count))
        accepted = received - rejected - blacklisted
        if accepted:
            items.append((TSDBModel.project, project.pk, when, accepted))
        samples += 1
    if items:
        backend.incr_multi(items)
    return samples


@transaction.atomic
def demo_seed(*, slug: str = DEMO_SLUG, username: str = DEMO_SLUG) -> DemoSeed:
    """Create (or reuse) the demo organization, team, project with its DSN key, and the user
    who owns the organization; issue a new personal token with the default scopes; and fill
    the last 24 hours with sample counts (see demo_counts_fill)."""
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
    samples = demo_counts_fill(organization=organization, project=project, key=key)
    return DemoSeed(organization, project, key, user, token, plaintext, samples)
