"""Organizations, teams, projects, members, DSN keys and API tokens."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from organizations import scopes

# \Z, not $: `$` also matches before a trailing newline, which would let "acme\n" in.
slug_validator = RegexValidator(
    r"^(?![0-9]+\Z)[a-z0-9_-]+\Z",
    "Enter a slug of lowercase letters, digits, underscores or hyphens (not only digits).",
)


class OrganizationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PENDING_DELETION = "pending_deletion", "Pending deletion"
    DELETION_IN_PROGRESS = "deletion_in_progress", "Deletion in progress"


class RateLimited(models.Model):
    """An optional ingest quota: `rate_limit_count` error events per `rate_limit_window`
    seconds (an organization's across all its projects, or one DSN key's). Both or neither."""

    rate_limit_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Error events allowed per window (empty: no limit)."
    )
    rate_limit_window = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Window length in seconds.",
    )

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        if (self.rate_limit_count is None) != (self.rate_limit_window is None):
            missing = "rate_limit_window" if self.rate_limit_window is None else "rate_limit_count"
            raise ValidationError({missing: "Give both the count and the window, or neither."})


class Organization(RateLimited):
    slug = models.CharField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=64)
    status = models.CharField(
        max_length=32, choices=OrganizationStatus.choices, default=OrganizationStatus.ACTIVE
    )
    is_early_adopter = models.BooleanField(default=False)
    require_2fa = models.BooleanField("require 2FA", default=False)
    require_email_verification = models.BooleanField(default=False)
    date_created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Team(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    slug = models.CharField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=64)
    date_created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization__slug", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="team_slug_unique")
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.slug}"


class Project(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="projects"
    )
    slug = models.CharField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=200)
    platform = models.CharField(max_length=64, blank=True, default="")
    teams = models.ManyToManyField(Team, related_name="projects", blank=True)
    date_created = models.DateTimeField(default=timezone.now)
    # Sentry project settings that clients set and read back (digests, resolve age, grouping
    # rules, allowed domains, ...), keyed by their API names. statsapi keeps and returns them;
    # nothing else here acts on them (organizations.provisioning_serializers.PROJECT_SETTINGS).
    settings = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["organization__slug", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="project_slug_unique")
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.slug}"


class OrganizationMember(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=scopes.ROLE_CHOICES, default=scopes.ROLE_MEMBER)
    teams = models.ManyToManyField(Team, related_name="members", blank=True)
    date_created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization__slug", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization.slug} ({self.role})"

    @property
    def scopes(self) -> frozenset[str]:
        return scopes.ROLE_SCOPES.get(self.role, frozenset())

    @property
    def has_global_access(self) -> bool:
        return self.role in scopes.GLOBAL_ACCESS_ROLES


PUBLIC_KEY_RE = re.compile(r"[0-9a-f]{32}")
"""A DSN public key, exactly 32 lowercase hex characters; match it with ``fullmatch``
(``is_public_key``)."""
# The model field's form of it; `$` cannot let a trailing newline in past max_length=32.
public_key_validator = RegexValidator(f"^{PUBLIC_KEY_RE.pattern}$", "32 lowercase hex characters.")


def is_public_key(value: str) -> bool:
    """Whether `value` has the shape of a DSN public key (32 lowercase hex characters)."""
    return PUBLIC_KEY_RE.fullmatch(value) is not None


def generate_public_key() -> str:
    return secrets.token_hex(16)


BROWSER_SDK_VERSIONS = ("latest", "9.x", "8.x", "7.x")
DEFAULT_BROWSER_SDK_VERSION = "latest"
LOADER_OPTION_NAMES = (
    "hasReplay",
    "hasPerformance",
    "hasDebug",
    "hasFeedback",
    "hasLogsAndMetrics",
)


def default_loader_options() -> dict[str, bool]:
    """A new key's JavaScript loader options, as sentry.io gives them: performance and replay
    on, the rest off."""
    return {name: name in ("hasReplay", "hasPerformance") for name in LOADER_OPTION_NAMES}


class ProjectKey(RateLimited):
    """A DSN key: `http://<public_key>@<host>/<project_id>`, with an optional quota."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="keys")
    label = models.CharField(max_length=64, blank=True, default="Default")
    public_key = models.CharField(
        max_length=32,
        unique=True,
        default=generate_public_key,
        validators=[public_key_validator],
    )
    secret_key = models.CharField(max_length=32, blank=True, default=generate_public_key)
    is_active = models.BooleanField(default=True)
    date_created = models.DateTimeField(default=timezone.now)
    # The JavaScript loader script's settings: kept and returned for clients (statsapi serves
    # no loader script).
    browser_sdk_version = models.CharField(
        max_length=16,
        default=DEFAULT_BROWSER_SDK_VERSION,
        choices=[(version, version) for version in BROWSER_SDK_VERSIONS],
    )
    loader_options = models.JSONField(default=default_loader_options, blank=True)

    class Meta:
        ordering = ["project_id", "id"]

    def __str__(self) -> str:
        return f"{self.project} key {self.public_key}"

    @property
    def dsn(self) -> str:
        base = urlsplit(settings.STATSAPI_PUBLIC_URL)
        return f"{base.scheme}://{self.public_key}@{base.netloc}{base.path.rstrip('/')}/{self.project_id}"


# --- API tokens --------------------------------------------------------------------------------

USER_TOKEN_PREFIX = "sntryu_"
ORG_TOKEN_PREFIX = "sntrys_"
# The stored lookup id: the type prefix plus the first 8 hex characters (not secret).
TOKEN_LOOKUP_LENGTH = 15


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


class BaseToken(models.Model):
    """Shared fields of personal and organization tokens.

    Only the SHA-256 hash of a token is stored; the plaintext is returned once, by `create`,
    and cannot be read back. `token_lookup` is a non-secret prefix used to find the row; the
    hash is then compared in constant time.
    """

    PREFIX = ""

    name = models.CharField(max_length=255, blank=True, default="")
    token_lookup = models.CharField(max_length=TOKEN_LOOKUP_LENGTH, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    token_last_characters = models.CharField(max_length=4, editable=False)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    date_created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        abstract = True

    @classmethod
    def generate_plaintext(cls) -> str:
        return cls.PREFIX + secrets.token_hex(32)

    def set_plaintext(self, plaintext: str) -> None:
        self.token_lookup = plaintext[:TOKEN_LOOKUP_LENGTH]
        self.token_hash = hash_token(plaintext)
        self.token_last_characters = plaintext[-4:]

    def matches(self, plaintext: str) -> bool:
        return hmac.compare_digest(self.token_hash, hash_token(plaintext))

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def display(self) -> str:
        """What may be shown after creation: the lookup prefix and the last four characters."""
        return f"{self.token_lookup}…{self.token_last_characters}"

    def get_scopes(self) -> frozenset[str]:
        return frozenset(self.scopes or ())


class ApiToken(BaseToken):
    """A personal token (`sntryu_` + 64 hex) acting as its user."""

    PREFIX = USER_TOKEN_PREFIX

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )

    class Meta:
        ordering = ["-date_created"]
        verbose_name = "personal API token"

    def __str__(self) -> str:
        return f"{self.display} ({self.user})"


class OrgAuthToken(BaseToken):
    """An organization token (`sntrys_` + 64 hex), bound to one organization, with no user."""

    PREFIX = ORG_TOKEN_PREFIX

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="auth_tokens"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-date_created"]
        verbose_name = "organization token"

    def __str__(self) -> str:
        return f"{self.display} ({self.organization.slug})"
