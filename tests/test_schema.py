"""The schema built by the migrations is exactly what the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from portal.extensions import db


def test_models_and_migrations_agree(app: Flask) -> None:
    connection = db.session.connection()
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_error_pages_use_the_portal_look(client) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert b"We could not find that page" in response.data
    assert b"Smart Cities" in response.data
