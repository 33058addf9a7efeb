"""The importer's bulk inserts (COPY on PostgreSQL) write what an INSERT would have."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.db import utc_now
from portal.exchange.bulk import insert_rows
from portal.extensions import db
from portal.organizations.models import Capability, Organization

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
