"""Helpers shared by tests across features (import as ``from support import ...``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.extensions import db

TEST_DB = os.environ.get("PORTAL_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get("PORTAL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def count_rows(model: type) -> int:
    """How many rows a model's table holds, as the current session sees it."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


@contextmanager
def scratch_database(tmp_path: Path, label: str) -> Iterator[str]:
    """A new, empty database of the run's kind, for a test that migrates or restores one
    without touching the suite's: a file on SQLite, a created-then-dropped database on
    PostgreSQL. Yields its SQLAlchemy URL (psycopg 3, as ``portal.config`` picks)."""
    if TEST_DB == "sqlite":
        yield f"sqlite:///{tmp_path / label}.sqlite"
        return
    name = f"portal_scratch_{label}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base = PG_ADMIN_URL.rpartition("/")[0]
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def add_verified_vendor(session: Session, name: str) -> int:
    """A verified vendor written in ``session`` (not committed): for tests that write from
    a connection of their own, beside the test's session."""
    from portal.organizations.models import Organization, VerificationStatus

    vendor = Organization(
        ref=name.lower().replace(" ", "-"),
        kind="vendor",
        name=name,
        country="US",
        status=VerificationStatus.VERIFIED,
    )
    session.add(vendor)
    session.flush()
    return vendor.id
