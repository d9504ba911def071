"""Ingest fixtures: cold caches for every test and a DSN key in a fresh organization."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ingest_helpers import make_key

from ingest import outcomes, projectconfig
from organizations.models import ProjectKey


@pytest.fixture(autouse=True)
def fresh_ingest_caches() -> Iterator[None]:
    """Each test starts with cold per-process caches (keys, outcome-set registrations)."""
    projectconfig.clear_cache()
    outcomes.forget_registrations()
    yield
    projectconfig.clear_cache()
    outcomes.forget_registrations()


@pytest.fixture
def key(db: None) -> ProjectKey:
    return make_key()
