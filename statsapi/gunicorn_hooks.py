"""What every gunicorn running statsapi shares: the scrubbing access logger and the hooks of
Prometheus' multiprocess mode. Used by ``gunicorn.conf.py`` (read by gunicorn from the
checkout's root: compose, production, the tests) and ``statsapi/gunicorn_embedded.py``.

- ``ScrubbingLogger`` (``logger_class``): gunicorn's logger, whose access log (when enabled,
  e.g. ``--access-logfile -``) never shows the values of ``statsapi.logs.SECRET_QUERY_PARAMS``
  in the request line, query string or referer, nor credential headers in any format atom.
  With ``LOG_FORMAT=json`` each access line is a JSON object.
- ``prepare_metrics_dir`` (called when the configuration is read, before any worker starts):
  ``PROMETHEUS_MULTIPROC_DIR`` for the workers. Unset: a fresh temporary directory, removed
  when gunicorn exits (``on_exit``). Set: created if missing, and emptied of the files of an
  earlier run (their counts would otherwise be added in).
- ``child_exit``: a dead worker's live gauges are dropped (prometheus-client's bookkeeping).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from statsapi.logs import FILTERED, SECRET_HEADERS, scrub_query, scrub_url

METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Set by the gunicorn master that prepared the directory: its pid, and whether it created it.
_OWNER_ENV = "STATSAPI_METRICS_DIR_OWNER"

# Environ keys (the ``{name}e`` atoms) that hold credentials.
_SECRET_ENVIRON = frozenset("HTTP_" + header.upper().replace("-", "_") for header in SECRET_HEADERS)


def prepare_metrics_dir() -> str:
    """The multiprocess metrics directory, set in the environment the workers inherit."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    owner = os.environ.get(_OWNER_ENV, "")
    if path and owner.split(":")[0] == str(os.getpid()):
        return path  # the configuration is read again (reload): keep the live workers' files
    created = not path
    if created:
        path = tempfile.mkdtemp(prefix="statsapi-metrics-")
    else:
        Path(path).mkdir(parents=True, exist_ok=True)
        for stale in Path(path).glob("*.db"):
            stale.unlink()
    os.environ[METRICS_DIR_ENV] = path
    os.environ[_OWNER_ENV] = f"{os.getpid()}:{'created' if created else 'given'}"
    return path


def on_exit(server: Any) -> None:
    """Remove the metrics directory this master created (not one given in the environment)."""
    owner = os.environ.get(_OWNER_ENV, "")
    if owner == f"{os.getpid()}:created":
        shutil.rmtree(os.environ.get(METRICS_DIR_ENV, ""), ignore_errors=True)


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


class ScrubbingLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger with the secrets taken out of the access log's atoms."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        request_line = atoms.get("r")
        if isinstance(request_line, str):  # "GET /path?query HTTP/1.1"
            method, _, rest = request_line.partition(" ")
            target, _, protocol = rest.rpartition(" ")
            atoms["r"] = f"{method} {scrub_url(target)} {protocol}"
        for name in ("f", "{referer}i", "{raw_uri}e", "{http_referer}e"):
            if isinstance(atoms.get(name), str):
                atoms[name] = scrub_url(atoms[name])
        for name in ("q", "{query_string}e"):
            if isinstance(atoms.get(name), str):
                atoms[name] = scrub_query(atoms[name])
        for header in SECRET_HEADERS:
            if f"{{{header}}}i" in atoms:
                atoms[f"{{{header}}}i"] = FILTERED
        for key in _SECRET_ENVIRON:
            if f"{{{key.lower()}}}e" in atoms:
                atoms[f"{{{key.lower()}}}e"] = FILTERED
        return atoms

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if os.environ.get("LOG_FORMAT", "").strip().lower() != "json":
            super().access(resp, req, environ, request_time)
            return
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        line = {
            "logger": "gunicorn.access",
            "remote_addr": atoms["h"],
            "method": atoms["m"],
            "path": atoms["U"] + (f"?{atoms['q']}" if atoms["q"] else ""),
            "status": int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"],
            "bytes": atoms["B"],
            "duration_ms": round(atoms["D"] / 1000, 2),
            "referer": atoms["f"],
            "user_agent": atoms["a"],
        }
        self.access_log.info(json.dumps(line))
