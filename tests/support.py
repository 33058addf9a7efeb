"""Helpers shared by tests across features (import as ``from support import ...``)."""

from __future__ import annotations

import os

import sqlalchemy as sa

from portal.extensions import db

TEST_DB = os.environ.get("PORTAL_TEST_DB", "sqlite")


def count_rows(model: type) -> int:
    """How many rows a model's table holds, as the current session sees it."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
