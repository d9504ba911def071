"""Errors outside the API views: JSON under /api/, one log line for a bad Host header."""

from __future__ import annotations

import logging
import sys

import pytest
from django.test import Client

from statsapi.logs import BriefFormatter

pytestmark = pytest.mark.django_db


def test_it_answers_an_unknown_api_route_with_a_json_404(client: Client) -> None:
    response = client.get("/api/0/no-such-endpoint/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "The requested resource does not exist"}


def test_it_keeps_html_404_pages_outside_the_api(client: Client) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_it_answers_a_disallowed_host_with_a_json_400(client: Client) -> None:
    response = client.get("/api/0/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request"}


def test_it_logs_a_disallowed_host_in_one_line_without_a_traceback() -> None:
    try:
        raise ValueError("Invalid HTTP_HOST header: 'evil.example'.")
    except ValueError:
        record = logging.getLogger("django.security.DisallowedHost").makeRecord(
            "django.security.DisallowedHost",
            logging.ERROR,
            __file__,
            1,
            "Invalid HTTP_HOST header: %r.",
            ("evil.example",),
            exc_info=sys.exc_info(),
        )

    line = BriefFormatter().format(record)

    assert "Invalid HTTP_HOST header: 'evil.example'." in line
    assert "Traceback" not in line
    assert "\n" not in line
    assert record.exc_info is not None  # other handlers still see the exception
