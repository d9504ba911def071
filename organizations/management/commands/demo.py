"""`manage.py demo`: demo organization, project, user and token, and 24 hours of sample counts.

Safe to run again: the objects are reused, a new token replaces the previous demo token (so
there is only ever one), and hours that already hold counts are left alone. Prints the DSN and
a curl line that works as printed.
"""

from __future__ import annotations

import shlex
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from organizations.services import demo_seed
from tsdb.base import TSDBUnavailable


class Command(BaseCommand):
    help = (
        "Create the demo organization, project, user and a new token, fill the last 24 hours "
        "with sample counts, and print a curl line to try the stats API."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            seed = demo_seed()
        except TSDBUnavailable as exc:
            raise CommandError(f"The TSDB cannot be reached ({exc}); is Redis running?") from None
        base = settings.STATSAPI_PUBLIC_URL.rstrip("/")
        url = f"{base}/api/0/organizations/{seed.organization.slug}/stats/"
        self.stdout.write(
            f"Demo organization {seed.organization.slug}, project {seed.project.slug} "
            f"(id {seed.project.pk}), owner {seed.user.get_username()}; "
            f"{seed.samples_written} sample buckets written."
        )
        self.stdout.write(f"DSN: {seed.key.dsn}")
        self.stdout.write(f"Token (shown once): {seed.plaintext}")
        self.stdout.write(
            "curl -H " + shlex.quote(f"Authorization: Bearer {seed.plaintext}") + f" {url}"
        )
