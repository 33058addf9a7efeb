"""Bulk statements: ``COPY`` on PostgreSQL, an executemany INSERT elsewhere; a set of rows
or of values as one array parameter each on PostgreSQL, where a statement would
otherwise carry a placeholder per value.

On PostgreSQL an INSERT of a thousand rows goes out as one statement with a placeholder
per value (SQLAlchemy's "insertmanyvalues"), which psycopg parses afresh every time (it
caches no statement that long) and the server parses and plans again: at 20,000 vendors
that was 5 of the 6 seconds of writing the organizations, their capabilities and
contacts, against 1.5 s for the same rows on SQLite. ``COPY`` streams the rows instead.
Rows that must return their ids get them from the table's sequence first, one
``nextval`` per row as the INSERT would have drawn, so the ids, the sequence and every
value written are the same either way.

Values go through the columns' own bind processors (timestamps normalised to UTC, JSON
lists wrapped for psycopg) and the columns the rows leave out get their Python-side
defaults, as SQLAlchemy would give them; a database error is raised as SQLAlchemy's
(``IntegrityError`` for a duplicate ref, say), as from ``session.execute``.

What ``COPY`` cannot do (an upsert, a value the server computes per statement) takes the
rows as one array per column instead (``unnested``, ``insert_unnested``): the statement's
text is the same whatever the number of rows. Lookups by a list of values (``one_of``)
take the list as one array too. SQLite gets the statements it always had.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def insert_rows(
    session: Session, table: sa.Table, rows: Sequence[dict[str, Any]], *, key: str | None = None
) -> dict[Any, int]:
    """Insert ``rows`` (dicts with the same keys) into ``table``, in the session's
    transaction; with ``key``, return ``{row[key]: new id}``."""
    if not rows:
        return {}
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        if key is None:
            session.execute(sa.insert(table), rows)
            return {}
        statement = sa.insert(table).returning(table.c[key], table.c.id)
        return dict(session.execute(statement, rows).all())
    return _copy_rows(connection, table, rows, key)


ROWS_PER_UPSERT = 500  # rows per executemany upsert: well under SQLite's bound parameters


def upsert_rows(
    session: Session, table: sa.Table, rows: Sequence[dict[str, Any]], key: Sequence[str]
) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table``, replacing every other
    column of a row whose ``key`` columns are already there (``ON CONFLICT DO UPDATE``, which
    both databases we run on can say), ``ROWS_PER_UPSERT`` rows a statement."""
    if not rows:
        return
    dialect = session.connection().dialect.name
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    replaced = [column for column in rows[0] if column not in key]
    statement = statement.on_conflict_do_update(
        index_elements=list(key),
        set_={column: statement.excluded[column] for column in replaced},
    )
    for start in range(0, len(rows), ROWS_PER_UPSERT):
        session.execute(statement, rows[start : start + ROWS_PER_UPSERT])


def _copy_rows(
    connection: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]], key: str | None
) -> dict[Any, int]:
    dialect = connection.dialect
    given = list(rows[0])
    defaults = _python_defaults(table, given)
    columns = given + list(defaults)
    ids: list[int] = []
    if key is not None:
        ids = _next_ids(connection, table, len(rows))
        columns = ["id", *columns]
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in columns]
    names = ", ".join(dialect.identifier_preparer.quote(name) for name in columns)
    statement = f"COPY {dialect.identifier_preparer.format_table(table)} ({names}) FROM STDIN"
    import psycopg  # the PostgreSQL driver; only this path needs it

    raw = connection.connection.dbapi_connection
    assert raw is not None
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for number, row in enumerate(rows):
                values = [row[name] for name in given]
                values += [make() for make in defaults.values()]
                if key is not None:
                    values.insert(0, ids[number])
                copy.write_row(
                    [
                        value if process is None else process(value)
                        for process, value in zip(processors, values, strict=True)
                    ]
                )
    except psycopg.Error as exc:
        raise sa.exc.DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
    if key is None:
        return {}
    return {row[key]: ids[number] for number, row in enumerate(rows)}


def _python_defaults(table: sa.Table, given: list[str]) -> dict[str, Callable[[], Any]]:
    """The columns that ``given`` leaves out and SQLAlchemy would fill in Python, each
    with a function giving its value (the server fills the rest: ids, server defaults)."""
    defaults: dict[str, Callable[[], Any]] = {}
    for column in table.columns:
        default = column.default
        if column.name in given or column.primary_key or default is None:
            continue
        if default.is_scalar:
            value = default.arg  # type: ignore[attr-defined]
            defaults[column.name] = lambda value=value: value
        elif default.is_callable:
            call = default.arg  # type: ignore[attr-defined]
            defaults[column.name] = lambda call=call: call(None)
        else:  # a SQL expression or a sequence: not something COPY can send
            raise ValueError(f"{table.name}.{column.name}: a default COPY cannot apply")
    return defaults


def _next_ids(connection: sa.Connection, table: sa.Table, count: int) -> list[int]:
    """``count`` new ids from the sequence behind ``table.id``, in the order drawn."""
    query = sa.text(
        "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"
    )
    return sorted(connection.execute(query, {"table": table.name, "count": count}).scalars())


def one_of(
    dialect: str, column: sa.ColumnElement[Any], values: Iterable[Any]
) -> sa.ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``column = ANY(:array)``, one parameter
    whatever the number of values (an IN list is a placeholder per value, each statement
    text new to psycopg and to the server's parser)."""
    values = list(values)
    if dialect != "postgresql":
        return column.in_(values)
    return column == sa.any_(sa.bindparam(None, values, type_=ARRAY(column.type)))


def unnested(
    table: sa.Table, rows: Sequence[dict[str, Any]], columns: Sequence[str]
) -> sa.Select[Any]:
    """PostgreSQL: ``SELECT`` the rows' ``columns`` from one array parameter per column
    (``unnest``), for an ``INSERT ... SELECT`` that COPY cannot replace (``ON CONFLICT``,
    or values the server adds). The columns come out in ``columns``' order and the rows in
    their own; values go through the columns' bind processors."""
    arrays = [
        sa.bindparam(None, [row[name] for row in rows], type_=ARRAY(table.c[name].type))
        for name in columns
    ]
    source = sa.func.unnest(*arrays).table_valued(*columns).render_derived()
    return sa.select(*(source.c[name] for name in columns))


def insert_unnested(
    table: sa.Table, rows: Sequence[dict[str, Any]], columns: Sequence[str], **same: Any
) -> postgresql.Insert:
    """PostgreSQL: ``INSERT ... SELECT`` of the rows' ``columns`` from arrays
    (``unnested``), and of ``same``: a value for every row, a literal (through its
    column's type) or an expression the server computes per statement. The statement is
    PostgreSQL's own, so that an ``ON CONFLICT`` clause can follow."""
    constants = [
        value if isinstance(value, sa.ColumnElement) else sa.literal(value, table.c[name].type)
        for name, value in same.items()
    ]
    source = unnested(table, rows, columns).add_columns(*constants)
    return postgresql.insert(table).from_select([*columns, *same], source)
