"""Request bodies and response shapes of the write half of the organization API (teams,
projects, DSN keys, members, organization settings), as Sentry's API has them.

Request serializers ignore unknown fields (as Sentry does) and answer a wrong type or a
missing required field with Sentry's `{"field": ["message"]}`. Response serializers give
every `id` as a string and every time as RFC 3339 with a zone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.utils.text import slugify
from rest_framework import serializers

from organizations import project_options, scopes
from organizations.access import Access
from organizations.directory_serializers import (
    OrganizationSerializer,
    ProjectSerializer,
    TeamSummarySerializer,
)
from organizations.models import (
    BROWSER_SDK_VERSIONS,
    LOADER_OPTION_NAMES,
    Organization,
    OrganizationMember,
    Project,
    ProjectKey,
    Team,
)

SLUG_MESSAGE = (
    "Enter a valid slug consisting of lowercase letters, numbers, underscores or hyphens. "
    "It cannot be entirely numeric."
)
# \Z: `$` would also match before a trailing newline.
slug_validator = RegexValidator(r"^(?![0-9]+\Z)[a-z0-9_-]+\Z", SLUG_MESSAGE)
platform_validator = RegexValidator(r"^[a-z0-9_.-]*\Z", "Invalid platform")
header_validator = RegexValidator(r"^[a-zA-Z0-9_-]+\Z", "Enter a valid header name.")
MAX_INT = 2**31 - 1
MAX_TEXT = 100_000


class SlugField(serializers.CharField):
    """An optional slug, as Sentry accepts one: at most 50 lowercase letters, digits,
    underscores or hyphens, not all digits (``SLUG_MESSAGE`` otherwise)."""

    def __init__(self, *, allow_null: bool = False) -> None:
        super().__init__(
            max_length=50, required=False, allow_null=allow_null, validators=[slug_validator]
        )


class PlatformField(serializers.CharField):
    """An optional project platform (``javascript-react``, ...): at most 64 lowercase letters,
    digits, dots, underscores or hyphens; null or blank for none."""

    def __init__(self) -> None:
        super().__init__(
            max_length=64,
            required=False,
            allow_null=True,
            allow_blank=True,
            validators=[platform_validator],
        )


def datetime_field() -> serializers.DateTimeField:
    return serializers.DateTimeField(read_only=True)


def iso(value: Any) -> str | None:
    return serializers.DateTimeField().to_representation(value) if value else None


AVATAR = {"avatarType": "letter_avatar", "avatarUuid": None, "avatarUrl": None}


# --- rate limits ---------------------------------------------------------------------------


class RateLimitSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """`{"count": N, "window": seconds}`; a null or zero count or window means no limit."""

    count = serializers.IntegerField(
        min_value=0, max_value=MAX_INT, required=False, allow_null=True
    )
    window = serializers.IntegerField(
        min_value=0, max_value=86_400, required=False, allow_null=True
    )


def rate_limit_value(data: Mapping[str, Any] | None) -> tuple[int, int] | None:
    """(count, window) of a validated rateLimit, None when it sets no limit (Sentry stores a
    limit only when both are non-zero)."""
    if not data:
        return None
    count, window = data.get("count"), data.get("window")
    if not count or not window:
        return None
    return int(count), int(window)


def rate_limit_representation(obj: Any) -> dict[str, int] | None:
    if obj.rate_limit_count is None or not obj.rate_limit_window:
        return None
    return {"window": obj.rate_limit_window, "count": obj.rate_limit_count}


# --- teams ---------------------------------------------------------------------------------


class TeamCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    slug = SlugField(allow_null=True)
    name = serializers.CharField(max_length=64, required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("slug") and not attrs.get("name"):
            raise serializers.ValidationError("Name or slug is required")
        if not attrs.get("slug"):
            slug = slugify(attrs["name"])[:50].strip("-_")
            if not slug or slug.isdigit():
                raise serializers.ValidationError({"slug": [SLUG_MESSAGE]})
            attrs["slug"] = slug
        return attrs


class TeamUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    slug = SlugField()
    name = serializers.CharField(max_length=64, required=False)


class TeamSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Sentry's Team. Needs `context["access"]`; `context["expand"]` may hold
    "organization" and/or "projects" (with "externalTeams")."""

    def to_representation(self, team: Team) -> dict[str, Any]:
        access: Access = self.context["access"]
        expand = self.context.get("expand", ())
        is_member = team.pk in access.team_ids
        role = access.member.role if access.member is not None else None
        data: dict[str, Any] = {
            "id": str(team.pk),
            "slug": team.slug,
            "name": team.name,
            "dateCreated": iso(team.date_created),
            "isMember": is_member,
            "teamRole": scopes.team_role_for(role) if is_member and role else None,
            "flags": {"idp:provisioned": False},
            "access": sorted(access.scopes),
            "hasAccess": is_member or access.has_global_access,
            "isPending": False,
            "memberCount": team.members.count(),
            "avatar": AVATAR,
        }
        if "organization" in expand:
            data["organization"] = OrganizationSerializer(team.organization).data
        if "projects" in expand:
            projects = team.projects.order_by("slug", "id").prefetch_related("teams")
            data["projects"] = ProjectSerializer(
                projects,
                many=True,
                context={
                    "access": access,
                    "organization_data": OrganizationSerializer(team.organization).data,
                },
            ).data
            data["externalTeams"] = []
        return data


