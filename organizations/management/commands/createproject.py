"""`manage.py createproject ORG_SLUG PROJECT_SLUG [--team TEAM_SLUG] [--rate-limit COUNT/SECONDS]`.

Prints the project id on the first line and the DSN of its first key on the last.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from organizations.management.commands._common import command_transaction
from organizations.models import Organization
from organizations.services import project_create, rate_limit_parse, team_get_or_create


class Command(BaseCommand):
    help = (
        "Create a project with its first DSN key (and the team, if missing). Prints the project "
        "id, then the DSN as the last line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org_slug", metavar="ORG_SLUG")
        parser.add_argument("project_slug", metavar="PROJECT_SLUG")
        parser.add_argument("--team", metavar="TEAM_SLUG", help="Team owning the project.")
        parser.add_argument(
            "--rate-limit",
            metavar="COUNT/SECONDS",
            help="Limit the first key to COUNT error events per SECONDS, e.g. 100/60.",
        )

    def handle(
        self,
        *args: Any,
        org_slug: str,
        project_slug: str,
        team: str | None,
        rate_limit: str | None,
        **options: Any,
    ) -> None:
        with command_transaction():
            organization = Organization.objects.filter(slug=org_slug).first()
            if organization is None:
                raise CommandError(f"Organization {org_slug!r} does not exist.")
            limit = rate_limit_parse(rate_limit) if rate_limit is not None else None
            teams = []
            if team is not None:
                teams.append(team_get_or_create(organization=organization, slug=team)[0])
            project = project_create(
                organization=organization, slug=project_slug, teams=teams, rate_limit=limit
            )
            key = project.keys.get()
        self.stdout.write(str(project.pk))
        self.stdout.write(key.dsn)
