"""Output shapes of the directory endpoints, as Sentry's API returns them.

Clients deserialize these strictly (sentry-cli fails on a missing field), so every field a
known client reads is always present; ids are strings, as in Sentry.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from organizations.access import Access
from organizations.models import Organization, OrganizationStatus, Project, Team

ORGANIZATION_STATUS_NAMES = {
    OrganizationStatus.ACTIVE: "active",
    OrganizationStatus.PENDING_DELETION: "pending deletion",
    OrganizationStatus.DELETION_IN_PROGRESS: "deletion in progress",
}


class UserSerializer(serializers.Serializer):
    """The `user` of `GET /api/0/`. `email` is a string, never null (sentry-cli needs it)."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        full_name = instance.get_full_name() if hasattr(instance, "get_full_name") else ""
        return {
            "id": str(instance.pk),
            "name": full_name or instance.get_username(),
            "username": instance.get_username(),
            "email": instance.email or "",
            "isActive": instance.is_active,
            "isSuperuser": instance.is_superuser,
            "isStaff": instance.is_staff,
            "dateJoined": serializers.DateTimeField().to_representation(instance.date_joined),
        }


class OrganizationSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    dateCreated = serializers.DateTimeField(source="date_created", read_only=True)
    isEarlyAdopter = serializers.BooleanField(source="is_early_adopter", read_only=True)
    require2FA = serializers.BooleanField(source="require_2fa", read_only=True)
    requireEmailVerification = serializers.BooleanField(
        source="require_email_verification", read_only=True
    )
    status = serializers.SerializerMethodField()
    avatar = serializers.SerializerMethodField()
    features = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    hasAuthProvider = serializers.SerializerMethodField()

    class Meta:
        model = Organization
        fields = [
            "id",
            "slug",
            "name",
            "dateCreated",
            "status",
            "isEarlyAdopter",
            "require2FA",
            "requireEmailVerification",
            "avatar",
            "features",
            "links",
            "hasAuthProvider",
        ]
        read_only_fields = fields

    def get_status(self, organization: Organization) -> dict[str, str]:
        return {
            "id": organization.status,
            "name": ORGANIZATION_STATUS_NAMES.get(organization.status, organization.status),
        }

    def get_avatar(self, organization: Organization) -> dict[str, Any]:
        return {"avatarType": "letter_avatar", "avatarUuid": None, "avatarUrl": None}

    def get_features(self, organization: Organization) -> list[str]:
        return []

    def get_links(self, organization: Organization) -> dict[str, str]:
        # One region: the server itself. sentry-cli uses regionUrl as the API base.
        base = settings.STATSAPI_PUBLIC_URL.rstrip("/")
        return {"organizationUrl": base, "regionUrl": base}

    def get_hasAuthProvider(self, organization: Organization) -> bool:
        return False


class TeamSummarySerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)

    class Meta:
        model = Team
        fields = ["id", "slug", "name"]
        read_only_fields = fields


class ProjectSerializer(serializers.ModelSerializer):
    """A project with its organization and teams.

    Needs `context["access"]` (the caller's Access in the project's organization) for
    `isMember`; `context["organization_data"]` may carry the already serialized organization
    so that a page of projects serializes it once.
    """

    id = serializers.CharField(read_only=True)
    platform = serializers.SerializerMethodField()
    dateCreated = serializers.DateTimeField(source="date_created", read_only=True)
    isBookmarked = serializers.SerializerMethodField()
    isMember = serializers.SerializerMethodField()
    hasAccess = serializers.SerializerMethodField()
    features = serializers.SerializerMethodField()
    firstEvent = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    environments = serializers.SerializerMethodField()
    access = serializers.SerializerMethodField()
    organization = serializers.SerializerMethodField()
    team = serializers.SerializerMethodField()
    teams = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "slug",
            "name",
            "platform",
            "dateCreated",
            "isBookmarked",
            "isMember",
            "hasAccess",
            "features",
            "firstEvent",
            "status",
            "environments",
            "access",
            "organization",
            "team",
            "teams",
        ]
        read_only_fields = fields

    @property
    def caller_access(self) -> Access:
        return self.context["access"]

    def get_platform(self, project: Project) -> str | None:
        return project.platform or None

    def get_isBookmarked(self, project: Project) -> bool:
        return False

    def get_isMember(self, project: Project) -> bool:
        team_ids = self.caller_access.team_ids
        return any(team.pk in team_ids for team in project.teams.all())

    def get_hasAccess(self, project: Project) -> bool:
        # Only projects the caller can see are ever serialized.
        return True

    def get_features(self, project: Project) -> list[str]:
        return []

    @extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
    def get_firstEvent(self, project: Project) -> None:
        return None

    def get_status(self, project: Project) -> str:
        return "active"

    def get_environments(self, project: Project) -> list[str]:
        return []

    def get_access(self, project: Project) -> list[str]:
        return sorted(self.caller_access.scopes)

    def get_organization(self, project: Project) -> dict[str, Any]:
        data = self.context.get("organization_data")
        if data is None:
            data = OrganizationSerializer(project.organization).data
        return data

    def get_teams(self, project: Project) -> list[dict[str, Any]]:
        return TeamSummarySerializer(project.teams.all(), many=True).data

    def get_team(self, project: Project) -> dict[str, Any] | None:
        teams = list(project.teams.all())
        return TeamSummarySerializer(teams[0]).data if teams else None
