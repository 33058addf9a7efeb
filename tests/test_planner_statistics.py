"""A bulk import leaves the query planner's statistics right (``refresh_planner_statistics``)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from portal.db import refresh_planner_statistics
from portal.extensions import db
from portal.organizations.models import Organization


def _vendors(count: int) -> None:
    db.session.add_all(
        Organization(ref=f"bulk-{i}", kind="vendor", name=f"Bulk {i}", country="US")
        for i in range(count)
    )
    db.session.commit()


def test_after_a_bulk_load_the_planner_knows_the_tables(committing_app: Flask) -> None:
    _vendors(300)
    refresh_planner_statistics(db.session)
    if db.engine.dialect.name == "postgresql":
        # -1 (never analysed) until ANALYZE counts the rows; updated in the transaction
        rows = db.session.scalar(
            sa.text("SELECT reltuples FROM pg_class WHERE relname = 'organizations'")
        )
        assert rows == 300
    else:
        stats = db.session.execute(
            sa.text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'organizations'")
        ).all()
        assert stats  # the planner has row counts for the table's indexes
        assert any(stat.startswith("300") for (stat,) in stats)
