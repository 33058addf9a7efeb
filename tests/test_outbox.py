"""A follower's position: what it has read is not read again, what it has not read is.

On PostgreSQL a transaction left open anywhere on the server holds every position's
horizon back; the snapshot a position keeps (``Position.seen``) is what spares the
followers the events they applied already, and must never hide one committed later.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session
from support import TEST_DB, add_verified_vendor
from whoosh import index as whoosh_index

from portal.extensions import PortalSession, db
from portal.matching.store.queue import feed_vector_queue
from portal.outbox import Position, events_since
from portal.search.index import IndexStore, read_state
from portal.search.schema import STATE_DOC_ID, make_schema
from portal.search.sync import apply_pending_events

only_postgresql = pytest.mark.skipif(
    TEST_DB != "postgresql", reason="SQLite has one writer: event ids alone are exact"
)


@pytest.fixture
def sessions(committing_app: Flask) -> Iterator[tuple[Session, Session]]:
    """Two more connections: one holds a transaction open (with a transaction id, as a
    session that wrote something and went idle would) for the whole test; the other is
    free for a transaction in flight."""
    factory = db._make_session_factory({"class_": PortalSession})
    holder, late = factory(), factory()
    holder.execute(sa.text("SELECT pg_current_xact_id()"))
    try:
        yield holder, late
    finally:
        holder.close()
        late.close()


def named(events: list[tuple[int, str, int]]) -> list[tuple[str, int]]:
    return [(kind, record) for _, kind, record in events]


@only_postgresql
def test_a_second_read_behind_an_open_transaction_returns_only_what_is_new(
    sessions: tuple[Session, Session],
) -> None:
    _, late = sessions
    first = add_verified_vendor(db.session, "First Vendor")
    db.session.commit()
    events, position = events_since(Position())
    assert named(events) == [("vendor", first)]
    assert position.seen  # and its horizon is held back by the open transaction
    db.session.commit()

    in_flight = add_verified_vendor(late, "Late Vendor")  # its event is written, not committed
    events, position = events_since(position)
    assert events == []  # the first vendor's event is not read again
    db.session.commit()

    late.commit()  # committed after the read above: it must not be passed over
    second = add_verified_vendor(db.session, "Second Vendor")
    db.session.commit()
    events, position = events_since(position)
    assert sorted(named(events)) == [("vendor", in_flight), ("vendor", second)]
    db.session.commit()
    assert events_since(position)[0] == []


@only_postgresql
def test_a_drain_behind_an_open_transaction_applies_each_event_once(
    sessions: tuple[Session, Session],
) -> None:
    _, late = sessions
    shown = add_verified_vendor(db.session, "Shown Vendor")
    db.session.commit()
    assert (apply_pending_events().events, apply_pending_events().events) == (1, 0)
    db.session.commit()

    in_flight = add_verified_vendor(late, "Late Vendor")
    report = apply_pending_events()  # the late vendor's transaction is still running
    db.session.commit()
    assert (report.events, report.updated) == (0, 0)

    late.commit()
    report = apply_pending_events()
    db.session.commit()
    assert (report.events, report.updated) == (1, 1)
    assert apply_pending_events().events == 0
    db.session.commit()
    with IndexStore.from_app().open().searcher() as searcher:
        assert searcher.document(doc_id=f"vendor:{shown}") is not None
        assert searcher.document(doc_id=f"vendor:{in_flight}") is not None


@only_postgresql
def test_the_vector_queue_is_fed_each_event_once_behind_an_open_transaction(
    sessions: tuple[Session, Session],
) -> None:
    _, late = sessions
    add_verified_vendor(db.session, "Shown Vendor")
    db.session.commit()
    assert feed_vector_queue() >= 1
    assert feed_vector_queue() == 0  # the events read before are not queued again

    in_flight = add_verified_vendor(late, "Late Vendor")
    assert feed_vector_queue() == 0
    late.commit()
    assert feed_vector_queue() == 1
    queued = db.session.execute(sa.text("SELECT kind, record_id FROM lead_vector_work"))
    assert ("vendor", in_flight) in set(map(tuple, queued))
    assert feed_vector_queue() == 0


def test_an_index_built_before_positions_kept_a_snapshot_takes_one_on_its_next_drain(
    committing_app: Flask,
) -> None:
    """A live generation whose schema has no ``seen`` field (built by an earlier version)
    is drained without a rebuild, and keeps the snapshot from then on."""
    store = IndexStore.from_app()
    building, _ = store.new_generation(Position())
    schema = make_schema()
    schema.remove("seen")
    older = whoosh_index.create_in(building, schema)  # empties the folder's index
    with older.writer() as writer:
        writer.update_document(doc_id=STATE_DOC_ID, kind="__state__", last_event=0, horizon=0)
    store.make_live(store.finish_generation(building))

    vendor = add_verified_vendor(db.session, "Old Index Vendor")
    db.session.commit()
    report = apply_pending_events()
    assert (report.events, report.updated) == (1, 1)
    with store.open().searcher() as searcher:
        assert searcher.document(doc_id=f"vendor:{vendor}") is not None
        state = read_state(searcher)
    assert bool(state.seen) == (TEST_DB == "postgresql")
    assert apply_pending_events().events == 0
