"""The time-series store. Use the configured backend: ``from tsdb import backend``.

Settings (all optional):

- ``TSDB_BACKEND``: dotted path of a BaseTSDB subclass (default ``tsdb.inmemory.InMemoryTSDB``;
  also ``tsdb.redis.RedisTSDB``, ``tsdb.dummy.DummyTSDB``).
- ``TSDB_OPTIONS``: keyword arguments for it, e.g. ``{"url": "redis://...", "prefix": "ts:"}``.
- ``TSDB_ROLLUPS``: ordered ``(seconds, samples)`` pairs (default 10 s x 360, 1 min x 720,
  1 h x 2160).

The instance is built on first use and rebuilt when a test changes one of these settings.
``configure()`` builds it eagerly so that a bad configuration fails at startup with
ImproperlyConfigured.
"""

from __future__ import annotations

import threading
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .base import (
    DEFAULT_ROLLUPS,
    MAX_POINTS,
    MAX_STORED_BUCKETS,
    BaseTSDB,
    TSDBLimitExceeded,
    TSDBModel,
    TSDBUnavailable,
    parse_rollups,
)

__all__ = [
    "MAX_POINTS",
    "MAX_STORED_BUCKETS",
    "BaseTSDB",
    "TSDBLimitExceeded",
    "TSDBModel",
    "TSDBUnavailable",
    "backend",
    "configure",
    "get_backend",
]

DEFAULT_BACKEND = "tsdb.inmemory.InMemoryTSDB"
_SETTING_NAMES = frozenset({"TSDB_BACKEND", "TSDB_OPTIONS", "TSDB_ROLLUPS"})

_lock = threading.Lock()
_instance: BaseTSDB | None = None


def build_backend() -> BaseTSDB:
    """A new backend from the current settings; ImproperlyConfigured if they are wrong.
    Does not connect to anything."""
    path = getattr(settings, "TSDB_BACKEND", DEFAULT_BACKEND)
    options = getattr(settings, "TSDB_OPTIONS", None) or {}
    raw_rollups = getattr(settings, "TSDB_ROLLUPS", DEFAULT_ROLLUPS)
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"TSDB_BACKEND {path!r} cannot be imported: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseTSDB)):
        raise ImproperlyConfigured(f"TSDB_BACKEND {path!r} is not a tsdb.base.BaseTSDB subclass")
    if not isinstance(options, dict):
        raise ImproperlyConfigured(f"TSDB_OPTIONS must be a dict, not {options!r}")
    if "rollups" in options:
        raise ImproperlyConfigured("Set the rollups in TSDB_ROLLUPS, not in TSDB_OPTIONS")
    try:
        rollups = parse_rollups(raw_rollups)
    except ValueError as exc:
        raise ImproperlyConfigured(f"TSDB_ROLLUPS is malformed: {exc}") from exc
    try:
        instance: BaseTSDB = cls(rollups=rollups, **options)
        return instance
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"TSDB_OPTIONS do not fit {path}: {exc}") from exc


def get_backend() -> BaseTSDB:
    """The configured backend instance, built on first call."""
    global _instance
    instance = _instance
    if instance is None:
        with _lock:
            if _instance is None:
                _instance = build_backend()
            instance = _instance
    return instance


def configure() -> BaseTSDB:
    """Build the backend now (call at startup): a bad configuration raises here."""
    return get_backend()


def reset() -> None:
    """Drop the built backend (closing its connections); the next use builds a new one."""
    global _instance
    with _lock:
        old, _instance = _instance, None
    if old is not None:
        old.close()


def _rebuild_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in _SETTING_NAMES:
        reset()


setting_changed.connect(_rebuild_on_setting_change, dispatch_uid="tsdb.setting_changed")


class _BackendProxy:
    """Forwards attribute access to ``get_backend()``, so ``tsdb.backend`` can be imported
    before settings are ready and follows settings changes in tests."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        return getattr(get_backend(), name)

    def __repr__(self) -> str:
        return f"<tsdb.backend proxy for {get_backend()!r}>"


backend: BaseTSDB = cast(BaseTSDB, _BackendProxy())
