"""Constants and helpers shared by the organizations API tests (imported by conftest.py and
the test modules; plain module, no fixtures)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

FORBIDDEN = "You do not have permission to perform this action."
NOT_FOUND = "The requested resource does not exist"
WWW_AUTHENTICATE = 'Bearer realm="api"'


def bearer(token: str) -> dict[str, str]:
    """Test-client keyword arguments sending `Authorization: Bearer <token>`."""
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@dataclass(frozen=True)
class EndpointScopes:
    """The scopes of one endpoint's permission: `read` grants GET, `write` also grants it
    but the `member` role lacks it, `unrelated` does not grant it."""

    read: str
    write: str
    unrelated: str = "event:read"


ORG_SCOPES = EndpointScopes(read="org:read", write="org:write")
PROJECT_SCOPES = EndpointScopes(read="project:read", write="project:write")
TEAM_SCOPES = EndpointScopes(read="team:read", write="team:write")

# (rung, expected status, expected detail or None for a success)
LADDER: list[tuple[str, int, str | None]] = [
    ("no credentials", 401, "Authentication credentials were not provided."),
    ("bearer without token", 401, "Invalid token header. No credentials provided."),
    (
        "token with spaces",
        401,
        "Invalid token header. Token string should not contain spaces.",
    ),
    ("unknown token", 401, "Invalid token"),
    ("not a token", 401, "Invalid token"),
    ("expired token", 401, "Token expired"),
    ("revoked token", 401, "Invalid token"),
    ("inactive user", 401, "User inactive or deleted"),
    ("token missing the scope", 403, FORBIDDEN),
    ("member whose role lacks the scope", 403, FORBIDDEN),
    ("non-member", 403, FORBIDDEN),
    ("other organization's org token", 403, FORBIDDEN),
    ("org token without any scope", 403, FORBIDDEN),
    ("owner token", 200, None),
    ("owner token with the write scope", 200, None),
    ("member token", 200, None),
    ("org token", 200, None),
]
LADDER_IDS = [rung for rung, _, _ in LADDER]


def hour_floor(timestamp: float) -> int:
    return math.floor(timestamp / 3600) * 3600


def current_hours() -> tuple[int, int]:
    """Call before and after a request: the current hour may have changed in between."""
    return hour_floor(time.time()), hour_floor(time.time())


def as_counts(series: list[list[Any]]) -> dict[int, int]:
    """`{int timestamp: count}` of a `[[ts, count], ...]` series."""
    return {int(ts): count for ts, count in series}
