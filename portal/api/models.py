"""A member's personal API tokens: only a hash of each is stored."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import intpk, timestamp
from portal.extensions import db

if TYPE_CHECKING:
    from portal.accounts.models import User


class ApiToken(db.Model):
    """One personal token: read-only, until revoked. The secret itself is shown once, when
    it is made; ``token_hash`` (sha256) finds it again and ``hint`` (its first characters)
    lets its owner tell tokens apart on the settings page."""

    __tablename__ = "api_tokens"
    __table_args__ = (sa.CheckConstraint("scope IN ('read')", name="scope"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    hint: Mapped[str] = mapped_column(sa.String(16))
    scope: Mapped[str] = mapped_column(sa.String(16), default="read")
    created_at: Mapped[timestamp]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<ApiToken {self.hint}… of user {self.user_id}>"
