"""Fuzzing the API with schemathesis, with a valid token, bounded in examples per operation:

- against our own schema (/api/0/schema/): no 5xx, and every answer (status, content type,
  headers, body) as the schema says;
- against Sentry's stats OpenAPI (a copy of shared/sentry-compat/openapi/
  stats-openapi.adapted.json in tests/data/, used as its README says): no 5xx, and every
  answer as Sentry's schema says, so clients generated from Sentry's file can read ours.

The requests go to the WSGI application in this process, on this test's database and Redis
prefix; path parameters are the test organization's, so the queries reach the real work.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.urls import Resolver404, resolve
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from organizations import services
from organizations.models import ProjectKey
from organizations.scopes import DEFAULT_TOKEN_SCOPES

ROOT = Path(__file__).resolve().parents[1]
# A copy of shared/sentry-compat/openapi/stats-openapi.adapted.json.
SENTRY_SCHEMA = ROOT / "tests/data/sentry-stats-openapi.adapted.json"
# Examples per operation: with ~20 operations, a few hundred requests a run (about a minute).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
FUZZ_SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)

wsgi_application = get_wsgi_application()


REQUESTS: Counter[str] = Counter()


def application(environ: dict[str, Any], start_response: Any) -> Any:
    """The WSGI application, minus the per-request closing of old database connections (as
    Django's test client does): this test's transaction must stay open across requests."""
    REQUESTS[environ["REQUEST_METHOD"]] += 1
    request_started.disconnect(close_old_connections)
    try:
        return wsgi_application(environ, start_response)
    finally:
        request_started.connect(close_old_connections)


@pytest.fixture(scope="module", autouse=True)
def request_count() -> Iterator[None]:
    """How many requests the fuzzing sent, by method (shown with ``pytest -s``)."""
    yield
    print(f"\nfuzz requests sent: {sum(REQUESTS.values())} {dict(REQUESTS)}")


@dataclass
class World:
    token: str
    path_parameters: dict[str, str]


@pytest.fixture
def world(db: None, settings: Any) -> World:
    settings.API_RATE_LIMIT_TOKEN = None  # a fuzz run is many requests on one token
    settings.API_RATE_LIMIT_ADDRESS = None
    user, _ = services.user_get_or_create(username="fuzzer")
    organization = services.organization_create(slug="fuzz-org", owner=user)
    team = services.team_create(organization=organization, slug="fuzz-team")
    project = services.project_create(organization=organization, slug="fuzz-project", teams=[team])
    key = ProjectKey.objects.get(project=project)
    _, token = services.api_token_create(user=user, scopes=list(DEFAULT_TOKEN_SCOPES))
    return World(
        token=token,
        path_parameters={
            "organization_id_or_slug": organization.slug,
            "project_id_or_slug": project.slug,
            "team_id_or_slug": team.slug,
            "key_id": key.public_key,
        },
    )


# Against our schema, every check but one: "a request the schema allows must be accepted"
# cannot hold for the stats endpoints, whose windows are refused beyond 10,000 points per series
# (a rule across since, until and resolution that no OpenAPI schema can state). Such a refusal
# is still checked: a 400 the schema documents, with a body that matches it.
OUR_EXCLUDED_CHECKS = [schemathesis.checks.positive_data_acceptance]
# Against Sentry's file, the checks of what we answer (no 5xx; status, content type, headers
# and body as the file says; no answer without credentials), not of what we accept: the file
# forbids query parameters it does not list and marks Authorization a required header, while
# Sentry's server, like ours, ignores unknown parameters and answers 401 to no token.
SENTRY_EXCLUDED_CHECKS = [
    schemathesis.checks.positive_data_acceptance,
    schemathesis.checks.negative_data_rejection,
]


def call(case: Any, world: World, excluded_checks: list[Any]) -> None:
    for name in case.path_parameters or {}:
        if name in world.path_parameters:
            case.path_parameters[name] = world.path_parameters[name]
    case.call_and_validate(
        headers={"Authorization": f"Bearer {world.token}"}, excluded_checks=excluded_checks
    )


def our_openapi() -> dict[str, Any]:
    """The schema /api/0/schema/ serves (tests/test_schema.py checks that it does), made at
    collection time without a request."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    loaded: dict[str, Any] = json.loads(OpenApiJsonRenderer().render(generated))
    return loaded


def served(operation: Any) -> bool:
    """Whether this server has a route for the operation's path."""
    try:
        resolve(re.sub(r"{\w+}", "x", operation.path))
    except Resolver404:
        return False
    return True


ours = schemathesis.openapi.from_dict(our_openapi())
# The operations of Sentry's file this server has routes for (test_sentry_operations_served
# says which those are).
sentry_file = schemathesis.openapi.from_dict(json.loads(SENTRY_SCHEMA.read_text()))
SENTRY_OPERATIONS = [result.ok() for result in sentry_file.get_all_operations()]
sentrys = sentry_file.include(func=lambda ctx: served(ctx.operation))
for loaded in (ours, sentrys):
    loaded.app = application  # every request, the checks' probes too, goes to the app


@ours.parametrize()
@FUZZ_SETTINGS
def test_our_schema(case: Any, world: World) -> None:
    call(case, world, OUR_EXCLUDED_CHECKS)


@sentrys.parametrize()
@FUZZ_SETTINGS
def test_sentrys_stats_schema(case: Any, world: World, settings: Any) -> None:
    """Sentry's file types `[timestamp, count]` as integers: what a client generated from it
    gets with STATS_INTEGER_TIMESTAMPS=True (the default floats are what Sentry's server
    sends, and what its hand-written clients read)."""
    settings.STATS_INTEGER_TIMESTAMPS = True
    if case.query:
        # Sentry's file lists stats-summary's `download` but documents only the JSON answer;
        # Sentry's server, like ours, answers it with CSV (our schema documents that).
        case.query.pop("download", None)
    call(case, world, SENTRY_EXCLUDED_CHECKS)


def test_sentry_operations_served() -> None:
    """The operations of Sentry's stats file the fuzzing above reaches."""
    paths = {operation.path for operation in SENTRY_OPERATIONS if served(operation)}

    assert paths == {
        "/api/0/organizations/{organization_id_or_slug}/stats/",
        "/api/0/organizations/{organization_id_or_slug}/stats_v2/",
        "/api/0/organizations/{organization_id_or_slug}/stats-summary/",
        "/api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/stats/",
        "/api/0/teams/{organization_id_or_slug}/{team_id_or_slug}/stats/",
    }
