"""Saves in this process make the config cache forget at once; other processes wait out the
TTL (``ingest.projectconfig``)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from ingest.models import InboundFilters
from ingest.projectconfig import clear_cache
from organizations.models import Organization, Project, ProjectKey


def _forget(**kwargs: Any) -> None:
    clear_cache()


for _model in (ProjectKey, Project, Organization, InboundFilters):
    post_save.connect(_forget, sender=_model, dispatch_uid=f"ingest.forget.{_model.__name__}")
    post_delete.connect(_forget, sender=_model, dispatch_uid=f"ingest.delete.{_model.__name__}")
