"""`manage.py createtoken USERNAME [--scope SCOPE ...] [--expires-in SECONDS]`.

The new token is printed alone on the last line; it cannot be shown again.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from organizations.management.commands._common import add_scope_arguments, create_token_command
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
        create_token_command(
            self,
            find_owner=lambda: get_user_model().objects.filter(username=username).first(),
            missing=f"User {username!r} does not exist.",
            create=lambda user, **fields: api_token_create(user=user, **fields),
            description=f"Personal token for {username}",
            scopes=scopes,
            name=name,
            expires_in=expires_in,
        )
