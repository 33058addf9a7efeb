"""Followed needs, saved searches, and the logs that keep their alerts from repeating.

Every alert is a row before it is a mail: ``FollowUpdate`` for what a follower is told
about a need (amendment, public answer, deadline reminder), ``SavedSearchMatch`` for a need
a saved search found. Each has a unique key, so a signal sent twice, a rerun after a
crash or two workers at once never tell the same thing twice; the mail is queued in the
outbox in the same transaction as the row that says it was sent.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import intpk, text, timestamp, utc_now
from portal.extensions import db

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.needs.models import Need


class UpdateKind(StrEnum):
    AMENDMENT = "amendment"
    ANSWER = "answer"
    REMINDER = "reminder"


class Delivery(StrEnum):
    """What became of an alert row's mail."""

    PENDING = "pending"  # waits for the member's weekly mail
    MAILED = "mailed"  # went in a mail (queued in the outbox with this row)
    HELD = "held"  # not mailed: the member muted the need or unsubscribed


class Frequency(StrEnum):
    IMMEDIATE = "immediate"  # batched by the worker every few minutes, one mail per member
    WEEKLY = "weekly"  # in the member's weekly saved-search mail


class NeedFollow(db.Model):
    """A vendor member follows a need: amendments, public answers and a deadline reminder."""

    __tablename__ = "need_follows"
    __table_args__ = (sa.UniqueConstraint("user_id", "need_id", name="uq_need_follows_user_need"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[timestamp]

    need: Mapped[Need] = relationship()
    user: Mapped[User] = relationship()


class FollowUpdate(db.Model):
    """One thing a follower was (or will be) told about a need.

    ``key`` names the event (``amendment:<id>``, ``answer:<id>``, ``reminder:<date>``):
    unique per follower and need, so a reminder goes once per deadline even when two
    workers reach it at the same moment, and moves with the deadline if it changes.

    ``details`` is what happened, in no language (``portal.follows.updates``), worded for
    each reader when a page or a mail shows it; ``summary`` is its English wording, all
    that rows written before revision 0022 have (shown as written).
    """

    __tablename__ = "follow_updates"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('amendment', 'answer', 'reminder')", name="kind"),
        sa.CheckConstraint("delivery IN ('pending', 'mailed', 'held')", name="delivery"),
        sa.UniqueConstraint("user_id", "need_id", "key", name="uq_follow_updates_user_need_key"),
        sa.Index("ix_follow_updates_user_delivery", "user_id", "delivery"),
    )

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    key: Mapped[str] = mapped_column(sa.String(80))
    summary: Mapped[text]
    details: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    delivery: Mapped[str] = mapped_column(sa.String(16), default=Delivery.PENDING)
    created_at: Mapped[timestamp]
    mailed_at: Mapped[dt.datetime | None]

    need: Mapped[Need] = relationship()


class SavedSearch(db.Model):
    """Words plus facets a member wants to hear about when new needs match them.

    ``matches_from`` is when the search was made or last resumed: only needs that became
    public after it are new to the member (a resumed search does not mail the backlog of
    its pause).
    """

    __tablename__ = "saved_searches"
    __table_args__ = (
        sa.CheckConstraint("frequency IN ('immediate', 'weekly')", name="frequency"),
        sa.CheckConstraint(
            "budget_min IS NULL OR budget_max IS NULL OR budget_min <= budget_max",
            name="budget_range",
        ),
        sa.UniqueConstraint("user_id", "name", name="uq_saved_searches_user_name"),
    )

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(100))
    words: Mapped[str] = mapped_column(sa.String(500), default="")
    sector: Mapped[str | None] = mapped_column(sa.String(32))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    notice: Mapped[str | None] = mapped_column(sa.String(16))
    funding_source: Mapped[str | None] = mapped_column(sa.String(16))
    funding_stage: Mapped[str | None] = mapped_column(sa.String(16))
    language: Mapped[str | None] = mapped_column(sa.String(8))  # a need's written language
    budget_min: Mapped[int | None] = mapped_column(sa.BigInteger)
    budget_max: Mapped[int | None] = mapped_column(sa.BigInteger)
    frequency: Mapped[str] = mapped_column(sa.String(16), default=Frequency.IMMEDIATE)
    paused_at: Mapped[dt.datetime | None]
    matches_from: Mapped[dt.datetime] = mapped_column(default=utc_now)
    created_at: Mapped[timestamp]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    user: Mapped[User] = relationship()


class SavedSearchMatch(db.Model):
    """The sent log: a need one saved search found, with why. Unique per search and need,
    so a need is never mailed twice for the same search (not even after it reopens)."""

    __tablename__ = "saved_search_matches"
    __table_args__ = (
        sa.CheckConstraint("delivery IN ('pending', 'mailed', 'held')", name="delivery"),
        sa.UniqueConstraint(
            "saved_search_id", "need_id", name="uq_saved_search_matches_search_need"
        ),
        sa.Index("ix_saved_search_matches_user_delivery", "user_id", "delivery"),
    )

    id: Mapped[intpk]
    saved_search_id: Mapped[int] = mapped_column(
        sa.ForeignKey("saved_searches.id", ondelete="CASCADE")
    )
    # The search's member, kept here so a member's pending matches are one indexed query.
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    # Which words and facets matched: JSON [[kind, value], ...] (``stored_reasons``), worded
    # in each reader's language when shown; rows found before that: English lines.
    reasons: Mapped[text]
    delivery: Mapped[str] = mapped_column(sa.String(16), default=Delivery.PENDING)
    found_at: Mapped[timestamp]
    mailed_at: Mapped[dt.datetime | None]

    saved_search: Mapped[SavedSearch] = relationship()
    need: Mapped[Need] = relationship()


class NeedPublication(db.Model):
    """When a need was last seen becoming public (NULL while it is not).

    Written by the ``need_published`` receiver and by the worker's sweep, which also
    catches needs that became public without that signal (their buyer was verified);
    saved searches look for needs public since they were made.
    """

    __tablename__ = "need_publications"

    need_id: Mapped[int] = mapped_column(
        sa.ForeignKey("needs.id", ondelete="CASCADE"), primary_key=True
    )
    public_since: Mapped[dt.datetime | None] = mapped_column(index=True)


class FollowSettings(db.Model):
    """Per member: the private calendar feed token and the alert mail's bookkeeping."""

    __tablename__ = "follow_settings"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # secrets.token_urlsafe(32): 256 bits, the whole secret of the feed's URL.
    calendar_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    last_immediate_at: Mapped[dt.datetime | None]  # the last batched saved-search mail
    weekly_checked_at: Mapped[dt.datetime | None]  # the weekly mail's slot last considered
