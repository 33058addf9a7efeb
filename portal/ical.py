"""iCalendar text to RFC 5545, shared by the mission agendas and the followed-deadlines feed.

Written here rather than by a library: CRLF line ends, lines folded at 75 octets (never
inside a UTF-8 character), escaped TEXT values and times in UTC ("Z").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable


def escape_text(value: str) -> str:
    """RFC 5545 3.3.11: backslash, semicolon and comma escaped; newlines as \\n."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.replace("\n", "\\n")


def fold(line: str) -> str:
    """RFC 5545 3.1: lines of at most 75 octets, continued after CRLF and a space, cut
    between characters, never inside a UTF-8 sequence."""
    out: list[str] = []
    current = ""
    size = 0
    limit = 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current, size, limit = " ", 1, 75
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def utc_stamp(value: dt.datetime) -> str:
    """A DATE-TIME in UTC form (RFC 5545 3.3.5, form #2)."""
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def date_value(value: dt.date) -> str:
    """A DATE (RFC 5545 3.3.4), for all-day events such as deadlines."""
    return value.strftime("%Y%m%d")


def calendar_text(lines: Iterable[str]) -> str:
    """Content lines as the body of a .ics file: each folded, each ended by CRLF."""
    return "".join(fold(line) + "\r\n" for line in lines)