# --- projects ------------------------------------------------------------------------------

PROJECT_DEFAULTS: dict[str, Any] = {
    "digestsMinDelay": 300,
    "digestsMaxDelay": 1800,
    "resolveAge": 0,
    "subjectPrefix": "",
    "subjectTemplate": "$shortID - $title",
    "fingerprintingRules": "",
    "groupingEnhancements": "",
    "allowedDomains": ["*"],
    "scrapeJavaScript": True,
    "securityToken": "",
    "securityTokenHeader": None,
    "verifySSL": False,
    "highlightTags": [],
    "highlightContext": {},
    "dataScrubber": True,
    "dataScrubberDefaults": True,
    "scrubIPAddresses": False,
    "sensitiveFields": [],
    "safeFields": [],
    "storeCrashReports": None,
}
"""The Sentry project settings kept in `Project.settings`, with the value a new project
reports. statsapi stores and returns them; nothing else here acts on them."""

STORE_CRASH_REPORTS_CHOICES = (0, 1, 5, 10, 20, 50, 100, -1)


class ProjectCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=50)
    slug = SlugField(allow_null=True)
    platform = PlatformField()
    default_rules = serializers.BooleanField(required=False, default=True)


class ProjectUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """`PUT /projects/{org}/{project}/`. `options` holds the entries of other apps (see
    organizations.project_options); its other keys are ignored."""

    name = serializers.CharField(max_length=200, required=False)
    slug = SlugField()
    platform = PlatformField()
    isBookmarked = serializers.BooleanField(required=False)
    digestsMinDelay = serializers.IntegerField(min_value=60, max_value=3600, required=False)
    digestsMaxDelay = serializers.IntegerField(min_value=60, max_value=3600, required=False)
    resolveAge = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False)
    subjectPrefix = serializers.CharField(max_length=200, required=False, allow_blank=True)
    subjectTemplate = serializers.CharField(max_length=200, required=False, allow_blank=True)
    fingerprintingRules = serializers.CharField(
        max_length=MAX_TEXT, required=False, allow_blank=True, trim_whitespace=False
    )
    groupingEnhancements = serializers.CharField(
        max_length=MAX_TEXT, required=False, allow_blank=True, trim_whitespace=False
    )
    allowedDomains = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, allow_empty=False
    )
    scrapeJavaScript = serializers.BooleanField(required=False)
    securityToken = serializers.CharField(max_length=255, required=False, allow_blank=True)
    securityTokenHeader = serializers.CharField(
        max_length=20,
        required=False,
        allow_null=True,
        allow_blank=True,
        validators=[header_validator],
    )
    verifySSL = serializers.BooleanField(required=False)
    highlightTags = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False
    )
    # Context key -> the keys to highlight in it, as Sentry has it (no free-form JSON, which
    # PostgreSQL would refuse with a NUL inside).
    highlightContext = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(max_length=200)), required=False
    )
    dataScrubber = serializers.BooleanField(required=False)
    dataScrubberDefaults = serializers.BooleanField(required=False)
    scrubIPAddresses = serializers.BooleanField(required=False)
    sensitiveFields = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False
    )
    safeFields = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    storeCrashReports = serializers.ChoiceField(
        choices=STORE_CRASH_REPORTS_CHOICES, required=False, allow_null=True
    )
    options = serializers.DictField(required=False)

    def validate_options(self, value: dict[str, Any]) -> dict[str, Any]:
        cleaned: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for provider in project_options.providers():
            given = {key: value[key] for key in provider.keys if key in value}
            if not given:
                continue
            try:
                cleaned.update(provider.clean(given))
            except DjangoValidationError as exc:
                errors.update(exc.message_dict)
        if errors:
            raise serializers.ValidationError(errors)
        return cleaned

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        project: Project = self.context["project"]
        current = {**PROJECT_DEFAULTS, **project.settings}
        low = attrs.get("digestsMinDelay", current["digestsMinDelay"])
        high = attrs.get("digestsMaxDelay", current["digestsMaxDelay"])
        if low > high:
            raise serializers.ValidationError(
                {
                    "digestsMinDelay": [
                        "The minimum delay on digests must be lower than the maximum."
                    ]
                }
            )
        return attrs


