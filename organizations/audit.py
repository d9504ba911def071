"""The admin history (django.contrib.admin's LogEntry) of writes made through the API.

Every API write is recorded against the object it touched, so that the admin's "History"
page of a team, project, DSN key, member or organization shows it next to the admin's own
changes.

Who acted:
- a personal token or a session: its user, and the message names the token (prefix and last
  four characters, as the admin lists tokens);
- an organization token: it acts for no user, and LogEntry needs one, so the entry goes to
  one reserved, inactive user, ``ORG_TOKEN_USERNAME`` (it cannot log in), and the message
  names the token (prefix, last four characters, name and id). The admin's history and the
  "Recent actions" list then show which token made each change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import models

from organizations.models import ApiToken, OrgAuthToken

ORG_TOKEN_USERNAME = "organization-token"


@dataclass(frozen=True)
class Actor:
    """Who makes a write: the LogEntry user and a readable description."""

    user: AbstractBaseUser
    label: str


def org_token_user() -> AbstractBaseUser:
    """The reserved inactive user that organization tokens' writes are recorded under."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=ORG_TOKEN_USERNAME, defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def actor_for(*, user: AbstractBaseUser | object, token: object) -> Actor:
    """The Actor of a request authenticated as `user` with `token` (an ApiToken, an
    OrgAuthToken, or None for a session)."""
    if isinstance(token, OrgAuthToken):
        name = f' "{token.name}"' if token.name else ""
        return Actor(org_token_user(), f"organization token {token.display}{name} (id {token.pk})")
    if not isinstance(user, AbstractBaseUser):
        raise ValueError("an API write needs an authenticated user or an organization token")
    if isinstance(token, ApiToken):
        return Actor(user, f"{user.get_username()} with token {token.display}")
    return Actor(user, user.get_username())


def record(*, actor: Actor, obj: models.Model, action: int, message: str) -> None:
    """One LogEntry for `obj` (call it before deleting `obj`, while it still has its id)."""
    LogEntry.objects.log_actions(
        user_id=actor.user.pk,
        queryset=[obj],
        action_flag=action,
        change_message=f"{message} Through the API, by {actor.label}.",
        single_object=True,
    )


def record_addition(*, actor: Actor | None, obj: models.Model, message: str = "Added.") -> None:
    if actor is not None:
        record(actor=actor, obj=obj, action=ADDITION, message=message)


def record_change(*, actor: Actor | None, obj: models.Model, fields: Iterable[str]) -> None:
    """A change of `fields` (nothing is recorded when none changed)."""
    fields = list(fields)
    if actor is not None and fields:
        record(actor=actor, obj=obj, action=CHANGE, message=f"Changed {', '.join(fields)}.")


def record_deletion(*, actor: Actor | None, obj: models.Model, message: str = "Deleted.") -> None:
    if actor is not None:
        record(actor=actor, obj=obj, action=DELETION, message=message)
