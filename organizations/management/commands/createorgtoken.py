"""`manage.py createorgtoken ORG_SLUG [--scope SCOPE ...] [--expires-in SECONDS]`.

The new token is printed alone on the last line; it cannot be shown again.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from organizations.management.commands._common import add_scope_arguments, create_token_command
from organizations.models import Organization
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
        create_token_command(
            self,
            find_owner=lambda: Organization.objects.filter(slug=org_slug).first(),
            missing=f"Organization {org_slug!r} does not exist.",
            create=lambda organization, **fields: org_token_create(
                organization=organization, **fields
            ),
            description=f"Organization token for {org_slug}",
            scopes=scopes,
            name=name,
            expires_in=expires_in,
        )
