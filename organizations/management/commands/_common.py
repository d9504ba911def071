"""Helpers shared by the management commands (not a command: the name starts with `_`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction
from django.utils import timezone

from organizations.models import BaseToken
from organizations.scopes import DEFAULT_TOKEN_SCOPES
from organizations.services import validation_message

Owner = TypeVar("Owner")


@contextmanager
def command_transaction() -> Iterator[None]:
    """One transaction for the whole command; bad input becomes a CommandError and rolls back."""
    try:
        with transaction.atomic():
            yield
    except ValidationError as exc:
        raise CommandError(validation_message(exc)) from None
    except IntegrityError as exc:
        raise CommandError(f"Could not save: {exc}") from None


def expires_at_from(expires_in: int | None) -> datetime | None:
    """`--expires-in SECONDS` as the expiry time; None (never) without it."""
    return timezone.now() + timedelta(seconds=expires_in) if expires_in else None


def write_new_token(
    command: BaseCommand, description: str, token: BaseToken, plaintext: str
) -> None:
    """What both token commands print: a summary line, then the token alone on the last line."""
    expiry = f", expires {token.expires_at.isoformat()}" if token.expires_at else ""
    command.stdout.write(
        f"{description} (scopes: {' '.join(token.scopes)}{expiry}). "
        "Copy it now; it cannot be shown again:"
    )
    command.stdout.write(plaintext)


def create_token_command(
    command: BaseCommand,
    *,
    find_owner: Callable[[], Owner | None],
    missing: str,
    create: Callable[..., tuple[BaseToken, str]],
    description: str,
    scopes: list[str] | None,
    name: str,
    expires_in: int | None,
) -> None:
    """What both token commands do, in one transaction: look the owner up (`missing` is the
    CommandError when there is none), call `create(owner, scopes=, name=, expires_at=)`
    (scopes default to DEFAULT_TOKEN_SCOPES), then print the token (`write_new_token`)."""
    with command_transaction():
        owner = find_owner()
        if owner is None:
            raise CommandError(missing)
        token, plaintext = create(
            owner,
            scopes=scopes or DEFAULT_TOKEN_SCOPES,
            name=name,
            expires_at=expires_at_from(expires_in),
        )
    write_new_token(command, description, token, plaintext)


def positive_int(name: str) -> Callable[[str], int]:
    """An argparse type for a whole number >= 1, failing with a message naming `name`."""

    def parse(value: str) -> int:
        if not value.strip().isdigit() or int(value) < 1:
            raise argparse.ArgumentTypeError(
                f"{name} must be a whole number of at least 1, not {value!r}"
            )
        return int(value)

    return parse


def add_scope_arguments(parser: Any, kind: str) -> None:
    parser.add_argument(
        "--scope",
        dest="scopes",
        action="extend",
        nargs="+",
        metavar="SCOPE",
        help=(
            f"A scope of the {kind} (repeatable, or several after one --scope). "
            "Default: org:read project:read team:read member:read."
        ),
    )
    parser.add_argument("--name", default="", help="A label for the token.")
    parser.add_argument(
        "--expires-in",
        type=positive_int("--expires-in"),
        metavar="SECONDS",
        help="Expire the token this many seconds from now (default: never).",
    )
