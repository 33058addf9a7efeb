"""What each member wants by mail, and what their digests already carried."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import intpk, timestamp, utc_now
from portal.extensions import db


class MailMode(StrEnum):
    IMMEDIATE = "immediate"  # each step and lead mail as it happens
    DIGEST = "digest"  # one weekly mail of new leads and pending actions


class MuteKind(StrEnum):
    SECTOR = "sector"  # key: a sector code
    NEED = "need"  # key: a need's id


class NotificationPreference(db.Model):
    """One member's choice. A member without a row gets immediate mail (the default)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (sa.CheckConstraint("mode IN ('immediate', 'digest')", name="mode"),)

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    mode: Mapped[str] = mapped_column(sa.String(16), default=MailMode.IMMEDIATE)
    # Set by the unsubscribe link: optional mail stops, security mail still goes.
    unsubscribed_at: Mapped[dt.datetime | None]
    # When a digest was last queued for this member, and when one was last considered
    # (the worker's weekly due-time check compares the latter with this week's slot).
    last_digest_at: Mapped[dt.datetime | None]
    digest_checked_at: Mapped[dt.datetime | None]
    # Immediate mode: when a lead alert last went (at most one per PORTAL_LEAD_ALERT_MINUTES),
    # and the LeadAlertState.version this member's leads were last fully told at.
    last_lead_alert_at: Mapped[dt.datetime | None]
    lead_alerts_version: Mapped[int | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class NotificationMute(db.Model):
    """A sector or a need a member does not want to hear about."""

    __tablename__ = "notification_mutes"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('sector', 'need')", name="kind"),
        sa.UniqueConstraint("user_id", "kind", "key", name="uq_notification_mutes_user_kind_key"),
    )

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    key: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[timestamp]


class DigestItem(db.Model):
    """One item a digest carried to a member: written in the same transaction as the
    digest's outbox row, so an item is never sent twice, even after a crash and a rerun."""

    __tablename__ = "digest_items"
    __table_args__ = (sa.UniqueConstraint("user_id", "item_key", name="uq_digest_items_user_item"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    item_key: Mapped[str] = mapped_column(sa.String(120))
    sent_at: Mapped[timestamp]


class LeadAlertState(db.Model):
    """Where the lead alerts last looked at the index events (one row, id 1).

    ``version`` goes up whenever anything searchable changed since the last alert pass;
    a member whose ``lead_alerts_version`` is behind it may have new leads, so a pass with
    no change and nobody behind computes no leads at all. ``event_horizon`` and
    ``event_mark`` say how far the events were seen: on SQLite the highest event id
    (writers commit in id order); on PostgreSQL a transaction-id horizon and how many
    events at or above it were visible, because there ids are not in commit order and a
    late commit of a lower id must still count as a change.
    """

    __tablename__ = "lead_alert_state"

    id: Mapped[intpk]
    version: Mapped[int] = mapped_column(default=0)
    event_horizon: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    event_mark: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    changed_at: Mapped[dt.datetime | None]  # when a pass last saw a change
