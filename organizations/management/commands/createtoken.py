"""`manage.py createtoken USERNAME [--scope SCOPE ...] [--expires-in SECONDS]`.

The new token is printed alone on the last line; it cannot be shown again.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from organizations.management.commands._common import (
    add_scope_arguments,
    command_transaction,
    expires_at_from,
    write_new_token,
)
from organizations.scopes import DEFAULT_TOKEN_SCOPES
from organizations.services import api_token_create


class Command(BaseCommand):
    help = "Create a personal API token (sntryu_...) for a user; prints it alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", metavar="USERNAME")
        add_scope_arguments(parser, "personal token")

    def handle(
        self,
        *args: Any,
        username: str,
        scopes: list[str] | None,
        name: str,
        expires_in: int | None,
        **options: Any,
    ) -> None:
        with command_transaction():
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"User {username!r} does not exist.")
            expires_at = expires_at_from(expires_in)
            token, plaintext = api_token_create(
                user=user,
                scopes=scopes or DEFAULT_TOKEN_SCOPES,
                name=name,
                expires_at=expires_at,
            )
        write_new_token(self, f"Personal token for {username}", token, plaintext)
