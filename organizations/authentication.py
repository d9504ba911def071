"""Bearer-token authentication with Sentry's token formats and error messages."""

from __future__ import annotations

import re
from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from organizations.cache import access_cache
from organizations.models import (
    ORG_TOKEN_PREFIX,
    TOKEN_LOOKUP_LENGTH,
    USER_TOKEN_PREFIX,
    ApiToken,
    BaseToken,
    OrgAuthToken,
    hash_token,
)

# Recording every use would write to the database on every request; once a minute is enough
# to tell an admin whether a token is still in use.
LAST_USED_RESOLUTION = timedelta(minutes=1)
TOKEN_RE = re.compile(f"(?:{USER_TOKEN_PREFIX}|{ORG_TOKEN_PREFIX})[0-9a-f]{{64}}")


def load_token(plaintext: str) -> BaseToken | None:
    """The live (unrevoked) token whose hash matches `plaintext`, with its user or
    organization, read from the database; None if there is none."""
    model: type[ApiToken] | type[OrgAuthToken]
    if plaintext.startswith(USER_TOKEN_PREFIX):
        model = ApiToken
        related = "user"
    else:
        model = OrgAuthToken
        related = "organization"
    token = (
        model.objects.select_related(related)
        .filter(token_lookup=plaintext[:TOKEN_LOOKUP_LENGTH], revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.matches(plaintext):
        return None
    return token


class TokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>` (scheme case-insensitive).

    Personal tokens authenticate as their user; organization tokens authenticate with an
    anonymous user and the token as `request.auth` (permissions look at `request.auth`).
    Other schemes are left to the next authentication class.
    """

    keyword = "bearer"

    def authenticate(self, request: Request) -> tuple[object, BaseToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.encode():
            return None
        if len(parts) == 1:
            raise exceptions.AuthenticationFailed("Invalid token header. No credentials provided.")
        if len(parts) > 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header. Token string should not contain spaces."
            )
        try:
            plaintext = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "Invalid token header. Token string should not contain invalid characters."
            ) from None
        token = self.get_token(plaintext)
        if token.is_expired:
            raise exceptions.AuthenticationFailed("Token expired")
        if isinstance(token, ApiToken):
            user = token.user
            if not user.is_active:
                raise exceptions.AuthenticationFailed("User inactive or deleted")
        else:
            user = AnonymousUser()
        self.record_use(token)
        return user, token

    def get_token(self, plaintext: str) -> BaseToken:
        """The live (unrevoked) token whose hash matches `plaintext`, else AuthenticationFailed.

        Anything not shaped like a token (prefix + 64 lowercase hex) is refused before any
        query: such a string cannot match, and one holding NUL would make PostgreSQL fail.
        Tokens (and misses) are cached in the process by the plaintext's SHA-256
        (organizations.cache); expiry is the caller's to check, on every request.
        """
        if not TOKEN_RE.fullmatch(plaintext):
            raise exceptions.AuthenticationFailed("Invalid token")
        digest = hash_token(plaintext)
        token = access_cache.get_or_load(("token", digest), lambda: load_token(plaintext))
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token")
        return token

    def record_use(self, token: BaseToken) -> None:
        """Write `last_used_at` at most once per LAST_USED_RESOLUTION per token and process
        (the cached token remembers the last write), never on every request."""
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            token.last_used_at = now
            type(token)._default_manager.filter(pk=token.pk).update(last_used_at=now)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
