"""Logging: secret scrubbing, formatters and the one line logged per request.

- ``SECRET_QUERY_PARAMS`` is the one list of query parameters whose values are never logged.
  ``scrub_query`` and ``scrub_url`` apply it; the request line below and gunicorn's access log
  (``statsapi.gunicorn_hooks.ScrubbingLogger``) both go through them.
- ``log_request`` writes one line per request on the ``statsapi.request`` logger: method, path
  (secret query values replaced by ``[Filtered]``), status, duration, the URL's organization
  and project, and the reason of a failure noted with ``note_failure`` (an outage is that one
  line, without a separate warning or traceback). Headers, bodies and cookies are never logged,
  so neither is a token, a DSN secret or a password.
- ``LOG_FORMAT=json`` (settings) renders every record as one JSON object per line through
  python-json-logger; the request line's fields become keys.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote_plus

from django.http import HttpRequest, HttpResponseBase

# Query parameters that carry credentials: API tokens (token, access_token, auth_token) and
# the DSN's key and secret of Sentry's legacy query-string authentication.
SECRET_QUERY_PARAMS = frozenset(
    {"token", "access_token", "auth_token", "sentry_key", "sentry_secret", "password", "api_key"}
)
# Request headers that carry credentials (for loggers that could print headers).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-sentry-auth", "cookie"})
FILTERED = "[Filtered]"

request_logger = logging.getLogger("statsapi.request")


def scrub_query(query: str) -> str:
    """``query`` with the value of every parameter named in ``SECRET_QUERY_PARAMS`` (compared
    after URL-decoding, case-insensitively) replaced by ``[Filtered]``; the rest unchanged."""
    if not query:
        return query
    parts = query.split("&")
    changed = False
    for index, part in enumerate(parts):
        name, sep, _ = part.partition("=")
        if name and unquote_plus(name).strip().lower() in SECRET_QUERY_PARAMS:
            parts[index] = f"{name}={FILTERED}" if sep else name
            changed = changed or bool(sep)
    return "&".join(parts) if changed else query


def scrub_url(url: str) -> str:
    """A URL or request target with its query string scrubbed (``scrub_query``)."""
    path, sep, rest = url.partition("?")
    if not sep:
        return url
    query, hash_sep, fragment = rest.partition("#")
    return f"{path}?{scrub_query(query)}{hash_sep}{fragment}"


class BriefFormatter(logging.Formatter):
    """One line per record: the message without the exception's traceback."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)
        record.exc_info = None
        record.exc_text = None
        return super().format(record)


def one_line(text: object) -> str:
    """``text`` with its line breaks and runs of whitespace folded into single spaces (database
    driver messages span several lines)."""
    return " ".join(str(text).split())


_FAILURE_ATTR = "_statsapi_failure"


def note_failure(request: Any, message: str) -> None:
    """Attach why ``request`` failed (an outage) to its request line. ``request`` may be DRF's
    Request. Outside a request (``request`` None) the message is logged on its own."""
    http_request = getattr(request, "_request", request)
    if http_request is None:
        request_logger.warning("%s", one_line(message))
        return
    setattr(http_request, _FAILURE_ATTR, one_line(message))


def failure_of(request: HttpRequest) -> str | None:
    failure: str | None = getattr(request, _FAILURE_ATTR, None)
    return failure


# URL keyword arguments naming the organization and the project (API and ingest routes).
ORGANIZATION_KWARGS = ("organization_id_or_slug",)
PROJECT_KWARGS = ("project_id_or_slug", "project_id")


def _url_kwarg(request: HttpRequest, names: tuple[str, ...]) -> str | None:
    match = request.resolver_match
    if match is None:
        return None
    for name in names:
        value = match.kwargs.get(name)
        if value is not None:
            return str(value)[:100]
    return None


def log_request(request: HttpRequest, response: HttpResponseBase, duration: float) -> None:
    """The request's one log line (INFO; WARNING for 5xx). Django's own per-response line
    (``django.request``) is skipped for it; an unhandled exception's traceback is still logged
    by Django before this line."""
    status = response.status_code
    level = logging.WARNING if status >= 500 else logging.INFO
    # Django logs 4xx/5xx responses on django.request as well: this line replaces that one.
    setattr(response, "_has_been_logged", True)  # noqa: B010  (Django's own private flag)
    if not request_logger.isEnabledFor(level):
        return
    query = request.META.get("QUERY_STRING", "")
    path = request.path
    if query:
        path = f"{path}?{scrub_query(query)}"
    organization = _url_kwarg(request, ORGANIZATION_KWARGS)
    project = _url_kwarg(request, PROJECT_KWARGS)
    failure = failure_of(request)
    duration_ms = round(duration * 1000, 2)
    fields: dict[str, Any] = {
        "method": request.method,
        "path": path,
        "status": status,
        "duration_ms": duration_ms,
        "organization": organization,
        "project": project,
    }
    suffix = ""
    if organization is not None:
        suffix += f" organization={organization}"
    if project is not None:
        suffix += f" project={project}"
    if failure is not None:
        fields["error"] = failure
        suffix += f" error={failure!r}"
    request_logger.log(
        level,
        "%s %s %s %.1fms%s",
        request.method,
        path,
        status,
        duration_ms,
        suffix,
        extra=fields,
    )
