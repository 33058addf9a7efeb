"""Backup and restore, as docs/deploy.md tells an operator to do them.

A portal with the demo data is built in a scratch database of its own (the migrations,
then ``portal demo``), and restored two ways into fresh databases:

- ``portal export`` then ``portal import`` into a database built by the migrations: the
  restored portal exports the same file, and an index rebuilt from it answers the same
  searches as the original's;
- a full copy of the database (``pg_dump``/``pg_restore`` on PostgreSQL, SQLite's online
  backup on SQLite): every row of every table is the same, accounts included.

The scratch databases are created and dropped here; the suite's database is not touched.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from separate_app import separate_app
from support import TEST_DB, scratch_database

from portal.extensions import db
from portal.organizations.models import Organization, VerificationStatus
from portal.search.queries import SearchFilters, search

SEARCHES = [
    ("", SearchFilters()),
    ("flood sensors", SearchFilters()),
    ("water", SearchFilters(kind="need")),
    ("traffic signals", SearchFilters()),
    ("smart", SearchFilters(kind="vendor")),
    ("energy grid", SearchFilters()),
    ("waste", SearchFilters(country="VN")),
]


def _cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _searches(app: Flask) -> list[tuple[int, list[tuple[str, str, float]], dict]]:
    """Each search's total, facets and hits with their scores; the order of hits with
    equal scores follows the order documents were written in, so hits are compared sorted."""
    with app.app_context():
        return [
            (
                results.total,
                sorted((hit.kind, hit.record.ref, round(hit.score, 6)) for hit in results.hits),
                results.facets,
            )
            for results in (search(text, filters, page_size=200) for text, filters in SEARCHES)
        ]


def _all_rows(app: Flask) -> dict[str, list[tuple]]:
    with app.app_context():
        tables = [*db.metadata.sorted_tables, sa.table("alembic_version", sa.column("version_num"))]
        with db.engine.connect() as connection:
            return {
                table.name: sorted(
                    (tuple(row) for row in connection.execute(sa.select(table))), key=repr
                )
                for table in tables
            }


@pytest.fixture
def original(_app: Flask, tmp_path: Path) -> Iterator[Flask]:
    """A portal on a scratch database: built by the migrations, with the demo data."""
    with (
        scratch_database(tmp_path, "original") as url,
        separate_app(_app, tmp_path / "index-original", SQLALCHEMY_DATABASE_URI=url) as app,
    ):
        with app.app_context():
            upgrade()
        _cli(app, "demo")
        yield app


def test_export_then_import_into_a_fresh_database_restores_the_portal(
    _app: Flask, original: Flask, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.jsonl"
    _cli(original, "export", str(backup))
    assert backup.stat().st_size > 0

    with ExitStack() as stack:
        url = stack.enter_context(scratch_database(tmp_path, "restored"))
        restored = stack.enter_context(
            separate_app(_app, tmp_path / "index-restored", SQLALCHEMY_DATABASE_URI=url)
        )
        with restored.app_context():
            upgrade()
        _cli(restored, "import", str(backup))
        again = tmp_path / "again.jsonl"
        _cli(restored, "export", str(again))
        assert again.read_bytes() == backup.read_bytes()

        # The exchange format carries no verification state: imported organizations are
        # verified (docs/deploy.md), so the demo's organizations still waiting for staff
        # are public in the restored portal. Verified in the original too, each node's
        # index, derived and rebuilt, answers exactly as the other's does.
        with original.app_context():
            db.session.execute(
                sa.update(Organization)
                .where(Organization.status == VerificationStatus.PENDING)
                .values(status=VerificationStatus.VERIFIED)
            )
            db.session.commit()
        _cli(original, "index", "rebuild", "--procs", "1", "--no-progress")
        _cli(restored, "index", "rebuild", "--procs", "1", "--no-progress")
        original_answers = _searches(original)
        assert any(total for total, _, _ in original_answers[1:])  # the searches find things
        assert _searches(restored) == original_answers


def _libpq_url(url: str) -> str:
    """A SQLAlchemy URL as pg_dump and pg_restore take it (no ``+psycopg``)."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _full_copy(source: str, target: str, tmp_path: Path) -> None:
    """What docs/deploy.md does: pg_dump -Fc / pg_restore, or SQLite's online backup."""
    if TEST_DB == "sqlite":
        with (
            sqlite3.connect(source.removeprefix("sqlite:///")) as src,
            sqlite3.connect(target.removeprefix("sqlite:///")) as dst,
        ):
            src.backup(dst)
        return
    dump = tmp_path / "portal.dump"
    source, target = _libpq_url(source), _libpq_url(target)
    pg_dump, pg_restore = shutil.which("pg_dump"), shutil.which("pg_restore")
    assert pg_dump and pg_restore, "the PostgreSQL client tools are needed"
    subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [pg_dump, "--format=custom", "--no-owner", f"--file={dump}", f"--dbname={source}"],
        check=True,
        capture_output=True,
    )
    subprocess.run(  # noqa: S603
        [pg_restore, "--no-owner", "--exit-on-error", f"--dbname={target}", str(dump)],
        check=True,
        capture_output=True,
    )


def test_a_full_database_copy_restores_every_row(
    _app: Flask, original: Flask, tmp_path: Path
) -> None:
    source = original.config["SQLALCHEMY_DATABASE_URI"]
    with ExitStack() as stack:
        target = stack.enter_context(scratch_database(tmp_path, "copy"))
        _full_copy(source, target, tmp_path)
        copy = stack.enter_context(
            separate_app(_app, tmp_path / "index-copy", SQLALCHEMY_DATABASE_URI=target)
        )
        original_rows = _all_rows(original)
        assert original_rows["users"] and original_rows["organizations"]
        assert _all_rows(copy) == original_rows
        _cli(copy, "index", "rebuild", "--procs", "1", "--no-progress")
        _cli(original, "index", "rebuild", "--procs", "1", "--no-progress")
        assert _searches(copy) == _searches(original)
