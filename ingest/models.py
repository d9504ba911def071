"""Per-project inbound filter settings (the only ingest data kept in the database)."""

from __future__ import annotations

import ipaddress

from django.core.exceptions import ValidationError
from django.db import models

from organizations.models import Project

MAX_FILTER_LINES = 1000
MAX_GLOB_LENGTH = 500


def split_lines(text: str) -> list[str]:
    """Entries of a list field: one per line (commas also separate), blanks dropped."""
    return [part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()]


def validate_ip_list(value: str) -> None:
    entries = split_lines(value)
    if len(entries) > MAX_FILTER_LINES:
        raise ValidationError(f"At most {MAX_FILTER_LINES} entries are allowed.")
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValidationError(
                f"{entry!r} is not a valid IP address or CIDR range "
                "(e.g. 192.0.2.7, 10.0.0.0/8, 2001:db8::/32).",
                code="invalid_ip",
            ) from None


def validate_glob_list(value: str) -> None:
    entries = [line.strip() for line in value.splitlines() if line.strip()]
    if len(entries) > MAX_FILTER_LINES:
        raise ValidationError(f"At most {MAX_FILTER_LINES} patterns are allowed.")
    for entry in entries:
        if len(entry) > MAX_GLOB_LENGTH:
            raise ValidationError(f"A pattern may be at most {MAX_GLOB_LENGTH} characters long.")


class InboundFilters(models.Model):
    """What a project drops before counting (Sentry's inbound data filters).

    A project without a row uses the defaults: only the web-crawler filter on.
    """

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, primary_key=True, related_name="inbound_filters"
    )
    blacklisted_ips = models.TextField(
        "IP addresses",
        blank=True,
        default="",
        validators=[validate_ip_list],
        help_text="One IP address or CIDR range per line (e.g. 10.0.0.0/8). Drops events "
        "from these addresses (the event's user IP, else the sender's).",
    )
    releases = models.TextField(
        "releases",
        blank=True,
        default="",
        validators=[validate_glob_list],
        help_text="One glob per line, case-insensitive (e.g. 1.* or *-beta). Drops events "
        "of matching releases.",
    )
    error_messages = models.TextField(
        "error messages",
        blank=True,
        default="",
        validators=[validate_glob_list],
        help_text="One glob per line, case-insensitive (e.g. *ConnectionError: timed out*). "
        "Matched against the message and each exception's 'Type: value'.",
    )
    localhost = models.BooleanField(
        "filter localhost",
        default=False,
        help_text="Drop events about 127.0.0.1, ::1 or localhost.",
    )
    browser_extensions = models.BooleanField(
        "filter browser extensions",
        default=False,
        help_text="Drop errors raised by browser extensions.",
    )
    legacy_browsers = models.BooleanField(
        "filter legacy browsers", default=False, help_text="Drop errors from old browsers."
    )
    web_crawlers = models.BooleanField(
        "filter web crawlers", default=True, help_text="Drop errors from known bots and crawlers."
    )

    class Meta:
        verbose_name = "inbound filters"
        verbose_name_plural = "inbound filters"

    def __str__(self) -> str:
        return f"Inbound filters of {self.project}"
