"""Needs: the problems buyer organizations post, in their own words."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, aliased, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from portal.db import code_list, intpk, str200, str_ref, text, timestamp, utc_now, utc_today
from portal.extensions import db
from portal.versioning import Versioned

if TYPE_CHECKING:
    from portal.organizations.models import Organization


class NeedStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    AWARDED = "awarded"


class Need(Versioned, db.Model):
    __tablename__ = "needs"
    __table_args__ = (
        sa.CheckConstraint("status IN ('open', 'closed', 'awarded')", name="status"),
        sa.CheckConstraint(
            "budget_min IS NULL OR budget_max IS NULL OR budget_min <= budget_max",
            name="budget_range",
        ),
        sa.Index("ix_needs_status_closes_on", "status", "closes_on"),
        sa.CheckConstraint("notice IN ('concept', 'sources-sought', 'rfi', 'rfp')", name="notice"),
        sa.CheckConstraint(
            "funding_source IS NULL OR funding_source IN ('own-budget', 'adb', 'world-bank', "
            "'aiib', 'ustda', 'jica', 'ppp', 'grant', 'other')",
            name="funding_source",
        ),
        sa.CheckConstraint(
            "funding_stage IS NULL OR funding_stage IN ('idea', 'feasibility', 'funded', "
            "'procurement', 'awarded')",
            name="funding_stage",
        ),
        sa.CheckConstraint(
            "(funding_source IS NULL) = (funding_stage IS NULL)", name="funding_complete"
        ),
    )

    id: Mapped[intpk]
    ref: Mapped[str_ref]
    buyer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str200]
    description: Mapped[text]
    sectors: Mapped[code_list]
    budget_min: Mapped[int | None] = mapped_column(sa.BigInteger)
    budget_max: Mapped[int | None] = mapped_column(sa.BigInteger)
    closes_on: Mapped[dt.date | None]
    # Vendors' questions are taken until this day (portal.notices); None: until closes_on.
    questions_close_on: Mapped[dt.date | None]
    # The procurement notice this need is (portal.vocab.NOTICE_TYPES) and the money
    # behind it: source and stage are both set or both empty (exchange format `funding`).
    notice: Mapped[str] = mapped_column(sa.String(16), default="concept", server_default="concept")
    funding_source: Mapped[str | None] = mapped_column(sa.String(16))
    funding_stage: Mapped[str | None] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16), default=NeedStatus.OPEN)
    # The language title and description are written in (portal.languages.detect:
    # ISO 639-1, "fil" for Filipino, "other"), set on every save; None: too short to
    # tell, or saved before migration 0018 and not yet detected.
    language: Mapped[str | None] = mapped_column(sa.String(8), index=True)
    created_at: Mapped[timestamp]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    buyer: Mapped[Organization] = relationship(back_populates="needs")

    @hybrid_property
    def is_open(self) -> bool:
        """Open means status open and not past the closing date: no job has to close it."""
        return self.status == NeedStatus.OPEN and (
            self.closes_on is None or self.closes_on >= utc_today()
        )

    @is_open.inplace.expression
    @classmethod
    def _is_open_expression(cls) -> ColumnElement[bool]:
        return sa.and_(
            cls.status == NeedStatus.OPEN,
            sa.or_(
                cls.closes_on.is_(None), cls.closes_on >= sa.bindparam("today", callable_=utc_today)
            ),
        )

    @hybrid_property
    def is_public(self) -> bool:
        """Listed for everyone, searchable and a possible lead: open, and posted by a
        verified buyer. The one place this rule is written."""
        return bool(self.is_open) and self.buyer is not None and self.buyer.is_verified

    @is_public.inplace.expression
    @classmethod
    def _is_public_expression(cls) -> ColumnElement[bool]:
        from portal.organizations.models import Organization, VerificationStatus

        # Its own alias, so that a query that also joins the buyer does not swallow it.
        buyer = aliased(Organization)
        verified_buyer = (
            sa.select(buyer.id)
            .where(buyer.id == cls.buyer_id, buyer.status == VerificationStatus.VERIFIED)
            .correlate_except(buyer)
            .exists()
        )
        return sa.and_(cls.is_open, verified_buyer)

    @property
    def display_status(self) -> str:
        """What a reader should see: an open need past its date shows as expired."""
        if self.status == NeedStatus.OPEN and not self.is_open:
            return "expired"
        return self.status

    def __repr__(self) -> str:
        return f"<Need {self.ref} {self.status}>"
