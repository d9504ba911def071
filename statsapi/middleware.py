"""The request middleware of statsapi's logs and metrics (first in ``MIDDLEWARE``): times each
request, counts it in the Prometheus metrics by route and status, and writes its one log line
(``statsapi.logs.log_request``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from statsapi import logs, metrics


class RequestObservabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        duration = time.perf_counter() - started
        metrics.observe_request(
            metrics.endpoint_of(request), request.method or "", response.status_code, duration
        )
        logs.log_request(request, response, duration)
        return response
