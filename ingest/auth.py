"""DSN authentication: where a request names its key, and whether that key may send.

Credentials come from ``X-Sentry-Auth``, ``Authorization: Sentry ...``, the query string
(``sentry_key``/``sentry_version``/``sentry_client``) or, for envelopes, the ``dsn`` in the
envelope header. ``sentry_secret`` is ignored (as Relay does). Places that name different
keys make the request unauthenticated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ingest.errors import bad_request, unauthorized
from ingest.projectconfig import ProjectConfig, get_project_config

NO_AUTH = "Unable to find authentication information"
INVALID_KEY = "Invalid api key"
DISABLED_KEY = "API key is disabled"
SUPPORTED_VERSIONS = {"5": 5, "6": 6, "7": 7}


@dataclass(frozen=True, slots=True)
class Credentials:
    public_key: str | None
    version: int


def parse_auth_header(value: str) -> dict[str, str] | None:
    """``Sentry sentry_key=..., sentry_version=7`` -> its parameters; None if the scheme is not
    Sentry (case-insensitive)."""
    scheme, _, params = value.strip().partition(" ")
    if scheme.lower() != "sentry":
        return None
    parsed: dict[str, str] = {}
    for part in params.split(","):
        name, sep, raw = part.strip().partition("=")
        if sep:
            parsed[name.strip().lower()] = raw.strip().strip('"')
    return parsed


def _version(raw: str | None) -> int:
    if raw is None or raw == "":
        return 7
    version = SUPPORTED_VERSIONS.get(raw.strip())
    if version is None:
        shown = raw if len(raw) <= 20 else raw[:20] + "..."
        raise bad_request(f"Unsupported sentry_version {shown!r}: 5, 6 and 7 are supported")
    return version


def request_credentials(environ: Mapping[str, Any], query: Mapping[str, str]) -> Credentials:
    """The key named by the headers and the query string (``public_key`` None when none
    does). 401 when two places name different keys; 400 for an unsupported version."""
    sources: list[dict[str, str]] = []
    for name in ("HTTP_X_SENTRY_AUTH", "HTTP_AUTHORIZATION"):
        parsed = parse_auth_header(environ.get(name) or "")
        if parsed is not None:
            sources.append(parsed)
    if "sentry_key" in query:
        sources.append({k: query[k] for k in ("sentry_key", "sentry_version") if k in query})
    keys = {source["sentry_key"] for source in sources if source.get("sentry_key")}
    if len(keys) > 1:
        raise unauthorized("Conflicting authentication information: two different keys")
    version = 7
    for source in sources:
        if "sentry_version" in source:
            version = _version(source["sentry_version"])
            break
    return Credentials(next(iter(keys), None), version)


def dsn_public_key(dsn: Any, project_id: int) -> str:
    """The public key of an envelope header's ``dsn``; 401 if it is not a DSN of this
    project (its host is not compared)."""
    if not isinstance(dsn, str):
        raise unauthorized("The envelope's dsn is not a string")
    try:
        parts = urlsplit(dsn)
        username = parts.username
    except ValueError:
        raise unauthorized("The envelope's dsn is not a valid DSN") from None
    if not username:
        raise unauthorized("The envelope's dsn has no public key")
    if parts.path.rstrip("/").rsplit("/", 1)[-1] != str(project_id):
        raise unauthorized("The envelope's dsn names another project")
    return username


def authenticate(public_key: str | None, project_id: int) -> ProjectConfig:
    """The active key's configuration, or 401 (unknown, disabled, other project)."""
    if not public_key:
        raise unauthorized(NO_AUTH)
    config = get_project_config(public_key)
    if config is None or config.project_id != project_id:
        raise unauthorized(INVALID_KEY)
    if not config.is_active:
        raise unauthorized(DISABLED_KEY)
    return config
