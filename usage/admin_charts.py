"""Usage charts in the admin: the organization, project and DSN-key change pages, and the
overview page at /admin/usage/ (templates in usage/templates/admin/).

Counts are read through the same selectors as the API (``usage.admin_reads``), drawn as inline
SVG (``statsapi.charts``). When the TSDB cannot be reached, every page still renders and says
the counts are unavailable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from organizations.models import Organization, Project, ProjectKey
from statsapi import charts
from tsdb.base import TSDBUnavailable
from usage import admin_reads

if TYPE_CHECKING:
    from django.template.response import _TemplateForResponseT


@dataclass(frozen=True)
class Window:
    key: str
    label: str
    seconds: int
    rollup: int


# The change pages' toggles: the last 24 hours (the default), 7 days and 90 days.
WINDOWS = {
    window.key: window
    for window in (
        Window("24h", "24 hours", 86_400, 3_600),
        Window("7d", "7 days", 7 * 86_400, 3_600),
        Window("90d", "90 days", 90 * 86_400, 86_400),
    )
}
DEFAULT_WINDOW = "24h"
UNAVAILABLE = "Counts are unavailable: the stats store (Redis) cannot be reached right now."
OUTCOME_ORDER = ("accepted", "filtered", "rate_limited", "invalid", "abuse", "client_discard")


def window_bounds(window: Window, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The window ending now with exactly ``seconds / rollup`` buckets, the last one the
    current bucket (the API's own rule: ``since = until - seconds + 1``)."""
    end = now or datetime.now(UTC)
    return end - timedelta(seconds=window.seconds - 1), end


def usage_context(obj: Organization | Project | ProjectKey, choice: str | None) -> dict[str, Any]:
    """What the usage block of a change page shows: the window toggles, and the charts or
    the reason there are none."""
    window = WINDOWS.get(choice or "", WINDOWS[DEFAULT_WINDOW])
    start, end = window_bounds(window)
    context: dict[str, Any] = {
        "windows": list(WINDOWS.values()),
        "window": window,
        "legacy_chart": None,
        "outcome_chart": None,
        "outcome_note": None,
        "unavailable": None,
    }
    try:
        legacy = admin_reads.legacy_series(obj, start=start, end=end, rollup=window.rollup)
        if isinstance(obj, ProjectKey):
            context["outcome_note"] = (
                "Outcomes by category are shown on the project's page (they are counted per "
                "project)."
            )
            outcomes: Mapping[str, Mapping[str, int]] = {}
        else:
            outcomes = admin_reads.outcomes_by_category(obj, start=start, end=end)
    except TSDBUnavailable:
        context["unavailable"] = UNAVAILABLE
        return context
    context["legacy_chart"] = charts.line_chart(
        legacy, label=f"received, rejected and blacklisted events, last {window.label}"
    )
    context["legacy_totals"] = {name: sum(count for _, count in s) for name, s in legacy.items()}
    if outcomes:
        context["outcome_chart"] = charts.stacked_bars(
            outcomes, order=OUTCOME_ORDER, label=f"outcomes by category, last {window.label}"
        )
    elif context["outcome_note"] is None:
        context["outcome_note"] = f"No outcomes recorded in the last {window.label}."
    return context


class UsageChartsMixin:
    """For a ModelAdmin of Organization, Project or ProjectKey: its change page shows the
    usage block (``admin/usage_change_form.html``), window chosen by ``?usage=24h|7d|90d``."""

    change_form_template: ClassVar[_TemplateForResponseT | None] = "admin/usage_change_form.html"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = dict(extra_context or {})
        if request.method == "GET":
            obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
            if obj is not None:
                extra["usage"] = usage_context(obj, request.GET.get("usage"))
        response: HttpResponse = super().change_view(  # type: ignore[misc]
            request, object_id, form_url, extra
        )
        return response


# -- the overview page ----------------------------------------------------------------------------


def _ranked(
    sums: Mapping[int, int], objects: Mapping[int, Any], url_name: str, limit: int = 10
) -> list[dict[str, Any]]:
    ranked = sorted(
        ((count, pk) for pk, count in sums.items() if count and pk in objects),
        key=lambda pair: (-pair[0], pair[1]),
    )[:limit]
    return [
        {
            "object": objects[pk],
            "count": count,
            "url": reverse(url_name, args=[pk]),
        }
        for count, pk in ranked
    ]


def usage_overview(request: HttpRequest) -> HttpResponse:
    """``/admin/usage/``: the organizations and projects with the most events and the most
    rejected events in the last hour and the last day, each linked to its admin page."""
    if not (
        request.user.has_perm("organizations.view_organization")
        and request.user.has_perm("organizations.view_project")
    ):
        raise PermissionDenied
    organizations = {org.pk: org for org in Organization.objects.all()}
    projects = {project.pk: project for project in Project.objects.select_related("organization")}
    now = datetime.now(UTC)
    periods = []
    unavailable = None
    try:
        for label, seconds in (("last hour", 3_600), ("last day", 86_400)):
            start = now - timedelta(seconds=seconds - 1)
            totals = admin_reads.totals(
                organization_ids=list(organizations),
                project_ids=list(projects),
                start=start,
                end=now,
            )
            periods.append(
                {
                    "label": label,
                    "lists": [
                        (
                            "Organizations with the most events",
                            _ranked(
                                totals.organization_received,
                                organizations,
                                "admin:organizations_organization_change",
                            ),
                        ),
                        (
                            "Organizations with the most rejected events",
                            _ranked(
                                totals.organization_rejected,
                                organizations,
                                "admin:organizations_organization_change",
                            ),
                        ),
                        (
                            "Projects with the most events",
                            _ranked(
                                totals.project_received,
                                projects,
                                "admin:organizations_project_change",
                            ),
                        ),
                        (
                            "Projects with the most rejected events",
                            _ranked(
                                totals.project_rejected,
                                projects,
                                "admin:organizations_project_change",
                            ),
                        ),
                    ],
                }
            )
    except TSDBUnavailable:
        unavailable = UNAVAILABLE
        periods = []
    context = {
        **admin.site.each_context(request),
        "title": "Usage overview",
        "periods": periods,
        "unavailable": unavailable,
    }
    return TemplateResponse(request, "admin/usage_overview.html", context)
