"""Every change that matters to authentication or access clears this process's access cache
(``organizations.cache``) at once and again when its transaction commits; other processes
see it within ``ACCESS_CACHE_TTL``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from organizations import cache
from organizations.models import (
    ApiToken,
    Organization,
    OrganizationMember,
    OrgAuthToken,
    Project,
    ProjectKey,
    Team,
)


def _forget(**kwargs: Any) -> None:
    cache.clear()
    # Another thread of this process may read the old rows again until the change commits.
    transaction.on_commit(cache.clear, using=kwargs.get("using"))


def connect() -> None:
    """Connect the receivers (once; ``OrganizationsConfig.ready``)."""
    models = (
        ApiToken,
        OrgAuthToken,
        get_user_model(),
        Organization,
        OrganizationMember,
        Team,
        Project,
        ProjectKey,
    )
    for model in models:
        name = f"{model._meta.app_label}.{model.__name__}"
        post_save.connect(_forget, sender=model, dispatch_uid=f"access-cache.save.{name}")
        post_delete.connect(_forget, sender=model, dispatch_uid=f"access-cache.delete.{name}")
    for through in (Project.teams.through, OrganizationMember.teams.through):
        name = through.__name__
        m2m_changed.connect(_forget, sender=through, dispatch_uid=f"access-cache.m2m.{name}")
