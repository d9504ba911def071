"""Error pages: JSON `{"detail": ...}` under /api/ (clients parse it), Django's pages elsewhere.

Django calls the handlers only with DEBUG=False; errors raised inside DRF views never reach them
(the API's exception handler answers those).

``DatabaseUnavailableMiddleware`` answers every view, DRF or not, whose database connection
failed (refused, timed out, dropped) with a 503 and ``Retry-After``: the client's request was
fine and may be sent again shortly.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from statsapi import metrics

DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly."


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return JsonResponse({"detail": "Bad request"}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return JsonResponse(
            {"detail": "You do not have permission to perform this action."}, status=403
        )
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return JsonResponse({"detail": "The requested resource does not exist"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return JsonResponse({"detail": "Internal server error"}, status=500)
    return defaults.server_error(request)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with ``Retry-After``: JSON under /api/, plain text elsewhere (the admin)."""
    if is_api(request):
        response: HttpResponse = JsonResponse({"detail": DATABASE_UNAVAILABLE}, status=503)
    else:
        response = HttpResponse(
            f"503 Service Unavailable: {DATABASE_UNAVAILABLE}\n",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    response["Retry-After"] = str(settings.DATABASE_RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """Turns a view's ``OperationalError`` or ``InterfaceError`` (the database refused, did not
    answer in time, or dropped the connection) into ``database_unavailable``, noted in the
    request's log line (without a traceback) and counted in the metrics. Other database errors
    (a missing table, a bad query) are bugs and stay 500s."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        # Said once, in the request's log line (no traceback), and counted in the metrics.
        metrics.record_outage(request, "database", exception)
        return database_unavailable(request)
