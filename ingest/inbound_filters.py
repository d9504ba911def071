"""Inbound filters through Sentry's API: the filter list and its switches
(`/projects/{org}/{project}/filters/`, ingest/api.py) and the project options
`filters:blacklisted_ips`, `filters:releases` and `filters:error_messages` (the project
API's `options`, served by organizations through the provider registered here).

Both write a project's ``InboundFilters`` row, which ingest reads (``ingest.projectconfig``):
a change reaches every ingest process within INGEST_CONFIG_CACHE_TTL seconds.

Sentry's legacy-browser filter takes a list of browsers ("subfilters"); ingest has one
legacy-browser rule (``ingest.filters.is_legacy_browser``). Any subfilter switches that rule
on; the list itself is kept in the project's settings (``LEGACY_SUBFILTERS_SETTING``) and
returned as given, so that clients read back what they set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ingest.models import InboundFilters, validate_glob_list, validate_ip_list
from organizations import services
from organizations.audit import Actor, record_addition, record_change
from organizations.models import Project

# Sentry's filter id -> the InboundFilters field.
BOOLEAN_FILTERS = {
    "browser-extensions": "browser_extensions",
    "legacy-browsers": "legacy_browsers",
    "localhost": "localhost",
    "web-crawlers": "web_crawlers",
}
FILTER_NAMES = {
    "browser-extensions": "Filter out errors known to be caused by browser extensions",
    "legacy-browsers": "Filter out known errors from legacy browsers",
    "localhost": "Filter out events coming from localhost",
    "web-crawlers": "Filter out known web crawlers",
}
LEGACY_SUBFILTERS = (
    "ie",
    "edge",
    "safari",
    "firefox",
    "chrome",
    "opera",
    "android",
    "opera_mini",
    # Deprecated in Sentry, still accepted.
    "ie_pre_9",
    "ie9",
    "ie10",
    "ie11",
    "opera_pre_15",
    "android_pre_4",
    "safari_pre_6",
    "opera_mini_pre_8",
    "edge_pre_79",
)
LEGACY_SUBFILTERS_SETTING = "filters:legacy-browsers"

# Project option -> (InboundFilters field, validator).
LIST_OPTIONS = {
    "filters:blacklisted_ips": ("blacklisted_ips", validate_ip_list),
    "filters:releases": ("releases", validate_glob_list),
    "filters:error_messages": ("error_messages", validate_glob_list),
}


def inbound_filters_get(*, project: Project) -> InboundFilters:
    """The project's row, or an unsaved one with the defaults."""
    try:
        return InboundFilters.objects.get(project=project)
    except InboundFilters.DoesNotExist:
        return InboundFilters(project=project)


def _lines(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def filter_states(*, project: Project) -> list[dict[str, Any]]:
    """Sentry's filter list, by id: `active` is a bool, or for legacy-browsers the list of
    subfilters when some were chosen."""
    row = inbound_filters_get(project=project)
    subfilters = project.settings.get(LEGACY_SUBFILTERS_SETTING)
    states = []
    for filter_id, field in sorted(BOOLEAN_FILTERS.items()):
        active: bool | list[str] = bool(getattr(row, field))
        if filter_id == "legacy-browsers" and active and subfilters:
            active = list(subfilters)
        states.append(
            {
                "id": filter_id,
                "active": active,
                "name": FILTER_NAMES[filter_id],
                "description": FILTER_NAMES[filter_id],
            }
        )
    return states


def _save(row: InboundFilters, changed: list[str], actor: Actor | None) -> None:
    created = row._state.adding
    row.full_clean()
    row.save()
    if created:
        record_addition(actor=actor, obj=row, message=f"Added ({', '.join(changed)}).")
    else:
        record_change(actor=actor, obj=row, fields=changed)


@transaction.atomic
def inbound_filter_set(
    *,
    project: Project,
    filter_id: str,
    active: bool | None = None,
    subfilters: Sequence[str] | None = None,
    actor: Actor | None = None,
) -> None:
    """Sentry's semantics: a boolean filter is on when `active` is true (off otherwise); for
    legacy-browsers, `active` wins over `subfilters`, a non-empty `subfilters` list switches
    the filter on for those browsers, and anything else switches it off."""
    field = BOOLEAN_FILTERS[filter_id]
    row = inbound_filters_get(project=project)
    chosen: list[str] | None = None
    if filter_id == "legacy-browsers" and active is None and subfilters:
        state, chosen = True, sorted(set(subfilters), key=LEGACY_SUBFILTERS.index)
    else:
        state = bool(active)
    changed = []
    if getattr(row, field) != state or row._state.adding:
        setattr(row, field, state)
        changed.append(filter_id)
    subfilters_changed = project.settings.get(LEGACY_SUBFILTERS_SETTING) != chosen
    if filter_id == "legacy-browsers" and subfilters_changed:
        services.project_update(project=project, settings={LEGACY_SUBFILTERS_SETTING: chosen})
        changed.append("legacy-browsers subfilters")
    if changed:
        _save(row, changed, actor)


class FilterOptions:
    """The project options `filters:*` lists (organizations.project_options provider)."""

    keys = tuple(LIST_OPTIONS)

    def read(self, project: Project) -> dict[str, Any]:
        row = inbound_filters_get(project=project)
        return {key: _lines(getattr(row, field)) for key, (field, _) in LIST_OPTIONS.items()}

    def clean(self, values: Mapping[str, Any]) -> dict[str, Any]:
        cleaned: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for key, value in values.items():
            if value is None:
                value = ""
            if isinstance(value, list) and all(isinstance(entry, str) for entry in value):
                value = "\n".join(value)
            if not isinstance(value, str):
                errors[key] = ["Expected a string of newline-separated entries."]
                continue
            text = _lines(value)
            try:
                LIST_OPTIONS[key][1](text)
            except ValidationError as exc:
                errors[key] = exc.messages
                continue
            cleaned[key] = text
        if errors:
            raise ValidationError(errors)
        return cleaned

    @transaction.atomic
    def write(self, *, project: Project, values: Mapping[str, Any], actor: Actor | None) -> None:
        row = inbound_filters_get(project=project)
        changed = []
        for key, text in values.items():
            field = LIST_OPTIONS[key][0]
            if _lines(getattr(row, field)) != text:
                setattr(row, field, text)
                changed.append(key)
        if changed:
            _save(row, changed, actor)
