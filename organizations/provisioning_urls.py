"""Routes of the provisioning endpoints (mounted under /api/0/; see provisioning.py)."""

from django.urls import path

from organizations import provisioning

ORG = "<str:organization_id_or_slug>"
PROJECT = f"projects/{ORG}/<str:project_id_or_slug>"

urlpatterns = [
    path("internal/health/", provisioning.HealthEndpoint.as_view(), name="internal-health"),
    path(
        f"organizations/{ORG}/teams/",
        provisioning.OrganizationTeamsEndpoint.as_view(),
        name="organization-teams",
    ),
    path(
        f"organizations/{ORG}/members/",
        provisioning.OrganizationMembersEndpoint.as_view(),
        name="organization-members",
    ),
    path(
        f"organizations/{ORG}/members/<str:member_id>/",
        provisioning.OrganizationMemberDetailsEndpoint.as_view(),
        name="organization-member-details",
    ),
    path(
        f"organizations/{ORG}/members/<str:member_id>/teams/<str:team_id_or_slug>/",
        provisioning.OrganizationMemberTeamDetailsEndpoint.as_view(),
        name="organization-member-team-details",
    ),
    path(
        f"teams/{ORG}/<str:team_id_or_slug>/",
        provisioning.TeamDetailsEndpoint.as_view(),
        name="team-details",
    ),
    path(
        f"teams/{ORG}/<str:team_id_or_slug>/projects/",
        provisioning.TeamProjectsEndpoint.as_view(),
        name="team-projects",
    ),
    path(f"{PROJECT}/teams/", provisioning.ProjectTeamsEndpoint.as_view(), name="project-teams"),
    path(
        f"{PROJECT}/teams/<str:team_id_or_slug>/",
        provisioning.ProjectTeamDetailsEndpoint.as_view(),
        name="project-team-details",
    ),
    path(f"{PROJECT}/keys/", provisioning.ProjectKeysEndpoint.as_view(), name="project-keys"),
    path(
        f"{PROJECT}/keys/<str:key_id>/",
        provisioning.ProjectKeyDetailsEndpoint.as_view(),
        name="project-key-details",
    ),
]
