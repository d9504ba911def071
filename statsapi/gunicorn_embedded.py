"""gunicorn configuration of the embedded server (`make run`).

    gunicorn -c statsapi/gunicorn_embedded.py statsapi.wsgi:application

The in-memory TSDB lives in one process, so this runs exactly one worker (threads give the
concurrency), never reloads, and seeds the demo data inside that worker once it has loaded
the application, so the counts live where the requests are answered. With REDIS_URL set the
counts go to Redis instead and the same command works.

Environment: STATSAPI_BIND (default 127.0.0.1:8000), STATSAPI_THREADS (default 8),
STATSAPI_DEMO (default True; False starts the server without demo data). Unless PUBLIC_URL is
set, it follows STATSAPI_BIND, so the printed DSN and curl line reach this server.
"""

from __future__ import annotations

import os
import sys
from io import StringIO
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from statsapi.env import env_bool
from statsapi.gunicorn_hooks import child_exit, on_exit, prepare_metrics_dir
from statsapi.gunicorn_http import LIMITS, install_json_errors

__all__ = ["child_exit", "on_exit", "post_worker_init"]


def _public_url_for(address: str) -> str | None:
    """http://host:port of a TCP bind address (0.0.0.0 and [::] reached as 127.0.0.1)."""
    host, _, port = address.rpartition(":")
    if address.startswith(("unix:", "fd://")) or not host or not port.isdigit():
        return None
    if host in {"0.0.0.0", "[::]"}:
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def _threads() -> int:
    raw = os.environ.get("STATSAPI_THREADS", "8")
    if not raw.isdigit() or int(raw) < 1:
        sys.exit(f"STATSAPI_THREADS must be a positive integer, not {raw!r}")
    return int(raw)


def _demo_enabled() -> bool:
    try:
        return env_bool("STATSAPI_DEMO", True)
    except ImproperlyConfigured as exc:
        sys.exit(str(exc))


bind = [os.environ.get("STATSAPI_BIND", "127.0.0.1:8000")]
# Read by the settings in the worker, which inherits this environment.
if "PUBLIC_URL" not in os.environ and (public_url := _public_url_for(bind[0])):
    os.environ["PUBLIC_URL"] = public_url
workers = 1
worker_class = "gthread"
threads = _threads()
demo = _demo_enabled()
reload = False
preload_app = False
timeout = 60
# statsapi logs one line per request itself (statsapi/logs.py): no second access line.
errorlog = "-"
logger_class = "statsapi.gunicorn_hooks.ScrubbingLogger"
prepare_metrics_dir()
# No control socket: by default gunicorn puts one at ~/.gunicorn/gunicorn.ctl, which every other
# gunicorn of the same user (a second checkout, the test suite) would take over or remove.
control_socket_disable = True
# Request limits a Sentry SDK never reaches; gunicorn's own errors (414, 431, 400) as JSON.
limit_request_line = LIMITS["limit_request_line"]
limit_request_fields = LIMITS["limit_request_fields"]
limit_request_field_size = LIMITS["limit_request_field_size"]
install_json_errors()


def post_worker_init(worker: Any) -> None:
    """Seed the demo inside the serving worker and print how to try it."""
    if not demo:
        return
    from django.core.management import CommandError, call_command

    out = StringIO()
    # The server answers either way (admin, endpoints without the TSDB); say why there is no demo.
    try:
        call_command("demo", stdout=out)
    except CommandError as exc:
        # The command's own message (e.g. Redis unreachable) says it all: no traceback.
        worker.log.error("The demo data could not be created: %s", exc)
        return
    except Exception:
        worker.log.exception("The demo data could not be created (did `manage.py migrate` run?)")
        return
    rule = "=" * 78
    banner = "\n".join(
        [
            "",
            rule,
            "statsapi is running with demo data. Try it:",
            "",
            *out.getvalue().splitlines(),
            rule,
            "",
        ]
    )
    sys.stdout.write(banner + "\n")
    sys.stdout.flush()
