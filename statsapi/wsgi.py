"""WSGI entry point (gunicorn statsapi.wsgi)."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statsapi.settings")

application = get_wsgi_application()

from statsapi.checks import fail_on_unsafe_settings  # noqa: E402
from statsapi.redischeck import report_at_startup_unless_gunicorn_does  # noqa: E402

fail_on_unsafe_settings()
# Logs once what the configured Redis risks (an evicting policy, no persistence).
report_at_startup_unless_gunicorn_does()

# The URLconf imports every view now, rather than on the first request; then everything
# loaded so far (modules, settings, URL patterns: it lives as long as the process) is moved
# out of the cyclic garbage collector's reach. A full collection during a request then walks
# only what requests allocated, not the whole of Django: a request building thousands of
# objects (a long series, many projects) would otherwise trigger full collections costing
# milliseconds each.
get_resolver().url_patterns  # noqa: B018
gc.collect()
gc.freeze()
