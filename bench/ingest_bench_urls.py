"""Bench-only URLconf: the real app plus a trivial baseline view that reads the body and
answers 200, so both run in the same gunicorn workers. Never used by the app itself."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def baseline(request: HttpRequest) -> HttpResponse:
    request.body  # noqa: B018  (read it, as ingest does)
    return HttpResponse(b'{"id":"baseline"}', content_type="application/json")


urlpatterns = [
    path("bench/baseline/", baseline),
    path("", include("statsapi.urls")),
]
