"""Introductions between a vendor and a buyer, brokered by trade staff, and their audit trail.

The states and who may move an introduction between them live in
``portal.introductions.services`` (one table, one ``transition`` function); this module
only describes what is stored. ``version`` is SQLAlchemy's version counter: every UPDATE
says ``WHERE version = :seen``, so of two people acting on the same introduction at once
exactly one succeeds.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import intpk, text, timestamp, utc_now
from portal.extensions import db
from portal.i18n.lazy import LazyText, lazy_gettext

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.needs.models import Need
    from portal.organizations.models import Organization


class IntroState(StrEnum):
    """Where an introduction stands. The order here is the order of the workflow."""

    REQUESTED = "requested"  # asked for by a member (or proposed by staff), not yet reviewed
    UNDER_REVIEW = "under_review"  # trade staff took it for review
    APPROVED = "approved"  # staff agreed; the side(s) still to consent are asked
    ACCEPTED = "accepted"  # one side of two has consented, the other is awaited
    INTRODUCED = "introduced"  # both consented: contacts are shared between the two
    MEETING_HELD = "meeting_held"
    PROPOSAL_SUBMITTED = "proposal_submitted"
    WON = "won"
    LOST = "lost"
    STALLED = "stalled"  # an outcome state left again by logging progress
    DECLINED = "declined"  # by staff (with a reason) or by a side asked to consent
    WITHDRAWN = "withdrawn"  # by either side, before it was introduced
    EXPIRED = "expired"  # left unanswered for PORTAL_INTRODUCTION_EXPIRY_DAYS

    @property
    def label(self) -> LazyText:
        return STATE_LABELS[self]


# Read in the language of the page or mail that shows them; code compares the states.
STATE_LABELS = {
    IntroState.REQUESTED: lazy_gettext("Requested"),
    IntroState.UNDER_REVIEW: lazy_gettext("Under staff review"),
    IntroState.APPROVED: lazy_gettext("Approved by staff"),
    IntroState.ACCEPTED: lazy_gettext("Accepted by one side"),
    IntroState.INTRODUCED: lazy_gettext("Introduced"),
    IntroState.MEETING_HELD: lazy_gettext("Meeting held"),
    IntroState.PROPOSAL_SUBMITTED: lazy_gettext("Proposal submitted"),
    IntroState.WON: lazy_gettext("Won"),
    IntroState.LOST: lazy_gettext("Lost"),
    IntroState.STALLED: lazy_gettext("Stalled"),
    IntroState.DECLINED: lazy_gettext("Declined"),
    IntroState.WITHDRAWN: lazy_gettext("Withdrawn"),
    IntroState.EXPIRED: lazy_gettext("Expired"),
}

# Still waiting for someone to answer: these expire, and get a reminder first.
OPEN_STATES = frozenset(
    {IntroState.REQUESTED, IntroState.UNDER_REVIEW, IntroState.APPROVED, IntroState.ACCEPTED}
)
# Both sides consented: the two organizations see each other's contacts.
CONTACT_SHARING_STATES = frozenset(
    {
        IntroState.INTRODUCED,
        IntroState.MEETING_HELD,
        IntroState.PROPOSAL_SUBMITTED,
        IntroState.WON,
        IntroState.LOST,
        IntroState.STALLED,
    }
)
# Introduced and still going: both sides may be asked how it went.
ONGOING_OUTCOME_STATES = CONTACT_SHARING_STATES - {IntroState.WON, IntroState.LOST}
FINAL_STATES = frozenset(
    {
        IntroState.WON,
        IntroState.LOST,
        IntroState.DECLINED,
        IntroState.WITHDRAWN,
        IntroState.EXPIRED,
    }
)


class Side(StrEnum):
    """The two parties of an introduction."""

    VENDOR = "vendor"
    BUYER = "buyer"

    @property
    def other(self) -> Side:
        return Side.BUYER if self == Side.VENDOR else Side.VENDOR


class EventKind(StrEnum):
    TRANSITION = "transition"  # from_state -> to_state
    NOTE = "note"  # a note (or a private reason) with no change of state
    REMINDER = "reminder"  # the portal reminded whoever must act
    OUTCOME_QUESTION = "outcome_question"  # the portal asked a side how it went


def _in(values: Any) -> str:
    return ", ".join(f"'{value}'" for value in values)


class Introduction(db.Model):
    """A brokered introduction between one vendor and one buyer, optionally about a need."""

    __tablename__ = "introductions"
    __table_args__ = (
        sa.CheckConstraint(f"state IN ({_in(IntroState)})", name="state"),
        sa.CheckConstraint("requested_by_side IN ('vendor', 'buyer', 'staff')", name="origin"),
        sa.CheckConstraint("vendor_id <> buyer_id", name="two_organizations"),
        sa.Index("ix_introductions_state_changed", "state", "state_changed_at"),
        sa.Index("ix_introductions_pair", "vendor_id", "buyer_id"),
    )

    id: Mapped[intpk]
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    need_id: Mapped[int | None] = mapped_column(sa.ForeignKey("needs.id"), index=True)
    state: Mapped[str] = mapped_column(sa.String(24), default=IntroState.REQUESTED)
    # 'vendor' or 'buyer' when a member asked, 'staff' when trade staff proposed it.
    requested_by_side: Mapped[str] = mapped_column(sa.String(8))
    requested_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # Consent of each side: a member's request carries its own side's at once.
    vendor_consented_at: Mapped[dt.datetime | None]
    buyer_consented_at: Mapped[dt.datetime | None]
    # Set once staff approve: from then on the side that did not ask sees it too.
    approved_at: Mapped[dt.datetime | None]
    introduced_at: Mapped[dt.datetime | None]
    # The outcome state it stalled from, so leaving 'stalled' cannot skip a step.
    stalled_from: Mapped[str | None] = mapped_column(sa.String(24))
    # The clock for expiry and reminders: the last change of state.
    state_changed_at: Mapped[dt.datetime] = mapped_column(default=utc_now)
    # One reminder per wait: cleared by every change of state.
    reminder_sent_at: Mapped[dt.datetime | None]
    # Each side is asked once for the outcome, months after the introduction.
    vendor_outcome_asked_at: Mapped[dt.datetime | None]
    buyer_outcome_asked_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[timestamp]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    vendor: Mapped[Organization] = relationship(foreign_keys=[vendor_id])
    buyer: Mapped[Organization] = relationship(foreign_keys=[buyer_id])
    need: Mapped[Need | None] = relationship()
    requested_by: Mapped[User | None] = relationship()
    events: Mapped[list[IntroductionEvent]] = relationship(
        back_populates="introduction",
        order_by="IntroductionEvent.id",
        passive_deletes="all",
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def state_label(self) -> LazyText:
        return IntroState(self.state).label

    @property
    def requesting_side(self) -> Side | None:
        """The side whose member asked; None for a staff proposal."""
        return None if self.requested_by_side == "staff" else Side(self.requested_by_side)

    def organization(self, side: Side) -> Organization:
        return self.vendor if side == Side.VENDOR else self.buyer

    def organization_id(self, side: Side) -> int:
        return self.vendor_id if side == Side.VENDOR else self.buyer_id

    def consented_at(self, side: Side) -> dt.datetime | None:
        return self.vendor_consented_at if side == Side.VENDOR else self.buyer_consented_at

    def outcome_asked_at(self, side: Side) -> dt.datetime | None:
        return self.vendor_outcome_asked_at if side == Side.VENDOR else self.buyer_outcome_asked_at

    def __repr__(self) -> str:
        return (
            f"<Introduction {self.id} vendor={self.vendor_id} buyer={self.buyer_id} {self.state}>"
        )


class IntroductionEvent(db.Model):
    """One line of an introduction's audit trail: a transition, a note, a reminder.

    Rows are written once and never changed or deleted (see the listeners below); a
    private row is for staff only, such as the private reason of a decline.
    """

    __tablename__ = "introduction_events"
    __table_args__ = (
        sa.CheckConstraint(
            "kind IN ('transition', 'note', 'reminder', 'outcome_question')", name="kind"
        ),
        sa.CheckConstraint(
            "actor_role IN ('staff', 'vendor', 'buyer', 'system')", name="actor_role"
        ),
    )

    id: Mapped[intpk]
    introduction_id: Mapped[int] = mapped_column(sa.ForeignKey("introductions.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    # None on the row that records the request itself (nothing came before it).
    from_state: Mapped[str | None] = mapped_column(sa.String(24))
    to_state: Mapped[str] = mapped_column(sa.String(24))
    # Who acted: a user (kept even if the account goes, as actor_name) or the portal itself.
    actor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    actor_role: Mapped[str] = mapped_column(sa.String(8))
    actor_name: Mapped[str] = mapped_column(sa.String(200), default="")
    note: Mapped[text]
    private: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[timestamp]

    introduction: Mapped[Introduction] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()

    @property
    def is_transition(self) -> bool:
        return self.kind == EventKind.TRANSITION

    def __repr__(self) -> str:
        return (
            f"<IntroductionEvent {self.id} intro={self.introduction_id} {self.kind} "
            f"{self.from_state}->{self.to_state}>"
        )


class AuditTrailIsAppendOnly(RuntimeError):
    """Raised when code tries to change or delete a line of the audit trail."""


@event.listens_for(IntroductionEvent, "before_update")
def _refuse_update(mapper: Any, connection: Any, target: IntroductionEvent) -> None:
    raise AuditTrailIsAppendOnly("introduction events are written once and never changed")


@event.listens_for(IntroductionEvent, "before_delete")
def _refuse_delete(mapper: Any, connection: Any, target: IntroductionEvent) -> None:
    raise AuditTrailIsAppendOnly("introduction events are kept forever")
