"""The mail outbox: messages written in the same transaction as the change that causes them."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import intpk, text, timestamp, utc_now
from portal.extensions import db


class OutboxMessage(db.Model):
    """One email waiting for, or past, delivery.

    Rows are never deleted on failure: a failed attempt pushes ``next_attempt_at`` out
    with backoff, so a message is delivered late rather than lost.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (sa.Index("ix_mail_outbox_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[intpk]
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[text]
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    # The List-Unsubscribe URL of mail to a member (see portal.notifications.services).
    list_unsubscribe: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[timestamp]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utc_now)
    sent_at: Mapped[dt.datetime | None]
    last_error: Mapped[text]
