"""Bench-only URLconf: the real app plus the baseline of ``stats_bench.py``, a bare DRF view
answering 24 ``[timestamp, count]`` pairs (no authentication, no database, no Redis), so both
run in the same gunicorn workers. Never used by the app itself."""

from __future__ import annotations

import time

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class Baseline(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        last = int(time.time()) // 3600 * 3600
        return Response([[float(last - 3600 * (23 - i)), 0] for i in range(24)])


urlpatterns = [
    path("bench/baseline/", Baseline.as_view()),
    path("", include("statsapi.urls")),
]
