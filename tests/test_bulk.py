"""Bulk statements (COPY, arrays of values on PostgreSQL) write and find what an INSERT and
an IN list would have."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from flask import Flask
from support import TEST_DB

from portal.bulk import ROWS_PER_UPSERT, insert_rows, one_of, unnested, upsert_rows
from portal.db import utc_now
from portal.extensions import db
from portal.matching.models import LeadAnalysis, LeadVectorWork
from portal.organizations.models import Capability, Organization
from portal.outbox import IndexEvent, record_events

_organizations = Organization.__table__
_capabilities = Capability.__table__


def _organization_row(ref: str, now: dt.datetime) -> dict[str, object]:
    return {
        "ref": ref,
        "kind": "vendor",
        "name": f"Vendor {ref}",
        "country": "TH",
        "summary": "tab\there, a backslash \\ and a new\nline",
        "sectors": ["energy", "water"],
        "markets": [],
        "status": "verified",
        "verified_at": now,
        "created_at": now,
        "updated_at": now,
    }


def test_rows_come_back_with_their_ids_and_the_columns_defaults(app: Flask) -> None:
    now = utc_now()
    ids = insert_rows(
        db.session, _organizations, [_organization_row(r, now) for r in ("b-1", "b-2")], key="ref"
    )
    assert sorted(ids) == ["b-1", "b-2"]
    assert ids["b-1"] < ids["b-2"]
    insert_rows(
        db.session,
        _capabilities,
        [{"organization_id": ids["b-2"], "title": "Solar", "description": "", "sectors": []}],
    )
    first = db.session.get(Organization, ids["b-1"])
    assert first is not None
    assert first.ref == "b-1"
    assert first.summary == "tab\there, a backslash \\ and a new\nline"
    assert (first.sectors, first.markets) == (["energy", "water"], [])
    assert first.verified_at == now and first.verified_at.tzinfo is not None
    # left out of the rows: filled as SQLAlchemy would have (Python defaults)
    assert (first.city, first.website, first.rejection_reason) == ("", "", "")
    assert (first.version, first.edited_by, first.edited_at) == (1, "", None)
    second = db.session.get(Organization, ids["b-2"])
    assert second is not None
    assert [(c.title, c.position, c.version) for c in second.capabilities] == [("Solar", 0, 1)]

    # the sequence moved on with the ids drawn: the next ORM insert does not collide
    later = Organization(ref="b-3", kind="vendor", name="Later", country="TH")
    db.session.add(later)
    db.session.flush()
    assert later.id > ids["b-2"]


def test_a_duplicate_ref_raises_sqlalchemys_integrity_error(app: Flask) -> None:
    now = utc_now()
    insert_rows(db.session, _organizations, [_organization_row("dup", now)], key="ref")
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        insert_rows(db.session, _organizations, [_organization_row("dup", now)], key="ref")
    assert insert_rows(db.session, _organizations, []) == {}


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def test_one_of_finds_what_an_in_list_finds(app: Flask) -> None:
    now = utc_now()
    ids = insert_rows(
        db.session,
        _organizations,
        [_organization_row(r, now) for r in ("o-1", "o-2", "o-3")],
        key="ref",
    )
    by_ref = sa.select(_organizations.c.ref).where(
        one_of(_dialect(), _organizations.c.ref, ["o-1", "o-3", "o-9"])
    )
    assert sorted(db.session.scalars(by_ref)) == ["o-1", "o-3"]
    by_id = sa.select(_organizations.c.ref).where(
        one_of(_dialect(), _organizations.c.id, {ids["o-2"]})
    )
    assert list(db.session.scalars(by_id)) == ["o-2"]
    nothing = sa.select(_organizations.c.ref).where(one_of(_dialect(), _organizations.c.ref, []))
    assert list(db.session.scalars(nothing)) == []


@pytest.mark.skipif(TEST_DB != "postgresql", reason="rows as arrays are PostgreSQL's (unnest)")
def test_rows_selected_from_arrays_come_back_in_order_with_their_types(app: Flask) -> None:
    table = LeadVectorWork.__table__
    stamp = dt.datetime(2026, 12, 5, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    rows = [{"kind": "vendor", "record_id": 7, "enqueued_at": stamp}]
    rows += [{"kind": "need", "record_id": 3, "enqueued_at": stamp}]
    selected = db.session.execute(unnested(table, rows, ("kind", "record_id", "enqueued_at")))
    assert [tuple(row) for row in selected] == [("vendor", 7, stamp), ("need", 3, stamp)]


def test_events_recorded_in_bulk_carry_their_transaction(app: Flask) -> None:
    before = db.session.scalar(sa.select(sa.func.count()).select_from(IndexEvent)) or 0
    assert (
        record_events(db.session, [("vendor", i) for i in range(1, 2501)] + [("need", 5)]) == 2501
    )
    assert record_events(db.session, [("vendor", 7)]) == 0  # recorded already
    events = db.session.execute(
        sa.select(IndexEvent.kind, IndexEvent.record_id, IndexEvent.txid, IndexEvent.created_at)
        .order_by(IndexEvent.id)
        .offset(before)
    ).all()
    assert [(kind, record) for kind, record, _, _ in events] == [
        *(("vendor", i) for i in range(1, 2501)),
        ("need", 5),
    ]
    assert len({created for _, _, _, created in events}) == 1
    assert events[0].created_at.tzinfo is not None
    txids = {txid for _, _, txid, _ in events}
    if TEST_DB == "postgresql":
        current = db.session.scalar(sa.text("SELECT pg_current_xact_id()::text::bigint"))
        assert txids == {current}
    else:
        assert txids == {None}


def test_an_upsert_adds_new_rows_and_replaces_the_rest_of_existing_ones(app: Flask) -> None:
    """Across several statements: the stored analyses and vectors are written this way."""
    table = LeadAnalysis.__table__
    then, now = utc_now() - dt.timedelta(days=1), utc_now()

    def row(record_id: int, recipe: str, at: dt.datetime) -> dict[str, object]:
        return {
            "kind": "vendor",
            "record_id": record_id,
            "fingerprint": -record_id,
            "recipe": recipe,
            "terms": b"t",
            "concepts": b"",
            "computed_at": at,
        }

    upsert_rows(db.session, table, [row(i, "old", then) for i in (1, 2)], key=("kind", "record_id"))
    count = ROWS_PER_UPSERT + 3  # more than one statement
    upsert_rows(
        db.session,
        table,
        [row(i, "new", now) for i in range(2, 2 + count)],
        key=("kind", "record_id"),
    )
    upsert_rows(db.session, table, [], key=("kind", "record_id"))  # nothing to write
    stored = dict(db.session.execute(sa.select(table.c.record_id, table.c.recipe)).all())
    assert len(stored) == 1 + count
    assert stored[1] == "old" and stored[2] == "new" and stored[1 + count] == "new"
    assert db.session.get(LeadAnalysis, ("vendor", 2)).computed_at == now
