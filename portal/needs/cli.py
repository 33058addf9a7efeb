"""``portal needs``: upkeep of stored needs."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from portal.extensions import db
from portal.languages.detect import detect_need_language
from portal.needs.models import Need
from portal.organizations.models import Organization

BATCH = 500


@click.group(cls=AppGroup)
def needs() -> None:
    """Needs: detect the language of needs saved before it was stored."""


@needs.command("detect-languages")
@click.option(
    "--all", "redo_all", is_flag=True, help="Detect every need again, not only those without one."
)
def detect_languages_command(redo_all: bool) -> None:
    """Store the language of needs that have none (saved before migration 0018).

    Saving a need detects its language; this fills the rows that existed before, in
    batches committed one by one, so that an interrupted run resumes where it stopped.
    The version and update time do not move: the text did not change.
    """
    rows = sa.select(Need.id, Need.title, Need.description, Organization.country).join(
        Organization, Organization.id == Need.buyer_id
    )
    if not redo_all:
        rows = rows.where(Need.language.is_(None))
    last_id, examined, changed = 0, 0, 0
    while True:
        batch = db.session.execute(
            rows.where(Need.id > last_id).order_by(Need.id).limit(BATCH)
        ).all()
        if not batch:
            break
        updates = []
        for need_id, title, description, country in batch:
            language = detect_need_language(title, description, country)
            if language is not None or redo_all:
                updates.append({"need_id": need_id, "language": language})
        if updates:
            db.session.execute(
                sa.update(Need.__table__)
                .where(Need.__table__.c.id == sa.bindparam("need_id"))
                # updated_at as it was: the column's onupdate would move it
                .values(language=sa.bindparam("language"), updated_at=Need.__table__.c.updated_at),
                updates,
            )
        db.session.commit()
        last_id = batch[-1][0]
        examined += len(batch)
        changed += len(updates)
    click.echo(f"needs examined: {examined}, languages stored: {changed}")
