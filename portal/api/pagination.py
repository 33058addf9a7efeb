"""Cursor pagination for the API's lists: ``{"items": [...], "next": URL or null}``.

Each list has a stable order and a key per item (the row id for database lists; for a
ranked list such as leads, its rank value and ref). A cursor carries the key of the last
item of a page, signed with the app's secret (itsdangerous), so that a client can neither
forge nor edit one: a cursor that does not verify, or was made for another list, is a
400. The next page is the items after that key, so an item added or removed meanwhile
never shifts the pages the way an offset would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import abort, current_app, request, url_for
from itsdangerous import BadData, URLSafeSerializer

from portal.extensions import db

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 500
CURSOR_SALT = "portal.api.cursor"

Key = tuple[Any, ...]
T = TypeVar("T")


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=CURSOR_SALT)


def make_cursor(list_name: str, key: Key) -> str:
    return str(_serializer().dumps([list_name, list(key)]))


def read_limit() -> int:
    """The ``limit`` parameter: 1 to MAX_LIMIT items a page, else a 400."""
    raw = request.args.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4) or not 1 <= int(raw) <= MAX_LIMIT:
        abort(400, description=f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


def read_cursor(list_name: str, types: Sequence[type]) -> Key | None:
    """The key the ``cursor`` parameter carries, checked: signed by us, for this list, and
    of the expected shape; None when there is no cursor (the first page)."""
    raw = request.args.get("cursor")
    if raw is None:
        return None
    bad = f"cursor is not one this list gave: ask for the first page of {list_name} again."
    if not raw or len(raw) > MAX_CURSOR_LENGTH:
        abort(400, description=bad)
    try:
        payload = _serializer().loads(raw)
    except (BadData, ValueError, UnicodeError):
        abort(400, description=bad)
    if not (
        isinstance(payload, list)
        and len(payload) == 2
        and payload[0] == list_name
        and isinstance(payload[1], list)
        and len(payload[1]) == len(types)
        and all(_is_a(value, kind) for value, kind in zip(payload[1], types, strict=True))
    ):
        abort(400, description=bad)
    return tuple(payload[1])


def _is_a(value: Any, kind: type) -> bool:
    """JSON's kinds, told apart: a bool is no number, an int may stand for a float."""
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def next_url(key: Key | None, list_name: str) -> str | None:
    """This request's URL for the page after ``key`` (same filters and limit)."""
    if key is None:
        return None
    args = request.args.to_dict(flat=True)
    args["cursor"] = make_cursor(list_name, key)
    # The query is encoded here, not passed to url_for: a parameter named like one of
    # url_for's own keywords (_external, _anchor) must stay a parameter.
    base = url_for(request.endpoint or "", **(request.view_args or {}), _external=True)
    return f"{base}?{urlencode(args)}"


def page_of_query(
    query: sa.Select[tuple[T]], id_column: Any, list_name: str
) -> tuple[list[T], str | None]:
    """One page of a database query, in ``id_column`` order, after the cursor's id."""
    limit = read_limit()
    after = read_cursor(list_name, (int,))
    if after is not None:
        query = query.where(id_column > after[0])
    rows = list(db.session.scalars(query.order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    last = (rows[-1].id,) if more and rows else None  # type: ignore[attr-defined]
    return rows, next_url(last, list_name)


def page_of_list(
    items: Sequence[T], key: Callable[[T], Key], types: Sequence[type], list_name: str
) -> tuple[list[T], str | None]:
    """One page of a list made in memory (ranked leads, an agenda), in ``key`` order."""
    limit = read_limit()
    after = read_cursor(list_name, types)
    ordered = sorted(items, key=key)
    if after is not None:
        ordered = [item for item in ordered if key(item) > after]
    page = ordered[:limit]
    last = key(page[-1]) if len(ordered) > limit else None
    return page, next_url(last, list_name)
