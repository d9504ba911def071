"""What authentication and access checks read on every API request, cached in each process.

A warm authenticated stats request makes no database query: each process keeps, for
``settings.ACCESS_CACHE_TTL`` seconds (default 5, at most 10),

- a token (by the SHA-256 of its plaintext) with its user or organization, scopes, expiry and
  revocation; unknown and revoked tokens are cached as misses;
- a user's membership in an organization: role and team ids;
- organizations, teams and projects by path segment (slug or id), DSN keys by public key;
- a project's team ids, a team's project ids, and the ids of the projects an access sees.

Expiry is checked against the clock on every request, cached or not: a token stops working at
its ``expires_at`` exactly. ``last_used_at`` is written at most once a minute per token and
process (``authentication.LAST_USED_RESOLUTION``), never read back from the cache's copy.

Invalidation (``organizations.signals``): any save or delete of a token, user, organization,
member, team, project or DSN key, and any change of a project's or member's teams, clears the
whole cache of the process making it, at once and again when its transaction commits. Other
processes see the change when their copy is older than the TTL: a token revoked anywhere stops
working everywhere within ``ACCESS_CACHE_TTL`` seconds. A bulk ``QuerySet.update()`` sends no
signal: it is seen everywhere within the TTL, the process making it included.

Cached lookups are for reads only (GET, HEAD, OPTIONS): a write must read the row it changes
from the database (a stale copy saved back would undo another process's change, or bring back
a deleted row). Model instances are handed out as copies; the token and user of
``request.auth`` / ``request.user`` are the cached instances themselves: treat them as
read-only.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from django.conf import settings
from django.db import models
from django.db.models.base import ModelState

from statsapi.localcache import LocalCache

M = TypeVar("M", bound=models.Model)

access_cache = LocalCache(ttl=lambda: float(settings.ACCESS_CACHE_TTL))


def shallow_copy(instance: M) -> M:
    """A copy of a model instance sharing its field values and cached related objects, with
    its own state (what ``copy.copy`` makes, in a seventh of the time: no pickling protocol)."""
    cls = type(instance)
    clone = cls.__new__(cls)
    clone.__dict__.update(instance.__dict__)
    state = ModelState()
    state.db = instance._state.db
    state.adding = instance._state.adding
    state.fields_cache = dict(instance._state.fields_cache)
    clone._state = state
    return clone


def cached_instance(key: Hashable, load: Callable[[], M | None]) -> M | None:
    """A copy of the model instance cached under ``key`` (``load()`` on a miss), or None."""
    instance = access_cache.get_or_load(key, load)
    return None if instance is None else shallow_copy(instance)


def clear() -> None:
    """Forget everything cached in this process."""
    access_cache.clear()
