"""Fixtures of the usage tests: the organizations tests' fixtures (organization `acme`, its
teams, projects, users of every role, tokens and the permission ladder: see
tests/organizations/conftest.py), reused as they are, and cold ingest caches per test."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
for helpers in (TESTS / "organizations", TESTS / "ingest"):
    if str(helpers) not in sys.path:
        sys.path.insert(0, str(helpers))

_spec = importlib.util.spec_from_file_location(
    "organizations_test_fixtures", TESTS / "organizations" / "conftest.py"
)
assert _spec is not None
assert _spec.loader is not None
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)
globals().update(
    {name: value for name, value in vars(_fixtures).items() if not name.startswith("_")}
)

from ingest import projectconfig  # noqa: E402
from usage import registry  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_ingest_caches() -> Iterator[None]:
    """Each test starts with cold per-process caches (DSN keys, registry additions)."""
    projectconfig.clear_cache()
    registry.forget_registrations()
    yield
    projectconfig.clear_cache()
    registry.forget_registrations()
