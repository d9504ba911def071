"""The OpenAPI schema at /api/0/schema/ and the docs page at /api/0/docs/: every /api/0/
endpoint and method is in it, with every error status it can answer, examples, and the
timestamp type the server is configured for; the docs page loads its files from this server."""

from __future__ import annotations

import re
from typing import Any

import pytest
from api_routes import api_routes, filled, openapi_path
from django.test import Client
from django.urls import resolve

pytestmark = pytest.mark.django_db

NOT_ENDPOINTS = {"/api/0/schema/", "/api/0/docs/"}
METHODS = ("get", "post", "put", "patch", "delete")


def fetch_schema(client: Client) -> dict[str, Any]:
    response = client.get("/api/0/schema/", {"format": "json"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    schema: dict[str, Any] = response.json()
    return schema


@pytest.fixture
def schema(client: Client) -> dict[str, Any]:
    return fetch_schema(client)


def view_methods(route: str) -> set[str]:
    """The methods the view of ``route`` answers (besides HEAD and OPTIONS)."""
    match = resolve(filled(route))
    view_class = match.func.view_class  # type: ignore[attr-defined]
    return {method for method in METHODS if hasattr(view_class, method)}


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_the_schema_needs_no_credentials_and_is_openapi_3(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "statsapi"
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearerAuth"]["description"],
    }


def test_every_api_endpoint_and_method_is_in_the_schema(schema: dict[str, Any]) -> None:
    routes = [route for route in api_routes() if route not in NOT_ENDPOINTS]
    assert len(routes) >= 9

    documented = {(path, method) for path, method, _ in operations(schema)}
    expected = {(openapi_path(route), method) for route in routes for method in view_methods(route)}

    assert expected - documented == set(), "endpoints missing from the schema"
    assert documented - expected == set(), "schema operations with no endpoint"


def test_every_operation_documents_every_error_it_can_answer(schema: dict[str, Any]) -> None:
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        anonymous_allowed = {} in operation.get("security", [{}])
        expected = {"400", "429", "503"}
        if not anonymous_allowed:
            expected |= {"401", "403"}
        if "{" in path:
            expected.add("404")
        where = f"{method.upper()} {path}"
        assert expected <= set(responses), (where, sorted(responses))
        for status in expected:
            body = responses[status]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}, where
        for status in ("429", "503"):
            assert "Retry-After" in responses[status]["headers"], where
        if "401" in responses:
            assert "WWW-Authenticate" in responses["401"]["headers"], where
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"]
    assert error["properties"]["detail"]["type"] == "string"


def test_every_operation_has_a_summary_and_a_success_example(schema: dict[str, Any]) -> None:
    for path, method, operation in operations(schema):
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        success = [status for status in operation["responses"] if status.startswith("2")]
        assert success, where
        content = operation["responses"][success[0]].get("content")
        if content is None:  # 204: no body to show
            continue
        assert content["application/json"].get("examples"), where


def test_operation_ids_are_unique(schema: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(schema)]

    assert len(ids) == len(set(ids))


def test_the_docs_page_loads_swagger_ui_from_this_server(client: Client) -> None:
    response = client.get("/api/0/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets), assets
    for asset in assets:
        assert asset.startswith("/static/"), f"{asset} is not served by this server"
        assert client.get(asset).status_code == 200, asset
    assert "/api/0/schema/" in page
