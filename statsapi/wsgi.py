"""WSGI entry point (gunicorn statsapi.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statsapi.settings")

application = get_wsgi_application()

from statsapi.checks import fail_on_unsafe_settings  # noqa: E402
from statsapi.redischeck import report_at_startup_unless_gunicorn_does  # noqa: E402

fail_on_unsafe_settings()
# Logs once what the configured Redis risks (an evicting policy, no persistence).
report_at_startup_unless_gunicorn_does()
