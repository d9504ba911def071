"""gunicorn's configuration for statsapi, read by gunicorn itself from the directory it starts
in (the checkout, /app in the Docker image): ``gunicorn statsapi.wsgi:application --bind ...``.

Command-line options add to it. What it sets (statsapi/gunicorn_hooks.py and
statsapi/gunicorn_http.py say why):
- the access log, when enabled (``--access-logfile -``), never holds a token or DSN secret;
  statsapi itself logs one line per request (statsapi/logs.py), so it is off by default;
- Prometheus' multiprocess mode, so /metrics adds up every worker;
- request limits a Sentry SDK never reaches, and gunicorn's own error answers (414, 431, 400,
  501) as JSON ``{"detail": ...}`` instead of HTML;
- the Redis configuration report (an evicting ``maxmemory-policy``, persistence that loses
  counts; statsapi/redischeck.py) logged once per server start, by the first worker once it
  has loaded the application, rather than once per worker.
"""

import os
from typing import Any

from statsapi.gunicorn_hooks import child_exit, on_exit, prepare_metrics_dir
from statsapi.gunicorn_http import LIMITS, install_json_errors
from statsapi.redischeck import REPORTED_ENV

logger_class = "statsapi.gunicorn_hooks.ScrubbingLogger"
prepare_metrics_dir()

limit_request_line = LIMITS["limit_request_line"]
limit_request_fields = LIMITS["limit_request_fields"]
limit_request_field_size = LIMITS["limit_request_field_size"]
install_json_errors()
# Read by statsapi.wsgi in the workers (forked from this process): the report is ours to log.
os.environ[REPORTED_ENV] = "1"


def post_worker_init(worker: Any) -> None:
    """Log the Redis report from the first worker this server starts (age 1) only."""
    if worker.age == 1:
        from statsapi.redischeck import log_startup_report

        log_startup_report()


__all__ = [
    "child_exit",
    "limit_request_field_size",
    "limit_request_fields",
    "limit_request_line",
    "logger_class",
    "on_exit",
    "post_worker_init",
]
