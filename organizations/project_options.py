"""Project options that other apps own (``options`` of the project API).

Sentry's project API reads and writes some settings as ``options`` entries (for instance
``filters:blacklisted_ips``). Where such a setting belongs to another app (the inbound filters
belong to ``ingest``), that app registers a provider here at startup (its AppConfig.ready), so
that this app serves them without importing it: the import arrows keep pointing from ingest
to organizations, never back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from organizations.audit import Actor
from organizations.models import Project


class ProjectOptionsProvider(Protocol):
    """Reads, validates and writes some ``options`` keys of a project."""

    keys: tuple[str, ...]

    def read(self, project: Project) -> dict[str, Any]:
        """The current value of each of ``keys``."""
        ...

    def clean(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` (a subset of ``keys``) as stored; raises
        django.core.exceptions.ValidationError with a message per bad key."""
        ...

    def write(self, *, project: Project, values: Mapping[str, Any], actor: Actor | None) -> None:
        """Store cleaned ``values`` (inside the caller's transaction) and record the change."""
        ...


_providers: list[ProjectOptionsProvider] = []


def register(provider: ProjectOptionsProvider) -> None:
    """Add a provider (once per process; a second registration of the same keys is ignored)."""
    if any(existing.keys == provider.keys for existing in _providers):
        return
    _providers.append(provider)


def providers() -> list[ProjectOptionsProvider]:
    return list(_providers)


def read(project: Project) -> dict[str, Any]:
    """Every registered option of `project`."""
    values: dict[str, Any] = {}
    for provider in _providers:
        values.update(provider.read(project))
    return values


def known_keys() -> frozenset[str]:
    return frozenset(key for provider in _providers for key in provider.keys)
