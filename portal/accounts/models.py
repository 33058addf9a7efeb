"""Users, their login sessions and the single-use tokens that reset their passwords."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import intpk, str200, timestamp
from portal.extensions import db

if TYPE_CHECKING:
    from portal.organizations.models import Organization


class Role(StrEnum):
    """What a user is: a member of a vendor or a buyer organization, trade staff, or admin."""

    VENDOR = "vendor"
    BUYER = "buyer"
    STAFF = "staff"
    ADMIN = "admin"


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("role IN ('vendor', 'buyer', 'staff', 'admin')", name="role"),
    )

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(sa.String(254), unique=True, index=True)
    full_name: Mapped[str200]
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16))
    organization_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    # The interface's language (a locale id of portal.i18n.LOCALES, mail too); None
    # follows the browser's Accept-Language.
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    active: Mapped[bool] = mapped_column(default=True)
    # Set when the owner follows the link mailed at registration; login waits for it.
    email_confirmed_at: Mapped[dt.datetime | None]
    # Bumped on every password change. No longer read: sessions are LoginSession rows now.
    # Kept (and bumped) for one release, so that code still running during an upgrade
    # keeps ending its own sessions on a password change; dropped in the next migration.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[timestamp]
    last_login_at: Mapped[dt.datetime | None]

    organization: Mapped[Organization | None] = relationship(back_populates="members")

    # The token of the login session this object was loaded for (or just started):
    # what Flask-Login keeps in the session cookie and the remember-me cookie. A plain
    # attribute, not a column (an annotation would make SQLAlchemy map it).
    login_token = None

    def get_id(self) -> str:
        if not self.login_token:
            raise LookupError("no login session: start one with accounts.services.start_session")
        return self.login_token

    @property
    def is_active(self) -> bool:  # Flask-Login asks this before logging a user in
        return self.active

    @property
    def is_staff(self) -> bool:
        """Trade staff and admins both broker introductions and verify organizations."""
        return self.role in (Role.STAFF, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class PasswordResetToken(db.Model):
    """A reset link's token, stored only as a hash; valid once, until ``expires_at``."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[timestamp]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()


class LoginSession(db.Model):
    """One login: the server-side half of a session cookie or a remember-me cookie.

    The cookies carry a random token; only its hash is stored. A request is logged in
    only while its row is neither ended (logout, a password change) nor expired, so a
    cookie captured before a logout is worth nothing after it.
    """

    __tablename__ = "login_sessions"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    remember: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[timestamp]
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    ended_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()
