"""Feedback on leads: an organization dismissing a lead, with a reason the ranking learns from."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import intpk, timestamp
from portal.extensions import db
from portal.i18n.lazy import LazyText, lazy_gettext

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.needs.models import Need
    from portal.organizations.models import Organization

MAX_NOTE = 500


class DismissalReason(StrEnum):
    """Why a lead was dismissed; each reason teaches the ranking something different
    (see ``portal.matching.feedback``)."""

    NOT_RELEVANT = "not_relevant"
    NOT_OUR_MARKET = "not_our_market"
    TOO_SMALL = "too_small"
    ALREADY_IN_CONTACT = "already_in_contact"

    @property
    def label(self) -> LazyText:
        return REASON_LABELS[self]


# Read in the reader's language (the form's choices are built once, at import).
REASON_LABELS = {
    DismissalReason.NOT_RELEVANT: lazy_gettext("Not relevant"),
    DismissalReason.NOT_OUR_MARKET: lazy_gettext("Not our market"),
    DismissalReason.TOO_SMALL: lazy_gettext("Too small"),
    DismissalReason.ALREADY_IN_CONTACT: lazy_gettext("Already in contact"),
}


class LeadDismissal(db.Model):
    """One organization's "not for us" on one (need, vendor) lead.

    The buyer dismisses a vendor suggested for its need; the vendor dismisses a need
    suggested to it. Both may exist for the same pair, one row per organization.
    """

    __tablename__ = "lead_dismissals"
    __table_args__ = (
        sa.CheckConstraint(
            "reason IN ('not_relevant', 'not_our_market', 'too_small', 'already_in_contact')",
            name="reason",
        ),
        sa.UniqueConstraint(
            "organization_id", "need_id", "vendor_id", name="uq_lead_dismissals_org_need_vendor"
        ),
    )

    id: Mapped[intpk]
    # The organization that dismissed: the buyer (a vendor on its need) or the vendor.
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE")
    )
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    vendor_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(sa.String(32))
    note: Mapped[str] = mapped_column(sa.String(MAX_NOTE), default="")
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[timestamp]

    organization: Mapped[Organization] = relationship(foreign_keys=[organization_id])
    need: Mapped[Need] = relationship()
    vendor: Mapped[Organization] = relationship(foreign_keys=[vendor_id])
    user: Mapped[User | None] = relationship()

    @property
    def reason_label(self) -> str:
        try:
            return str(DismissalReason(self.reason).label)
        except ValueError:
            return self.reason

    def __repr__(self) -> str:
        return (
            f"<LeadDismissal org={self.organization_id} need={self.need_id} "
            f"vendor={self.vendor_id} {self.reason}>"
        )


class LeadVector(db.Model):
    """The sentence vectors of one record's pieces, with the fingerprint of the pieces they
    were made from: THE store of every verified vendor's and open need's vectors, shared by
    every web node and worker through the database.

    Written outside any page, by whoever claims the record in ``lead_vector_work`` (the
    worker, ``portal leads vectors``, ``portal import``). A process's matrices (and the
    per-machine snapshot files) are assembled from these rows. A row whose fingerprint or
    recipe is not the record's current one is never used; the next computation replaces it.
    """

    __tablename__ = "lead_vectors"

    kind: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # "vendor" or "need"
    record_id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[int] = mapped_column(sa.BigInteger)  # of the pieces, as signed 64 bits
    recipe: Mapped[str] = mapped_column(sa.String(100))  # store.vectors.VECTOR_RECIPE
    vectors: Mapped[bytes] = mapped_column(sa.LargeBinary)  # float16, pieces x 384
    # Indexed: its maximum is the cheap "have any vectors been written since?" question a
    # process asks before it reads the table again.
    computed_at: Mapped[timestamp] = mapped_column(index=True)

    def __repr__(self) -> str:
        return f"<LeadVector {self.kind} {self.record_id}>"


class LeadAnalysis(db.Model):
    """One record's analysed text: its ranking terms and thesaurus concept strengths, with
    the fingerprint of the text they came from and the recipe (analyser version and
    thesaurus file) that made them (``portal.matching.analysis``). Shared by every web node
    and worker, as ``lead_vectors`` is; written by whoever claims the record in
    ``lead_vector_work``. A row whose fingerprint or recipe is not the record's current one
    is never used."""

    __tablename__ = "lead_analyses"

    kind: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # "vendor" or "need"
    record_id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[int] = mapped_column(sa.BigInteger)  # of the text, signed 64 bits
    recipe: Mapped[str] = mapped_column(sa.String(100))  # analysis.analysis_recipe
    terms: Mapped[str] = mapped_column(sa.Text)  # the ranking terms, space-separated
    concepts: Mapped[bytes] = mapped_column(sa.LargeBinary)  # (int32 concept, float32) pairs
    computed_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<LeadAnalysis {self.kind} {self.record_id}>"


class LeadVectorWork(db.Model):
    """A record whose vectors may be missing or stale: the sentence-vector work queue.

    One row per record at most, so a record is in at most one worker's chunk. Filled from
    the index-event outbox (``store.queue.feed_vector_queue``) and by a reconcile that enqueues
    every candidate without vectors of the current recipe. A worker claims a chunk (on
    PostgreSQL ``FOR UPDATE SKIP LOCKED``, held until its chunk commits), embeds the
    claimed records whose stored vectors are not made from their current pieces, and
    deletes the rows it claimed in the same transaction.
    """

    __tablename__ = "lead_vector_work"

    kind: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # "vendor" or "need"
    record_id: Mapped[int] = mapped_column(primary_key=True)
    # Set again whenever the record is enqueued again: a claimer deletes the row only if it
    # is still the one it claimed (on SQLite, which has no row locks).
    enqueued_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<LeadVectorWork {self.kind} {self.record_id}>"


class LeadVectorFeed(db.Model):
    """How far the vector queue has read the index-event outbox (one row, id 1), and the
    recipe the queue was last reconciled for: a new recipe enqueues every record again."""

    __tablename__ = "lead_vector_feed"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_event: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    horizon: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # PostgreSQL txid
    # PostgreSQL: the snapshot the outbox was last read at (``portal.outbox.Position``)
    seen: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    recipe: Mapped[str] = mapped_column(sa.String(100), default="")
    updated_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<LeadVectorFeed {self.last_event} {self.recipe}>"
