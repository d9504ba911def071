"""Admin for inbound filters: an inline on the project page and a standalone list.

The project page is ``organizations.admin.ProjectAdmin`` extended here with the inline (the
admin of ``organizations`` knows nothing of ingest: imports point from ingest to it).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from ingest.models import InboundFilters
from organizations.admin import ProjectAdmin
from organizations.models import Project
from usage.admin_charts import UsageChartsMixin

FILTER_FIELDSETS: tuple[tuple[str | None, Any], ...] = (
    (None, {"fields": ("web_crawlers", "localhost", "browser_extensions", "legacy_browsers")}),
    ("Lists", {"fields": ("blacklisted_ips", "releases", "error_messages")}),
)


class InboundFiltersInline(admin.StackedInline[InboundFilters, Project]):
    """Shown on the project page (IngestProjectAdmin)."""

    model = InboundFilters
    can_delete = False
    max_num = 1
    min_num = 0
    extra = 1
    fieldsets = FILTER_FIELDSETS


@admin.register(InboundFilters)
class InboundFiltersAdmin(admin.ModelAdmin[InboundFilters]):
    list_display = ("project", "web_crawlers", "localhost", "browser_extensions", "legacy_browsers")
    list_filter = ("web_crawlers", "localhost", "browser_extensions", "legacy_browsers")
    search_fields = ("project__slug", "project__organization__slug")
    list_select_related = ("project__organization",)
    autocomplete_fields = ()
    raw_id_fields = ("project",)
    fieldsets = ((None, {"fields": ("project",)}), *FILTER_FIELDSETS)


class IngestProjectAdmin(UsageChartsMixin, ProjectAdmin):
    """The project page with its usage charts, and the project's inbound filters below its DSN
    keys."""

    inlines = [*ProjectAdmin.inlines, InboundFiltersInline]


admin.site.unregister(Project)
admin.site.register(Project, IngestProjectAdmin)
