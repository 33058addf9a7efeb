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
from portal.bulk import insert_unnested
from portal.db import timestamp, utc_now
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
            table = IndexEvent.__table__
            columns = ("kind", "record_id")
            connection.execute(
                insert_unnested(table, rows, columns, txid=CURRENT_TXID, created_at=now)
            )
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

    ``last_event`` is the highest event id applied. On PostgreSQL, where transactions
    commit out of id order, ``horizon`` is the transaction id below which every event has
    been applied, and ``seen`` the snapshot (``pg_current_snapshot()``, as text) the last
    read was made at: the events of every transaction it shows as finished were read
    then. Both stay empty (0, "") on SQLite, where writers are serialised and event ids
    alone are enough.
    """

    last_event: int = 0
    horizon: int = 0
    seen: str = ""


def events_since(position: Position) -> tuple[list[Event], Position]:
    """Events a follower at ``position`` has not applied, and where it stands once it has."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        return _pg_events_since(connection, position)
    rows = connection.execute(
        sa.select(IndexEvent.id, IndexEvent.kind, IndexEvent.record_id)
        .where(IndexEvent.id > position.last_event)
        .order_by(IndexEvent.id)
    ).all()
    last = rows[-1][0] if rows else position.last_event
    return [tuple(r) for r in rows], Position(last, 0)


_NOT_SEEN = sa.text(
    "NOT pg_visible_in_snapshot(index_events.txid::text::xid8, CAST(:seen AS pg_snapshot))"
)
_SNAPSHOT = sa.text(
    "SELECT pg_current_snapshot()::text, pg_current_xact_id_if_assigned()::text::bigint"
)


def _pg_events_since(connection: sa.Connection, position: Position) -> tuple[list[Event], Position]:
    # Events may commit in any order, so no event id says "everything before is final".
    # The snapshot taken here, before the events are read, does: the events of every
    # transaction it shows as finished are in what the query below reads (a later
    # statement's snapshot shows at least as much), and those of a transaction still in
    # progress at that moment (or begun after) are not, whatever their ids. The next read
    # passes over the first and returns the second, so an event is applied once even
    # while some unrelated transaction stays open for hours (its xmin, the horizon,
    # stays behind it: the horizon only bounds the scan). Events committed between the
    # snapshot and the query come back once more next time: harmless, applying is
    # idempotent.
    snapshot, own = connection.execute(_SNAPSHOT).one()
    # The reader's own transaction, if it wrote events, is not "in progress" in its own
    # snapshot; it may write more after this read, so it is counted as in progress.
    seen = _with_in_progress(snapshot, own)
    query = (
        sa.select(IndexEvent.id, IndexEvent.kind, IndexEvent.record_id)
        .where(IndexEvent.txid >= position.horizon)
        .order_by(IndexEvent.id)
    )
    if position.seen:
        query = query.where(_NOT_SEEN.bindparams(seen=position.seen))
    rows = connection.execute(query).all()
    last = max([position.last_event, *(r[0] for r in rows)])
    horizon = int(seen.split(":", 1)[0])
    return [tuple(r) for r in rows], Position(last, max(horizon, position.horizon), seen)


def _with_in_progress(snapshot: str, txid: int | None) -> str:
    """``snapshot`` (``xmin:xmax:xip,...``) with ``txid`` among those in progress (a
    transaction id at or past ``xmax`` is in progress already, and never listed)."""
    xmin, xmax, listed = snapshot.split(":")
    if txid is None or txid >= int(xmax):
        return snapshot
    running = {int(x) for x in listed.split(",") if x} | {txid}
    return f"{min(int(xmin), txid)}:{xmax}:{','.join(str(x) for x in sorted(running))}"


def latest_event_id() -> int:
    """The newest event's id (0 when there is none): a cheap "has anything changed"."""
    return int(db.session.scalar(sa.select(sa.func.max(IndexEvent.id))) or 0)
