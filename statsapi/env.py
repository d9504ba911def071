"""Typed readers of environment variables that fail loudly, naming the variable.

Used by statsapi/settings.py and by the embedded server's gunicorn configuration.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be True or False, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_rate(name: str, default: tuple[int, int] | None) -> tuple[int, int] | None:
    """A rate limit ``REQUESTS/SECONDS`` (``1200/60``) as ``(1200, 60)``; ``off`` or ``0`` as
    None (no limit)."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in {"off", "0"}:
        return None
    count, _, seconds = value.partition("/")
    if count.isdigit() and seconds.isdigit() and int(count) > 0 and 0 < int(seconds) <= 86400:
        return int(count), int(seconds)
    raise ImproperlyConfigured(
        f"{name} must be REQUESTS/SECONDS such as 1200/60 (seconds from 1 to 86400) or off, "
        f"not {raw!r}"
    )
