"""`manage.py createorg SLUG [--name NAME] [--owner USERNAME]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from organizations.management.commands._common import command_transaction
from organizations.services import organization_create, user_get_or_create


class Command(BaseCommand):
    help = "Create an organization; with --owner, create that user if missing and make them owner."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Organization slug (lowercase letters, digits, - and _).")
        parser.add_argument("--name", help="Display name (default: the slug).")
        parser.add_argument("--owner", metavar="USERNAME", help="User to make an owner.")

    def handle(
        self, *args: Any, slug: str, name: str | None, owner: str | None, **options: Any
    ) -> None:
        with command_transaction():
            user = created = None
            if owner is not None:
                user, created = user_get_or_create(username=owner)
            organization = organization_create(slug=slug, name=name, owner=user)
        self.stdout.write(f"Created organization {organization.slug} (id {organization.pk})")
        if user is not None:
            verb = "Created user" if created else "User"
            self.stdout.write(f"{verb} {user.get_username()} is an owner of {organization.slug}")