def project_color(project: Project) -> str:
    """A stable colour from the slug, as Sentry derives one."""
    return "#" + hashlib.md5(project.slug.encode(), usedforsecurity=False).hexdigest()[:6]


class DetailedProjectSerializer(ProjectSerializer):
    """Sentry's DetailedProject: the directory's project (organization, teams) plus the
    stored settings and `options` (see PROJECT_DEFAULTS, organizations.project_options)."""

    def to_representation(self, project: Project) -> dict[str, Any]:
        data = super().to_representation(project)
        stored = {key: project.settings.get(key, value) for key, value in PROJECT_DEFAULTS.items()}
        data.update(
            {
                "color": project_color(project),
                "isPublic": False,
                "isInternal": False,
                "avatar": AVATAR,
                "firstTransactionEvent": False,
                "hasSessions": False,
                "hasProfiles": False,
                "hasReplays": False,
                "hasMonitors": False,
                "hasMinifiedStackTrace": False,
                "latestRelease": None,
                "options": project_options.read(project),
                **stored,
                "highlightPreset": {"tags": [], "context": {}},
                "groupingConfig": "newstyle:2023-01-11",
                "secondaryGroupingExpiry": 0,
                "secondaryGroupingConfig": None,
                "plugins": [],
                "platforms": [project.platform] if project.platform else [],
                "processingIssues": 0,
                "defaultEnvironment": None,
                "relayPiiConfig": None,
                "builtinSymbolSources": [],
                "dynamicSamplingBiases": None,
                "symbolSources": "[]",
                "isDynamicallySampled": False,
            }
        )
        return data


# --- DSN keys ------------------------------------------------------------------------------


class LoaderOptionsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    hasReplay = serializers.BooleanField(required=False)
    hasPerformance = serializers.BooleanField(required=False)
    hasDebug = serializers.BooleanField(required=False)
    hasFeedback = serializers.BooleanField(required=False)
    hasLogsAndMetrics = serializers.BooleanField(required=False)


class KeyCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=64, required=False, allow_null=True, allow_blank=True)
    rateLimit = RateLimitSerializer(required=False, allow_null=True)
    browserSdkVersion = serializers.ChoiceField(choices=BROWSER_SDK_VERSIONS, required=False)
    dynamicSdkLoaderOptions = LoaderOptionsSerializer(required=False)


class KeyUpdateSerializer(KeyCreateSerializer):
    isActive = serializers.BooleanField(required=False)


def key_dsns(key: ProjectKey) -> dict[str, str]:
    """Sentry's `dsn` map. `public` and `secret` are the DSNs ingest serves (envelope and
    store endpoints); the others are given in Sentry's shapes for clients that require them,
    and nothing here serves them."""
    base = urlsplit(settings.STATSAPI_PUBLIC_URL)
    root = f"{base.scheme}://{base.netloc}{base.path.rstrip('/')}"
    pid, public = key.project_id, key.public_key
    api = f"{root}/api/{pid}"
    return {
        "public": key.dsn,
        "secret": f"{base.scheme}://{public}:{key.secret_key}@{base.netloc}"
        f"{base.path.rstrip('/')}/{pid}",
        "csp": f"{api}/csp-report/?sentry_key={public}",
        "security": f"{api}/security/?sentry_key={public}",
        "minidump": f"{api}/minidump/?sentry_key={public}",
        "nel": f"{api}/nel/?sentry_key={public}",
        "unreal": f"{api}/unreal/{public}/",
        "crons": f"{api}/crons/___MONITOR_SLUG___/{public}/",
        "cdn": f"{root}/js-sdk-loader/{public}.min.js",
        "playstation": f"{api}/playstation/?sentry_key={public}",
        "integration": f"{root}/",
        "otlp_traces": f"{api}/otlp/v1/traces",
        "otlp_logs": f"{api}/otlp/v1/logs",
    }


class ProjectKeySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Sentry's ProjectKey: `id` is the public key; `name` the label, or the first 14
    characters of the public key when it has none."""

    def to_representation(self, key: ProjectKey) -> dict[str, Any]:
        name = key.label or key.public_key[:14]
        options = {**{option: False for option in LOADER_OPTION_NAMES}, **key.loader_options}
        return {
            "id": key.public_key,
            "name": name,
            "label": name,
            "public": key.public_key,
            "secret": key.secret_key,
            "projectId": key.project_id,
            "isActive": key.is_active,
            "rateLimit": rate_limit_representation(key),
            "dsn": key_dsns(key),
            "browserSdkVersion": key.browser_sdk_version,
            "browserSdk": {"choices": [[version, version] for version in BROWSER_SDK_VERSIONS]},
            "dateCreated": iso(key.date_created),
            "dynamicSdkLoaderOptions": {option: bool(options[option]) for option in options},
        }


# --- members -------------------------------------------------------------------------------

ROLE_CHOICES = scopes.ROLE_ORDER


class TeamRoleSerializer(serializers.Serializer):  # type: ignore[type-arg]
    teamSlug = serializers.CharField(max_length=50)
    role = serializers.ChoiceField(choices=scopes.TEAM_ROLES, required=False, allow_null=True)


class MemberUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """`orgRole` (or the older `role`), `teamRoles` (or the older `teams`, a list of slugs)."""

    orgRole = serializers.ChoiceField(choices=ROLE_CHOICES, required=False)
    role = serializers.ChoiceField(choices=ROLE_CHOICES, required=False)
    teamRoles = TeamRoleSerializer(many=True, required=False)
    teams = serializers.ListField(child=serializers.CharField(max_length=50), required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Validated data: `role` (None: unchanged), `team_slugs` (None: unchanged) and
        `team_roles` (the requested `{teamSlug, role}` entries)."""
        org_role, old_role = attrs.pop("orgRole", None), attrs.pop("role", None)
        team_roles: list[dict[str, Any]] = attrs.pop("teamRoles", None) or []
        slugs: list[str] | None = None
        if "teamRoles" in self.initial_data:
            slugs = [entry["teamSlug"] for entry in team_roles]
        elif "teams" in attrs:
            slugs = list(attrs["teams"])
        attrs.pop("teams", None)
        attrs.update(role=org_role or old_role, team_slugs=slugs, team_roles=team_roles)
        return attrs


class MemberCreateSerializer(MemberUpdateSerializer):
    email = serializers.EmailField(max_length=75)
    sendInvite = serializers.BooleanField(required=False, default=True)
    reinvite = serializers.BooleanField(required=False)


def role_list_item(role: str, allowed: bool) -> dict[str, Any]:
    return {
        "id": role,
        "name": role.title(),
        "desc": scopes.ROLE_DESCRIPTIONS[role],
        "scopes": sorted(scopes.ROLE_SCOPES[role]),
        "allowed": allowed,
        "isAllowed": allowed,
        "isRetired": False,
        "isTeamRolesAllowed": role != scopes.ROLE_BILLING,
        "is_global": role in scopes.GLOBAL_ACCESS_ROLES,
        "isGlobal": role in scopes.GLOBAL_ACCESS_ROLES,
        "minimumTeamRole": scopes.team_role_for(role) or scopes.TEAM_ROLE_CONTRIBUTOR,
    }


def team_role_list_item(role: str, allowed: bool) -> dict[str, Any]:
    return {
        "id": role,
        "name": "Team " + role.title(),
        "desc": scopes.TEAM_ROLE_DESCRIPTIONS[role],
        "scopes": sorted(scopes.TEAM_ROLE_SCOPES[role]),
        "allowed": allowed,
        "isAllowed": allowed,
        "isRetired": False,
        "isTeamRolesAllowed": True,
        "isMinimumRoleFor": next(
            (org_role for org_role in ("admin",) if role == scopes.TEAM_ROLE_ADMIN), None
        ),
    }


def org_role_list(allowed_roles: frozenset[str]) -> list[dict[str, Any]]:
    return [role_list_item(role, role in allowed_roles) for role in scopes.ROLE_ORDER]


