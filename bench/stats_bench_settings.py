"""Bench-only Django settings (``DJANGO_SETTINGS_MODULE=stats_bench_settings`` with ``bench/`` on
the path): the app's settings with the bench URLconf (a bare DRF baseline view beside the API)
and no API throttling, so that wrk measures the request path, not a rate limit."""

from statsapi.settings import *  # noqa: F403

ROOT_URLCONF = "stats_bench_urls"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_CLASSES": [],
}
