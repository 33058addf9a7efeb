"""Revision 0022 (a follow update keeps what happened as ``details``), down and up on a
database of its own: an update written at the head keeps its English summary when the
revision is undone, and once it is done again the row has no details and shows that
summary as written, as every row written before the revision does."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_babel import force_locale
from flask_migrate import downgrade, upgrade
from follows.follow_factories import make_scene
from separate_app import separate_app
from support import scratch_database

from portal.extensions import db
from portal.follows import services
from portal.follows.models import FollowUpdate
from portal.follows.updates import update_lines
from portal.notices.amendments import amend

WRITTEN = "Amendment 1: Closing date: 2026-03-10 -> 2026-03-24\nMore time for site visits."


def _columns() -> set[str]:
    return {column["name"] for column in sa.inspect(db.engine).get_columns("follow_updates")}


def test_0022_goes_down_and_up_and_every_update_stays_readable(_app: Flask, tmp_path: Path) -> None:
    with (
        scratch_database(tmp_path, "0022") as url,
        separate_app(_app, tmp_path / "index", SQLALCHEMY_DATABASE_URI=url) as app,
        app.app_context(),
    ):
        upgrade()
        scene = make_scene()
        services.follow(scene.member, scene.need)
        db.session.commit()
        amend(
            scene.need,
            [{"field": "closes_on", "old": "2026-03-10", "new": "2026-03-24"}],
            note="More time for site visits.",
        )
        db.session.commit()
        [row] = db.session.scalars(sa.select(FollowUpdate)).all()
        assert row.summary == WRITTEN and row.details is not None
        db.session.remove()

        downgrade(revision="0021")
        assert "details" not in _columns()
        kept = db.session.execute(sa.text("SELECT kind, summary FROM follow_updates")).all()
        assert [tuple(r) for r in kept] == [("amendment", WRITTEN)]
        db.session.remove()

        upgrade()
        assert "details" in _columns()
        [row] = db.session.scalars(sa.select(FollowUpdate)).all()
        assert row.details is None
        with force_locale("vi"):
            assert update_lines(row) == WRITTEN.splitlines()
        db.session.remove()
