"""What a procurement notice carries beside the need itself: its documents, the numbered
amendments of what changed after it was published, and vendors' questions with the
buyer's answers.

The questions deadline lives on the need (``Need.questions_close_on``), as the closing date
does; the rules for all of this are in ``portal.notices.services``.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import intpk, timestamp
from portal.extensions import db

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.needs.models import Need
    from portal.organizations.models import Organization


class DocumentKind(StrEnum):
    """The kinds of file a notice may carry, as read from the file's content."""

    PDF = "pdf"
    DOCX = "docx"
    XLSX = "xlsx"
    PNG = "png"
    JPEG = "jpeg"


class NoticeDocument(db.Model):
    """A file attached to a need. The bytes live in the upload folder under
    ``storage_name`` (random, never derived from what the uploader sent); ``filename`` is
    only what a reader sees. A removed document keeps its row, so that the amendment that
    removed it still names it, and is never served again."""

    __tablename__ = "notice_documents"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('pdf', 'docx', 'xlsx', 'png', 'jpeg')", name="kind"),
        sa.CheckConstraint("size >= 0", name="size"),
    )

    id: Mapped[intpk]
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    storage_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    filename: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(8))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    uploaded_at: Mapped[timestamp]
    removed_at: Mapped[dt.datetime | None]

    need: Mapped[Need] = relationship()
    uploaded_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<NoticeDocument {self.id} {self.filename!r}>"


class NoticeAmendment(db.Model):
    """One numbered change (1, 2, ...) of a published notice. ``changes`` lists what
    changed as ``{"field": ..., "old": ..., "new": ...}`` items, values as the exchange
    format writes them (ISO dates, whole dollars, a document's name)."""

    __tablename__ = "notice_amendments"
    __table_args__ = (
        sa.UniqueConstraint("need_id", "number", name="uq_notice_amendments_need_number"),
        sa.CheckConstraint("number >= 1", name="number"),
    )

    id: Mapped[intpk]
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"))
    number: Mapped[int]
    changes: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[timestamp]

    need: Mapped[Need] = relationship()

    def __repr__(self) -> str:
        return f"<NoticeAmendment {self.need_id} #{self.number}>"


class NoticeQuestion(db.Model):
    """A vendor's question about a notice. Private to the asking organization, the buyer
    and staff until answered; the answer is public, and the asker never is."""

    __tablename__ = "notice_questions"

    id: Mapped[intpk]
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    asked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(sa.Text)
    asked_at: Mapped[timestamp]
    answer: Mapped[str | None] = mapped_column(sa.Text)
    answered_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    answered_at: Mapped[dt.datetime | None]

    need: Mapped[Need] = relationship()
    organization: Mapped[Organization] = relationship()

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None

    def __repr__(self) -> str:
        return f"<NoticeQuestion {self.id} need={self.need_id}>"
