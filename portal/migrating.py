"""Flask-Migrate, bound to the app only where migrations are used.

Importing Flask-Migrate imports Alembic, about 0.15 s that every ``portal`` command and
web process would pay at start for a tool only ``portal db`` and the database check use.
So ``create_app`` binds it only when it was imported already (the tests, a script that
calls ``flask_migrate.upgrade``); ``portal db`` and ``dbcheck`` bind it on first use.
"""

from __future__ import annotations

from flask import Flask

from portal.config import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def bind_migrate(app: Flask) -> None:
    """Register Flask-Migrate on ``app`` once (SQLite needs batch mode to alter tables)."""
    if "migrate" in app.extensions:
        return
    from flask_migrate import Migrate

    from portal.extensions import db

    Migrate(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
