"""Bench-only Django settings (``DJANGO_SETTINGS_MODULE=ingest_bench_settings`` with ``bench/``
on the path): the app's settings with the bench URLconf, which adds a baseline view."""

from statsapi.settings import *  # noqa: F403

ROOT_URLCONF = "ingest_bench_urls"
