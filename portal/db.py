"""The declarative base, shared column types and the SQLite connection settings.

Everything here works the same on SQLite (the embedded default) and PostgreSQL
(production), so feature code never branches on the database.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, mapped_column, registry
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FunctionElement

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> dt.datetime:
    """The current time, timezone-aware in UTC: the only clock models use."""
    return dt.datetime.now(dt.UTC)


def utc_today() -> dt.date:
    return utc_now().date()


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    PostgreSQL keeps the zone itself; SQLite has none, so values are normalised to UTC
    before they are written and tagged as UTC when read.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; use portal.db.utc_now()")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


intpk = Annotated[int, mapped_column(primary_key=True)]
timestamp = Annotated[dt.datetime, mapped_column(UTCDateTime, default=utc_now)]
str_ref = Annotated[str, mapped_column(sa.String(64), unique=True, index=True)]
str200 = Annotated[str, mapped_column(sa.String(200))]
text = Annotated[str, mapped_column(sa.Text, default="")]
code_list = Annotated[list[str], mapped_column(sa.JSON, default=list)]


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={dt.datetime: UTCDateTime},
    )


class json_list_contains(FunctionElement[bool]):
    """``json_list_contains(column, value)``: true when a JSON list column holds ``value``.

    Compiled to ``jsonb @>`` on PostgreSQL and to ``json_each`` on SQLite, so feature
    code filters lists of sector or country codes the same way on both databases.
    """

    type = sa.Boolean()
    inherit_cache = True
    name = "json_list_contains"


@compiles(json_list_contains, "postgresql")
def _contains_pg(element: json_list_contains, compiler: Any, **kw: Any) -> str:
    column, value = list(element.clauses)
    return (
        f"CAST({compiler.process(column, **kw)} AS JSONB) @> "
        f"jsonb_build_array(CAST({compiler.process(value, **kw)} AS TEXT))"
    )


@compiles(json_list_contains, "sqlite")
def _contains_sqlite(element: json_list_contains, compiler: Any, **kw: Any) -> str:
    column, value = list(element.clauses)
    # Both parts are compiled SQL elements (a column and a bound parameter), never text,
    # so the string building that ruff (S608) and bandit (B608) warn of injects nothing.
    return (
        f"EXISTS (SELECT 1 FROM json_each({compiler.process(column, **kw)}) "  # noqa: S608 # nosec B608
        f"WHERE json_each.value = {compiler.process(value, **kw)})"
    )


def list_contains(column: Any, value: str) -> ColumnElement[bool]:
    return json_list_contains(column, sa.literal(value, sa.String))


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL, foreign keys and a busy timeout on every SQLite connection.

    The driver's own transaction handling is switched off so that SQLAlchemy emits
    ``BEGIN IMMEDIATE`` itself (see ``_begin_sqlite``): SAVEPOINTs then work, and two
    writers queue behind the busy timeout instead of failing on a lock upgrade.
    """
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# An execution option for a connection that only reads: on SQLite its transactions begin
# DEFERRED, so that it reads beside a writer (WAL) instead of queueing behind it.
READ_ONLY = "portal_read_only"


@event.listens_for(Engine, "begin")
def _begin_sqlite(connection: sa.Connection) -> None:
    if connection.dialect.name == "sqlite":
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


# An import at least this large refreshes the query planner's statistics.
BULK_ROWS = 1000


def refresh_planner_statistics(session: Any) -> None:
    """Tell the database what a bulk load changed, and commit.

    After ``portal import`` of 20,000 vendors into a fresh PostgreSQL database the
    planner still believed the tables empty: looking up a lead's 25 vendors by id walked
    the (kind, status, name) index over every vendor (16 ms instead of 0.15 ms, about
    half of a need's leads time at 100,000). Autovacuum would analyse them eventually, or
    never where it is off; an import should leave the planner right. SQLite's ANALYZE is
    bounded by ``analysis_limit`` so that it reads a sample, not every row.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sa.text("PRAGMA analysis_limit=1000"))
    session.execute(sa.text("ANALYZE"))
    session.commit()
