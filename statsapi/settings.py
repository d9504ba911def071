"""statsapi settings: one file, driven by environment variables.

Every variable is listed in `.env.example`. The defaults run on a laptop with no services:
SQLite and the in-memory TSDB (the embedded default). A bad value fails at startup with
ImproperlyConfigured rather than at the first request.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.core import RESERVED_ATTRS

from statsapi.env import env_bool, env_int, env_list, env_rate

# Lets the code subscript Django's generic classes (ModelAdmin[Project], ...) at run time, as
# the type checker (django-stubs) wants them written.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


DEBUG = env_bool("DEBUG", False)
# Under pytest the defaults are the local PostgreSQL and Redis (tests talk to real services);
# DATABASE_URL and REDIS_URL still override them.
TESTING = "PYTEST_VERSION" in os.environ

# A missing SECRET_KEY with DEBUG=False stops the server at startup (statsapi/checks.py);
# the placeholder only lets management commands and tests run.
SECRET_KEY_FROM_ENV = bool(os.environ.get("SECRET_KEY"))
SECRET_KEY = os.environ.get("SECRET_KEY") or "statsapi-insecure-development-key"
# Explicit opt-in to the in-memory TSDB with DEBUG=False (the embedded single-process server).
STATSAPI_EMBEDDED = env_bool("STATSAPI_EMBEDDED", False)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "organizations",
    "usage",
    "ingest",
]

MIDDLEWARE = [
    # First: times the whole request, logs its one line and counts it (statsapi/middleware.py).
    "statsapi.middleware.RequestObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A database that refuses or does not answer: 503 + Retry-After (statsapi/errors.py).
    "statsapi.errors.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "statsapi.urls"
WSGI_APPLICATION = "statsapi.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's own templates (statsapi/templates: the admin index) come first.
        "DIRS": [BASE_DIR / "statsapi" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/statsapi. Default: a SQLite file.
DATABASE_URL = os.environ.get("DATABASE_URL", "") or (
    "postgres://postgres@127.0.0.1:5432/statsapi" if TESTING else ""
)
try:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL or f"sqlite:///{BASE_DIR / 'var' / 'statsapi.sqlite3'}",
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if (
    DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"
    and not DATABASES["default"]["NAME"]
):
    raise ImproperlyConfigured(
        "DATABASE_URL names no database: add it after the host, e.g. "
        "postgres://postgres@127.0.0.1:5432/statsapi"
    )
# A PostgreSQL that refuses, or accepts and never answers, must cost a request seconds, not
# the worker: libpq gives up connecting after DATABASE_CONNECT_TIMEOUT seconds (2 at least),
# the server cancels a statement after DATABASE_STATEMENT_TIMEOUT seconds (0: no limit), and
# statsapi.dbtimeout bounds every wait for the server's answer on the client side (the
# statement timeout plus DATABASE_CONNECT_TIMEOUT), for a server that stopped answering on an
# open connection. Values in the URL's query string (?connect_timeout=...) win.
DATABASE_CONNECT_TIMEOUT = env_int("DATABASE_CONNECT_TIMEOUT", 3)
DATABASE_STATEMENT_TIMEOUT = env_int("DATABASE_STATEMENT_TIMEOUT", 5)
if not 2 <= DATABASE_CONNECT_TIMEOUT <= 60:
    raise ImproperlyConfigured("DATABASE_CONNECT_TIMEOUT must be between 2 and 60 seconds")
if not 0 <= DATABASE_STATEMENT_TIMEOUT <= 3600:
    raise ImproperlyConfigured("DATABASE_STATEMENT_TIMEOUT must be between 0 and 3600 seconds")
# Seconds a client is told to wait (Retry-After) when the database is unavailable.
DATABASE_RETRY_AFTER_SECONDS = 5
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _db_options = DATABASES["default"].setdefault("OPTIONS", {})
    _db_options.setdefault("connect_timeout", DATABASE_CONNECT_TIMEOUT)
    if DATABASE_STATEMENT_TIMEOUT:
        _db_options["options"] = (
            f"-c statement_timeout={DATABASE_STATEMENT_TIMEOUT * 1000} "
            + _db_options.get("options", "")
        ).strip()
    from statsapi import dbtimeout

    dbtimeout.install(
        connect_seconds=float(_db_options["connect_timeout"]),
        query_seconds=(
            float(DATABASE_STATEMENT_TIMEOUT + DATABASE_CONNECT_TIMEOUT)
            if DATABASE_STATEMENT_TIMEOUT
            else None
        ),
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # One connection per request thread; SQLite is for the embedded single-process default.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"].setdefault("TEST", {})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- TSDB -----------------------------------------------------------------------------------
# REDIS_URL, e.g. redis://127.0.0.1:6379/3 (the database number is honoured). When set,
# RedisTSDB is the default backend; when unset, the in-memory TSDB (one process only).
REDIS_URL = os.environ.get("REDIS_URL", "") or ("redis://127.0.0.1:6379/0" if TESTING else "")


def redis_url_problem(url: str) -> str | None:
    """Why REDIS_URL cannot be used, or None. redis-py silently falls back to database 0 on a
    path that is not a number, so the database number is checked here. The URL itself is never
    echoed: it may hold a password."""
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        return "REDIS_URL must start with redis://, rediss:// or unix://, e.g. redis://127.0.0.1:6379/0"
    try:
        parts.port  # noqa: B018  (raises ValueError when the port is not a number)
    except ValueError:
        return "REDIS_URL has a port that is not a number"
    database = parts.path.strip("/")
    if parts.scheme != "unix" and database and not database.isdigit():
        return f"REDIS_URL must end with a database number such as /0 or /3, not /{database}"
    return None


if REDIS_URL and (problem := redis_url_problem(REDIS_URL)):
    raise ImproperlyConfigured(problem)
# REDIS_CLUSTER=True: REDIS_URL names any one node of a Redis Cluster (database 0); the TSDB
# discovers the other nodes from it.
REDIS_CLUSTER = env_bool("REDIS_CLUSTER", False)
if REDIS_CLUSTER and not os.environ.get("REDIS_URL"):
    raise ImproperlyConfigured("REDIS_CLUSTER=True needs REDIS_URL: the URL of one cluster node")
if REDIS_CLUSTER and (
    urlsplit(REDIS_URL).scheme == "unix" or urlsplit(REDIS_URL).path.strip("/") not in {"", "0"}
):
    raise ImproperlyConfigured(
        "With REDIS_CLUSTER=True, REDIS_URL must be redis://host:port/0 (or rediss://): "
        "a Redis Cluster has only database 0 and no unix sockets"
    )
TSDB_BACKEND = os.environ.get("TSDB_BACKEND") or (
    "tsdb.redis.RedisTSDB" if REDIS_URL else "tsdb.inmemory.InMemoryTSDB"
)
TSDB_OPTIONS: dict[str, object] = {}
if TSDB_BACKEND == "tsdb.redis.RedisTSDB":
    TSDB_OPTIONS = {
        "url": REDIS_URL or "redis://127.0.0.1:6379/0",
        "prefix": os.environ.get("TSDB_PREFIX", "ts:"),
    }
    if REDIS_CLUSTER:
        TSDB_OPTIONS["cluster"] = True
TSDB_ROLLUPS = ((10, 360), (60, 720), (3600, 2160))
# Ingest quotas (rate limits) live in the same Redis as the TSDB, under their own prefix.
QUOTAS_PREFIX = os.environ.get("QUOTAS_PREFIX", "quota:")

# --- Ingest -----------------------------------------------------------------------------------
# Size limits of the Sentry-compatible ingest endpoints (413 beyond them).
INGEST_MAX_REQUEST_BYTES = env_int("INGEST_MAX_REQUEST_BYTES", 20 * 1024 * 1024)
INGEST_MAX_DECOMPRESSED_BYTES = env_int("INGEST_MAX_DECOMPRESSED_BYTES", 100 * 1024 * 1024)
INGEST_MAX_EVENT_BYTES = env_int("INGEST_MAX_EVENT_BYTES", 1024 * 1024)
# Seconds a process keeps a DSN key's project, limits and filters before reading them again.
INGEST_CONFIG_CACHE_TTL = float(env_int("INGEST_CONFIG_CACHE_TTL", 5))
if not 0 <= INGEST_CONFIG_CACHE_TTL <= 10:
    raise ImproperlyConfigured("INGEST_CONFIG_CACHE_TTL must be between 0 and 10 seconds")
# Proxies (IPs or CIDR ranges) whose X-Forwarded-For is believed for the sender's address.
INGEST_TRUSTED_PROXIES = env_list("INGEST_TRUSTED_PROXIES", [])
for _proxy in INGEST_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"INGEST_TRUSTED_PROXIES: {_proxy!r} is not an IP address or CIDR range "
            "(e.g. 10.0.0.0/8,127.0.0.1)"
        ) from None

# --- Stats API ------------------------------------------------------------------------------
# Seconds each process keeps what authentication and access checks read (tokens, memberships,
# organizations, teams, projects, keys) before reading them again: how long a change made in
# another process (a revoked token, a removed member) may go unseen. organizations/cache.py.
ACCESS_CACHE_TTL = float(env_int("ACCESS_CACHE_TTL", 5))
if not 0 <= ACCESS_CACHE_TTL <= 10:
    raise ImproperlyConfigured("ACCESS_CACHE_TTL must be between 0 and 10 seconds")
# Integer bucket timestamps instead of floats in [ts, count] series (typed OpenAPI clients).
STATS_INTEGER_TIMESTAMPS = env_bool("STATS_INTEGER_TIMESTAMPS", False)

# --- Public address ---------------------------------------------------------------------------
# The address SDKs reach this server at; DSNs are built from it (http://<key>@<host>/<project>).
STATSAPI_PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:8000")


def public_url_is_valid(url: str) -> bool:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  (raises ValueError when the port is not a number)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


if not public_url_is_valid(STATSAPI_PUBLIC_URL):
    raise ImproperlyConfigured(
        f"PUBLIC_URL must be an http(s) URL with a host, such as http://127.0.0.1:8000, "
        f"not {STATSAPI_PUBLIC_URL!r}"
    )

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "organizations.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["statsapi.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "EXCEPTION_HANDLER": "organizations.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["statsapi.throttling.ApiRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "statsapi.schema.ApiAutoSchema",
}
# The OpenAPI schema at /api/0/schema/ and Swagger UI at /api/0/docs/ (statsapi/schema.py).
# Swagger UI's files come from drf-spectacular-sidecar, served by WhiteNoise: no CDN. Both pages
# need no credentials and no database.
SPECTACULAR_SETTINGS = {
    "TITLE": "statsapi",
    "DESCRIPTION": (
        "A Sentry-compatible API for event counts. Authenticate with `Authorization: Bearer "
        '<token>`. Errors are `{"detail": "..."}`.'
    ),
    "VERSION": "0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/api/0",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "statsapi.schema.add_series_component",
    ],
}
# API abuse limits (statsapi/throttling.py), REQUESTS/SECONDS or off: per token (or logged-in
# user) and per client address. A dashboard of 20 panels refreshing every 5 s makes 240
# requests a minute.
API_RATE_LIMIT_TOKEN = env_rate("API_RATE_LIMIT_TOKEN", (1200, 60))
API_RATE_LIMIT_ADDRESS = env_rate("API_RATE_LIMIT_ADDRESS", (3600, 60))

# --- Security headers -----------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SECURE_PROXY_SSL", False) else None
)

# --- Internationalisation, static files -----------------------------------------------------
LANGUAGE_CODE = "en-us"
LANGUAGES = [("en", "English")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# The admin's CSS and JS are served by WhiteNoise from the installed apps, with no
# collectstatic step and no separate web server (also with DEBUG=False).
WHITENOISE_USE_FINDERS = True

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {LOG_LEVEL!r}"
    )
# LOG_FORMAT=json: one JSON object per line (python-json-logger); plain text otherwise.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower() or "plain"
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
_JSON_FORMATTER = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
    "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
    # Django attaches the request object to its records; its repr holds the query string.
    "reserved_attrs": [*RESERVED_ATTRS, "request"],
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        # No exception text: the message says all there is to say.
        "brief": {"()": "statsapi.logs.BriefFormatter"},
        "json": _JSON_FORMATTER,
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
        },
        "console_brief": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "brief",
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # A request for a host not in ALLOWED_HOSTS is the client's mistake (or a scanner):
        # one warning line, not an error with a traceback.
        "django.security.DisallowedHost": {
            "level": "WARNING",
            "propagate": False,
            "handlers": ["console_brief"],
        },
        # statsapi.request logs one line per request (statsapi/logs.py); Django's own line
        # for 4xx and 5xx answers would repeat it. Tracebacks of unhandled errors still show.
        "django.request": {"level": "ERROR"},
    },
}

# --- Metrics --------------------------------------------------------------------------------
# /metrics answers clients from these addresses or CIDR ranges (default: loopback only) ...
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])
for _address in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_address, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS: {_address!r} is not an IP address or CIDR range "
            "(e.g. 127.0.0.1,10.0.0.0/8)"
        ) from None
# ... and any client sending Authorization: Bearer <METRICS_TOKEN> (unset: no token works).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
