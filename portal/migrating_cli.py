"""``portal db``: Flask-Migrate's commands, binding Flask-Migrate first (migrating.py)."""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.migrating import bind_migrate


def _db_group() -> click.Group:
    """Flask-Migrate's ``db`` group, binding Flask-Migrate before any of its commands."""
    from flask_migrate.cli import db as flask_migrate_db

    @with_appcontext
    def bind_then_run(**options: Any) -> None:
        bind_migrate(current_app)
        if flask_migrate_db.callback is not None:  # sets the --directory and -x options
            flask_migrate_db.callback(**options)

    return click.Group(
        name="db",
        commands=flask_migrate_db.commands,
        params=flask_migrate_db.params,
        callback=bind_then_run,
        help=flask_migrate_db.help,
    )


db = _db_group()
