"""gunicorn's configuration for statsapi, read by gunicorn itself from the directory it starts
in (the checkout, /app in the Docker image): ``gunicorn statsapi.wsgi:application --bind ...``.

Command-line options add to it. What it sets (statsapi/gunicorn_hooks.py says why):
- the access log, when enabled (``--access-logfile -``), never holds a token or DSN secret;
  statsapi itself logs one line per request (statsapi/logs.py), so it is off by default;
- Prometheus' multiprocess mode, so /metrics adds up every worker.
"""

from statsapi.gunicorn_hooks import child_exit, on_exit, prepare_metrics_dir

logger_class = "statsapi.gunicorn_hooks.ScrubbingLogger"
prepare_metrics_dir()

__all__ = ["child_exit", "logger_class", "on_exit"]
