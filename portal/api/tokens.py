"""Personal API tokens: made, shown once, stored hashed, read-only, revoked.

A token is ``smp_`` followed by 43 characters of ``secrets.token_urlsafe(32)`` (256 random
bits): the prefix lets a secret scanner, or a person, tell it for what it is. Only its
sha256 is stored (a token is random, so a fast hash gives nothing to guess from; a
password hash would cost every API call a quarter of a second). A token opens the
member endpoints of the API and nothing else: the portal's pages still need a login.

Only members of a vendor or buyer organization make tokens: the member endpoints answer
for the member's own organization, which staff do not have. Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from flask import request
from flask_babel import gettext
from flask_limiter.util import get_remote_address

from portal.accounts.models import Role, User
from portal.api.models import ApiToken
from portal.cleaning import one_line
from portal.db import utc_now
from portal.extensions import db

PREFIX = "smp_"
SECRET_BYTES = 32  # 256 bits
TOKEN_LENGTH = len(PREFIX) + 43  # what token_urlsafe(32) gives
HINT_LENGTH = len(PREFIX) + 6
MAX_NAME = 100
MAX_ACTIVE_TOKENS = 10
# last_used_at is written at most this often per token: a client polling every second
# should not turn every read into a write.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
TOKEN_ROLES = frozenset({Role.VENDOR, Role.BUYER})


class TokenError(ValueError):
    """A token that cannot be made; ``field`` names the form field it concerns."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class NewToken:
    """A token just made: the row, and the secret, which exists nowhere else."""

    token: ApiToken
    secret: str


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def may_have_tokens(user: User) -> bool:
    return user.role in TOKEN_ROLES and user.organization_id is not None


def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, active first, the newest first."""
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
        )
    )


def create_token(user: User, name: str) -> NewToken:
    """Make a read-only token for ``user``; the caller shows ``secret`` once."""
    if not may_have_tokens(user):
        raise TokenError(gettext("Only members of a vendor or buyer organization have API tokens."))
    name = one_line(name)
    if not name:
        raise TokenError(gettext("Give the token a name, to know later what uses it."), "name")
    if len(name) > MAX_NAME:
        raise TokenError(gettext("At most %(max)s characters.", max=MAX_NAME), "name")
    active = db.session.scalar(
        sa.select(sa.func.count(ApiToken.id)).where(
            ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)
        )
    )
    if (active or 0) >= MAX_ACTIVE_TOKENS:
        raise TokenError(
            gettext(
                "You have %(max)s active tokens: revoke one you no longer use first.",
                max=MAX_ACTIVE_TOKENS,
            )
        )
    secret = PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=hash_token(secret),
        hint=secret[:HINT_LENGTH],
        scope="read",
    )
    db.session.add(token)
    db.session.flush()
    return NewToken(token, secret)


def find_own_token(user: User, token_id: int) -> ApiToken | None:
    """The user's token by id; someone else's is None, as if it did not exist."""
    return db.session.scalar(
        sa.select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    )


def revoke_token(token: ApiToken) -> bool:
    """Revoke it from now on; False if it already was."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = utc_now()
    db.session.flush()
    return True


def authenticate(secret: str) -> ApiToken | None:
    """The active token a request presents, if its owner may still use it: an unknown,
    revoked or malformed token, or one of a deactivated account, is None."""
    if not secret.startswith(PREFIX) or len(secret) != TOKEN_LENGTH:
        return None
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None:
        return None
    user = token.user
    if not user.active or not may_have_tokens(user):
        return None
    return token


def mark_used(token: ApiToken, now: dt.datetime | None = None) -> bool:
    """Record that the token was used (at most once per LAST_USED_RESOLUTION)."""
    now = now or utc_now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return False
    token.last_used_at = now
    db.session.flush()
    return True


def bearer_secret() -> str | None:
    """The token in this request's ``Authorization: Bearer`` header, as sent; None if the
    request carries no Authorization header; "" if it carries one of another kind."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return secret.strip()


def rate_limit_key() -> str:
    """Who an API request counts against: its token (whichever address it comes from),
    else the client's address. The key is a hash, so no secret reaches the counters."""
    secret = bearer_secret()
    if secret:
        return "api-token-" + hash_token(secret)[:32]
    return "api-client-" + get_remote_address()
