"""Sentry's inbound-filter endpoints, on ingest's filters (ingest/inbound_filters.py).

- `GET /api/0/projects/{org}/{project}/filters/`              the filters and their state
- `PUT /api/0/projects/{org}/{project}/filters/{filter_id}/`  `{"active": bool}`, or for
  `legacy-browsers` `{"subfilters": [...]}`; 204

They live here, not in organizations, because organizations never imports ingest.
"""

from __future__ import annotations

from django.http import Http404
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from ingest.inbound_filters import (
    BOOLEAN_FILTERS,
    LEGACY_SUBFILTERS,
    filter_states,
    inbound_filter_set,
)
from organizations.permissions import ScopedPermission
from organizations.provisioning import (
    PROJECT_READ,
    PROJECT_WRITE,
    WriteEndpoint,
    doc,
    scope_map,
)

FILTERS_EXAMPLE: list[dict[str, object]] = [
    {"id": "browser-extensions", "active": False},
    {"id": "legacy-browsers", "active": ["ie", "safari"]},
    {"id": "localhost", "active": True},
    {"id": "web-crawlers", "active": True},
]


class FiltersPermission(ScopedPermission):
    scope_map = scope_map(GET=PROJECT_READ, PUT=PROJECT_WRITE)


class FilterUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    active = serializers.BooleanField(required=False)
    subfilters = serializers.ListField(
        child=serializers.ChoiceField(choices=LEGACY_SUBFILTERS), required=False
    )


class ProjectFiltersEndpoint(WriteEndpoint):
    """The project's inbound filters, by id."""

    permission_classes = [FiltersPermission]

    @doc("A project's inbound filters", 200, FILTERS_EXAMPLE)
    def get(
        self, request: Request, organization_id_or_slug: str, project_id_or_slug: str
    ) -> Response:
        project = self.get_project(request, organization_id_or_slug, project_id_or_slug)
        return Response(filter_states(project=project))


class ProjectFilterDetailsEndpoint(WriteEndpoint):
    """Switch one inbound filter on or off (204)."""

    permission_classes = [FiltersPermission]

    @doc("Switch an inbound filter on or off", 204, request=FilterUpdateSerializer)
    def put(
        self,
        request: Request,
        organization_id_or_slug: str,
        project_id_or_slug: str,
        filter_id: str,
    ) -> Response:
        project = self.get_project(request, organization_id_or_slug, project_id_or_slug)
        if filter_id not in BOOLEAN_FILTERS:
            raise Http404
        data = self.validated(FilterUpdateSerializer)
        inbound_filter_set(
            project=project,
            filter_id=filter_id,
            active=data.get("active"),
            subfilters=data.get("subfilters"),
            actor=self.actor,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
