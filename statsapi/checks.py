"""Startup checks: settings that are fine on a laptop but unsafe in production.

They run as deploy checks (`manage.py check --deploy`) and when the
WSGI/ASGI application is built, so gunicorn refuses to start with them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

INMEMORY_BACKEND = "tsdb.inmemory.InMemoryTSDB"


def unsafe_settings_messages() -> list[str]:
    if settings.DEBUG:
        return []
    problems = []
    if not settings.SECRET_KEY_FROM_ENV:
        problems.append(
            "SECRET_KEY is not set. With DEBUG=False set SECRET_KEY to a long random string "
            "(or DEBUG=True for local development)."
        )
    if settings.TSDB_BACKEND == INMEMORY_BACKEND and not settings.STATSAPI_EMBEDDED:
        problems.append(
            "The in-memory TSDB keeps counts in one process and loses them on restart. "
            "Set REDIS_URL for production, or STATSAPI_EMBEDDED=True to run the embedded "
            "single-process server on purpose."
        )
    return problems


@checks.register(checks.Tags.security, deploy=True)
def check_production_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [
        checks.Error(message, id=f"statsapi.E00{number}")
        for number, message in enumerate(unsafe_settings_messages(), start=1)
    ]


def fail_on_unsafe_settings() -> None:
    problems = unsafe_settings_messages()
    if problems:
        raise ImproperlyConfigured(" ".join(problems))
