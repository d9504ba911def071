"""`manage.py createorgtoken ORG_SLUG [--scope SCOPE ...] [--expires-in SECONDS]`.

The new token is printed alone on the last line; it cannot be shown again.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from organizations.management.commands._common import (
    add_scope_arguments,
    command_transaction,
    expires_at_from,
    write_new_token,
)
from organizations.models import Organization
from organizations.scopes import DEFAULT_TOKEN_SCOPES
from organizations.services import org_token_create


class Command(BaseCommand):
    help = "Create an organization token (sntrys_...); prints it alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org_slug", metavar="ORG_SLUG")
        add_scope_arguments(parser, "organization token")

    def handle(
        self,
        *args: Any,
        org_slug: str,
        scopes: list[str] | None,
        name: str,
        expires_in: int | None,
        **options: Any,
    ) -> None:
        with command_transaction():
            organization = Organization.objects.filter(slug=org_slug).first()
            if organization is None:
                raise CommandError(f"Organization {org_slug!r} does not exist.")
            expires_at = expires_at_from(expires_in)
            token, plaintext = org_token_create(
                organization=organization,
                scopes=scopes or DEFAULT_TOKEN_SCOPES,
                name=name,
                expires_at=expires_at,
            )
        write_new_token(self, f"Organization token for {org_slug}", token, plaintext)
