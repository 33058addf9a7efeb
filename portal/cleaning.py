"""Text that arrives from outside (forms, imports, the CLI) made fit for where it goes.

A name, a title or a city is one line: it ends up in mail subjects, CSV cells and page
titles, where a line break either breaks the format or, in a mail header, stops the
message from being built at all. ``one_line`` folds every run of whitespace and control
characters (line breaks, tabs, NUL, the Unicode line and paragraph separators) into one
space, as a browser does with the value of a text input. ``header_line`` does the same
and shortens the result to fit a header or a column.
"""

from __future__ import annotations

import re

# Whitespace in Unicode's sense (\s covers \n \r \t \v \f, U+0085, U+2028, U+2029, ...)
# and the C0 and C1 control characters that are not whitespace (NUL, ESC, DEL, ...).
_BREAKS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")

ELLIPSIS = "…"


def one_line(value: str) -> str:
    """``value`` on one line: runs of whitespace and control characters become one
    space, and the ends are stripped."""
    return _BREAKS.sub(" ", value).strip()


def header_line(value: str, limit: int) -> str:
    """``value`` on one line and at most ``limit`` characters, ending in "…" if cut."""
    value = one_line(value)
    if len(value) <= limit:
        return value
    return value[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def spreadsheet_safe(value: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (CSV injection): a leading
    = + - @, tab or carriage return gets a quote."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
