"""Is the database reachable, and is its schema the one this code needs? Said in one line.

Used when a command fails on a database error: the cause is found by asking (a new
connection, ``SELECT 1``, the Alembic revision against the migrations' head), so that a
newcomer reads "run `portal db upgrade`" instead of 87 lines of traceback.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from portal.extensions import db
from portal.migrating import MIGRATIONS_DIR


def database_label() -> str:
    """The database URL without its password, to name it in a message."""
    return db.engine.url.render_as_string(hide_password=True)


def schema_head() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def diagnose() -> str | None:
    """What is wrong with the database, for a person, or None when nothing is."""
    label = database_label()
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            current = MigrationContext.configure(connection).get_current_revision()
    except sa.exc.DBAPIError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc) else ""
        return (
            f"cannot use the database at {label}: {reason or type(exc).__name__}. "
            "Check PORTAL_DATABASE_URL, and that the database server is running."
        )
    head = schema_head()
    if current is None:
        return (
            f"the database at {label} has no tables yet: "
            "run `portal db upgrade` first, which creates them"
        )
    if current != head:
        return (
            f"the database at {label} has schema revision {current}, this code needs "
            f"{head}: run `portal db upgrade`"
        )
    return None