def team_role_list(allowed_roles: frozenset[str]) -> list[dict[str, Any]]:
    return [team_role_list_item(role, role in allowed_roles) for role in scopes.TEAM_ROLES]


def user_representation(user: AbstractBaseUser) -> dict[str, Any]:
    full_name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    email = getattr(user, "email", "") or ""
    return {
        "id": str(user.pk),
        "name": full_name or user.get_username(),
        "username": user.get_username(),
        "email": email,
        "avatarUrl": None,
        "isActive": user.is_active,
        "hasPasswordAuth": user.has_usable_password(),
        "isManaged": False,
        "dateJoined": iso(getattr(user, "date_joined", None)),
        "lastLogin": iso(getattr(user, "last_login", None)),
        "has2fa": False,
        "lastActive": iso(getattr(user, "last_login", None)),
        "isSuperuser": getattr(user, "is_superuser", False),
        "isStaff": getattr(user, "is_staff", False),
        "experiments": {},
        "emails": [{"id": str(user.pk), "email": email, "is_verified": False}] if email else [],
        "avatar": {"avatarType": "letter_avatar", "avatarUuid": None},
    }


class MemberSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Sentry's OrganizationMember; with `context["with_roles"]` also the WithRoles fields
    (`teams`, `teamRoles`, `orgRoleList`, `teamRoleList`, ...), for which
    `context["allowed_roles"]` (the org roles the caller may give) is needed."""

    def to_representation(self, member: OrganizationMember) -> dict[str, Any]:
        user = member.user
        email = getattr(user, "email", "") or ""
        full_name = user.get_full_name() if hasattr(user, "get_full_name") else ""
        data: dict[str, Any] = {
            "id": str(member.pk),
            "email": email or user.get_username(),
            "name": full_name or email or user.get_username(),
            "user": user_representation(user),
            "orgRole": member.role,
            "pending": False,
            "expired": False,
            "flags": {
                "idp:provisioned": False,
                "idp:role-restricted": False,
                "sso:linked": False,
                "sso:invalid": False,
                "member-limit:restricted": False,
                "partnership:restricted": False,
            },
            "dateCreated": iso(member.date_created),
            "inviteStatus": "approved",
            "inviterName": None,
        }
        if self.context.get("with_roles"):
            teams = sorted(member.teams.all(), key=lambda team: team.slug)
            team_role = scopes.team_role_for(member.role)
            allowed: frozenset[str] = self.context.get("allowed_roles", frozenset())
            data.update(
                {
                    "role": member.role,
                    "roleName": member.role.title(),
                    "teams": [team.slug for team in teams],
                    "teamRoles": [{"teamSlug": team.slug, "role": team_role} for team in teams],
                    "invite_link": None,
                    "isOnlyOwner": self.context.get("is_only_owner", False),
                    "orgRoleList": org_role_list(allowed),
                    "teamRoleList": team_role_list(frozenset(scopes.TEAM_ROLES)),
                }
            )
        return data


# --- organization --------------------------------------------------------------------------


class OrganizationUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """`name`, `slug` and `rateLimit` (statsapi's organization-wide ingest quota:
    `{"count", "window"}` as on DSN keys, null for none); Sentry's other organization
    settings are ignored."""

    name = serializers.CharField(max_length=64, required=False)
    slug = SlugField()
    rateLimit = RateLimitSerializer(required=False, allow_null=True)


class DetailedOrganizationSerializer(OrganizationSerializer):
    """The directory's organization plus the role lists and the rate limit."""

    def to_representation(self, organization: Organization) -> dict[str, Any]:
        data = dict(super().to_representation(organization))
        allowed: frozenset[str] = self.context.get("allowed_roles", frozenset())
        data["orgRoleList"] = org_role_list(allowed)
        data["teamRoleList"] = team_role_list(frozenset(scopes.TEAM_ROLES))
        data["rateLimit"] = rate_limit_representation(organization)
        return data


__all__ = [
    "DetailedOrganizationSerializer",
    "DetailedProjectSerializer",
    "KeyCreateSerializer",
    "KeyUpdateSerializer",
    "MemberCreateSerializer",
    "MemberSerializer",
    "MemberUpdateSerializer",
    "OrganizationUpdateSerializer",
    "ProjectCreateSerializer",
    "ProjectKeySerializer",
    "ProjectUpdateSerializer",
    "RateLimitSerializer",
    "TeamCreateSerializer",
    "TeamSerializer",
    "TeamSummarySerializer",
    "TeamUpdateSerializer",
]
