"""Every route of the API under /api/0/, read from the URL configuration (so a new endpoint is
covered by the tests that use this without being listed by hand)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.urls import URLPattern, URLResolver, get_resolver

API_PREFIX = "api/0/"
PARAMETER_RE = re.compile(r"<(?:\w+:)?(\w+)>")


def _walk(patterns: list[URLPattern | URLResolver], prefix: str) -> Iterator[str]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        else:
            yield route


def api_routes() -> list[str]:
    """The route templates under /api/0/, e.g. ``/api/0/organizations/<str:...>/stats/``."""
    routes = {
        "/" + route
        for route in _walk(get_resolver().url_patterns, "")
        if route.startswith(API_PREFIX)
    }
    return sorted(routes)


def openapi_path(route: str) -> str:
    """``/api/0/organizations/<str:organization_id_or_slug>/`` as OpenAPI writes it:
    ``/api/0/organizations/{organization_id_or_slug}/``."""
    return PARAMETER_RE.sub(r"{\1}", route)


def filled(route: str, value: str = "x1") -> str:
    """The route with every path parameter set to ``value``."""
    return PARAMETER_RE.sub(value, route)
