"""Admin for inbound filters: an inline for the project page and a standalone list."""

from __future__ import annotations

from django.contrib import admin

from ingest.models import InboundFilters

FILTER_FIELDSETS = (
    (None, {"fields": ("web_crawlers", "localhost", "browser_extensions", "legacy_browsers")}),
    ("Lists", {"fields": ("blacklisted_ips", "releases", "error_messages")}),
)


class InboundFiltersInline(admin.StackedInline):
    """Shown on the project page (organizations.admin.ProjectAdmin includes it)."""

    model = InboundFilters
    can_delete = False
    max_num = 1
    min_num = 0
    extra = 1
    fieldsets = FILTER_FIELDSETS


@admin.register(InboundFilters)
class InboundFiltersAdmin(admin.ModelAdmin):
    list_display = ("project", "web_crawlers", "localhost", "browser_extensions", "legacy_browsers")
    list_filter = ("web_crawlers", "localhost", "browser_extensions", "legacy_browsers")
    search_fields = ("project__slug", "project__organization__slug")
    list_select_related = ("project__organization",)
    autocomplete_fields = ()
    raw_id_fields = ("project",)
    fieldsets = ((None, {"fields": ("project",)}), *FILTER_FIELDSETS)
