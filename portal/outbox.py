"""The outbox every derived store follows: one event per change to a vendor, buyer or need.

A change to something searchable or rankable writes an event in the same transaction as
the change; after the commit, each follower (the search index, the leads engine, the
worker's sentence-vector queue, lead alerts) reads the events past its own ``Position``
and brings its derived data up to date from the records' current state. Events carry no
content, so applying one twice, or out of order, gives the same result; a rolled-back
change leaves no event.

The followers import this module and never each other: search does not know about leads,
and leads do not read the search index's state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.after_commit import CommitMark
from portal.bulk import unnested
from portal.db import UTCDateTime, timestamp, utc_now
from portal.extensions import PortalSession, db
from portal.needs.models import Need
from portal.organizations.models import Capability, Organization

Event = tuple[int, str, int]  # (event id, kind: "vendor" | "buyer" | "need", record id)


class IndexEvent(db.Model):
    """ "Record ``kind``/``record_id`` may have changed": written in the same transaction
    as the change, read by every follower after the commit (the table keeps its first
    name, from when search was its only follower)."""

    __tablename__ = "index_events"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16))
    record_id: Mapped[int]
    # PostgreSQL: the id of the writing transaction (pg_current_xact_id), so that a
    # follower can tell which events are final even when transactions commit out of order.
    txid: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    created_at: Mapped[timestamp]


# -- writing ------------------------------------------------------------------------

CURRENT_TXID = sa.literal_column("pg_current_xact_id()::text::bigint", sa.BigInteger)
# Set in a transaction that wrote events; taken after its commit (search applies them at
# the end of the request).
EVENTS_WRITTEN = CommitMark("outbox.events")
_RECORDED = "portal.outbox.recorded"


def affected_records(obj: Any) -> Iterable[tuple[str, int]]:
    """The (kind, record id) pairs whose derived data may change with ``obj``."""
    if isinstance(obj, Organization) and obj.id is not None:
        yield (obj.kind, obj.id)
    elif isinstance(obj, Capability) and obj.organization_id is not None:
        yield ("vendor", obj.organization_id)
    elif isinstance(obj, Need) and obj.id is not None:
        yield ("need", obj.id)


def record_events(session: Session, records: Iterable[tuple[str, int]]) -> int:
    """Insert one event per record, on the session's connection and transaction. Bulk
    writers that bypass the ORM call this themselves; ORM flushes are caught below.

    A record already recorded in this transaction is not recorded again: followers read
    its state after the commit, so one event per transaction is enough.
    """
    recorded: set[tuple[str, int]] = session.info.setdefault(_RECORDED, set())
    now = utc_now()
    rows = []
    for kind, record_id in dict.fromkeys(records):
        if (kind, record_id) not in recorded:
            recorded.add((kind, record_id))
            rows.append({"kind": kind, "record_id": record_id, "created_at": now})
    if rows:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            # One statement, its rows as two arrays, whatever their number (an import
            # writes a thousand at a time: as VALUES, a placeholder per value).
            source = unnested(IndexEvent.__table__, rows, ("kind", "record_id"))
            source = source.add_columns(CURRENT_TXID, sa.literal(now, UTCDateTime(timezone=True)))
            columns = ["kind", "record_id", "txid", "created_at"]
            connection.execute(sa.insert(IndexEvent).from_select(columns, source))
        else:
            connection.execute(sa.insert(IndexEvent), rows)
        EVENTS_WRITTEN.mark(session)
    return len(rows)


@event.listens_for(PortalSession, "after_flush")
def _capture_changes(session: Session, flush_context: Any) -> None:
    # In after_flush new objects have their ids while new/dirty/deleted still describe
    # what was flushed; Core inserts are allowed here, ORM adds are not.
    records: list[tuple[str, int]] = []
    for obj in chain(session.new, session.dirty, session.deleted):
        if obj in session.dirty and not session.is_modified(obj, include_collections=False):
            continue
        records.extend(affected_records(obj))
    if records:
        record_events(session, records)


@event.listens_for(PortalSession, "after_commit")
@event.listens_for(PortalSession, "after_soft_rollback")
def _forget_recorded(session: Session, *_: Any) -> None:
    # After a commit, a new transaction records afresh; after any rollback, SAVEPOINT
    # included, the rolled-back events are gone, so they must be recorded again.
    session.info.pop(_RECORDED, None)


# -- following ----------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """How far a follower has read the outbox.

    ``last_event`` is the highest event id applied. ``horizon`` is the PostgreSQL
    transaction-id horizon below which every event has been applied (0 on SQLite, where
    writers are serialised and event ids alone are enough).
    """

    last_event: int = 0
    horizon: int = 0


def events_since(position: Position) -> tuple[list[Event], Position]:
    """Events a follower at ``position`` has not applied, and where it stands once it has."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # Every transaction older than the snapshot's xmin has finished, so the events
        # below that horizon are final. Committed events above it are returned now too
        # (no waiting behind a long transaction) and again until the horizon passes
        # them, which is harmless: applying an event is idempotent.
        horizon = connection.execute(
            sa.text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        ).scalar_one()
        rows = connection.execute(
            sa.select(IndexEvent.id, IndexEvent.kind, IndexEvent.record_id)
            .where(IndexEvent.txid >= position.horizon)
            .order_by(IndexEvent.id)
        ).all()
        last = max([position.last_event, *(r[0] for r in rows)])
        return [tuple(r) for r in rows], Position(last, max(horizon, position.horizon))
    rows = connection.execute(
        sa.select(IndexEvent.id, IndexEvent.kind, IndexEvent.record_id)
        .where(IndexEvent.id > position.last_event)
        .order_by(IndexEvent.id)
    ).all()
    last = rows[-1][0] if rows else position.last_event
    return [tuple(r) for r in rows], Position(last, 0)


def latest_event_id() -> int:
    """The newest event's id (0 when there is none): a cheap "has anything changed"."""
    return int(db.session.scalar(sa.select(sa.func.max(IndexEvent.id))) or 0)
