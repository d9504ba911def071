"""gunicorn configuration of the production server (the Docker image, docker-compose.yml):

    gunicorn -c statsapi/gunicorn_conf.py statsapi.wsgi:application --bind ... --workers ...

- Request limits a Sentry SDK never reaches, and gunicorn's own error answers (414, 431, 400,
  501) as JSON ``{"detail": ...}`` (``statsapi/gunicorn_http.py``).
- The Redis configuration report (an evicting ``maxmemory-policy``, persistence that loses
  counts) is logged once per server start, by the first worker once it has loaded the
  application, rather than once per worker (``statsapi/redischeck.py``).
- No control socket (gunicorn would otherwise share ~/.gunicorn/gunicorn.ctl between every
  server of the same user).

Binding, workers and threads stay on the command line (the Dockerfile's CMD).
"""

from __future__ import annotations

import os
from typing import Any

from statsapi.gunicorn_http import LIMITS, install_json_errors
from statsapi.redischeck import REPORTED_ENV

limit_request_line = LIMITS["limit_request_line"]
limit_request_fields = LIMITS["limit_request_fields"]
limit_request_field_size = LIMITS["limit_request_field_size"]
control_socket_disable = True

install_json_errors()
# Read by statsapi.wsgi in the workers (forked from this process): the report is ours to log.
os.environ[REPORTED_ENV] = "1"


def post_worker_init(worker: Any) -> None:
    """Log the Redis report from the first worker this server starts (age 1) only."""
    if worker.age == 1:
        from statsapi.redischeck import log_startup_report

        log_startup_report()
