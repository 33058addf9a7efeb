"""What every request's input must be before a view sees it: the one place for it.

PostgreSQL refuses a NUL character in text and integers beyond its column types, and
either turned a stray byte in a URL or a form into a 500. So, for every request:

- a NUL anywhere in the path, the query string or the form is a 400, before any view,
  form or query runs;
- ``<int:...>`` in a URL matches only ids the database can hold (up to 2**31 - 1), so
  ``/introductions/2147483648`` is a 404 like any other id that does not exist;
- ``int_arg`` reads a number from the query string (a page, an id) within bounds, and
  falls back to the default for anything else.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter, Map

# The largest id an INTEGER primary key holds (PostgreSQL's and SQLite's use of it).
MAX_ID = 2**31 - 1
# Beyond any real list; keeps OFFSET (page * page size) within every integer type.
MAX_PAGE = 100_000


class IdConverter(IntegerConverter):
    """``<int:...>`` with the database's range: 1 to ``MAX_ID`` unless a rule says more."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def has_nul(values: Any) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values)


def reject_nul() -> None:
    if "\x00" in request.path or has_nul(request.args.items(multi=True)):
        abort(400)
    if request.method in ("POST", "PUT", "PATCH") and has_nul(request.form.items(multi=True)):
        abort(400)


def int_arg(
    name: str, default: int | None = None, *, minimum: int = 1, maximum: int = MAX_PAGE
) -> int | None:
    """The query argument ``name`` as a whole number within ``minimum``..``maximum``
    (clamped), or ``default`` when it is absent or not a number."""
    raw = (request.args.get(name) or "").strip()
    if not (raw.isascii() and raw.isdigit()):
        return default
    if len(raw) > 12:  # far beyond any maximum (and int() refuses 4,300 digits)
        return maximum
    return min(max(int(raw), minimum), maximum)


def register_request_input(app: Flask) -> None:
    """Install the checks; call before the blueprints, whose rules use the converter."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(reject_nul)
