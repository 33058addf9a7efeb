"""The index outbox: one row per change to something searchable."""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import timestamp
from portal.extensions import db


class DocumentKind(StrEnum):
    VENDOR = "vendor"
    NEED = "need"


class IndexEvent(db.Model):
    """ "Document ``kind``/``record_id`` may have changed": written in the same transaction
    as the change, applied to every node's index after the commit.

    Events carry no content: the drain reads the record's current state from the
    database, so applying an event twice, or out of order, gives the same index.
    """

    __tablename__ = "index_events"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16))
    record_id: Mapped[int]
    # PostgreSQL: the id of the writing transaction (pg_current_xact_id), so that a drain
    # can tell which events are final even when transactions commit out of id order.
    txid: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    created_at: Mapped[timestamp]
