"""Stale-edit detection: a save made on a form opened before someone else's save is refused.

Each row that members edit through a form (an organization's profile, a capability, a
contact, a need) carries ``version``, ``edited_by`` and ``edited_at``. The edit form sends
back the version it was opened on in a hidden field; the service calls ``claim_version``
first, whose one ``UPDATE ... SET version = version + 1 WHERE id = :id AND version = :seen``
both checks and bumps. When it matches no row, someone saved in between: ``EditConflict``
is raised before anything else is written, the view rolls back and shows the form again
with the reader's own values, the saved ones beside them, and the current version (409).

The check is in SQL rather than in Python so that two saves at once cannot both pass it:
on PostgreSQL the second UPDATE waits for the first transaction's row lock and then finds
the version moved; on SQLite transactions queue (``BEGIN IMMEDIATE``). Only edits of what
the forms show bump the version (form saves, ``portal import``); status changes (verify,
close, award) leave it alone, since no form overwrites them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm.attributes import set_committed_value
from wtforms import Field

from portal.db import UTCDateTime, utc_now
from portal.extensions import db
from portal.i18n.lazy import lazy_gettext

# The word for what was edited, as the conflict message shows it (the code stays ``what``).
WHAT_LABELS = {
    "need": lazy_gettext("need"),
    "profile": lazy_gettext("profile"),
    "capability": lazy_gettext("capability"),
    "contact": lazy_gettext("contact"),
}

# What ``edited_by`` says for a change written by ``portal import`` (no user behind it).
IMPORT_EDITOR = "portal import"
MAX_VERSION_DIGITS = 9  # a version from a form beyond this is not one we ever issued


class Versioned:
    """Columns of a row edited through a form: its version and who last saved it, when.

    ``server_default`` fills rows that existed before the columns did (migration 0007) and
    rows that bulk inserts write without naming the columns.
    """

    version: Mapped[int] = mapped_column(default=1, server_default="1")
    edited_by: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    edited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class EditConflict(ValueError):
    """The row was saved by someone else since the form was opened; nothing was written.

    The caller rolls back, after which ``row`` reads as it stands now (its version, values
    and who changed it last).
    """

    def __init__(self, row: Any, what: str) -> None:
        super().__init__(f"this {what} was changed by someone else since it was opened")
        self.row = row
        self.what = what


def editor_name(editor: Any) -> str:
    """The name a conflict message shows for ``editor``: a user's name, else their email."""
    if editor is None or not getattr(editor, "is_authenticated", True):
        return ""
    name = (getattr(editor, "full_name", "") or getattr(editor, "email", "") or "").strip()
    return name[:200]


def claim_version(row: Any, expected: int | None, editor: Any, what: str) -> None:
    """Bump ``row``'s version if it is still ``expected``, and record who saves it; else
    raise ``EditConflict``. ``expected=None`` bumps whatever the version is: for callers
    without a form (tests, scripts), which are then last-writer-wins, as before.

    Call it before changing anything else, so that a refused save has written nothing.
    """
    table = type(row).__table__
    now = utc_now()
    name = editor_name(editor)
    statement = sa.update(table).where(table.c.id == row.id)
    if expected is not None:
        statement = statement.where(table.c.version == expected)
    statement = statement.values(
        version=table.c.version + 1, edited_by=name, edited_at=now
    ).returning(table.c.version)
    new_version = db.session.execute(statement).scalar_one_or_none()
    if new_version is None:
        raise EditConflict(row, what)
    # The UPDATE went around the ORM: tell the loaded object what the row now holds, so
    # that its own flush neither writes these again nor counts them as a change.
    set_committed_value(row, "version", new_version)
    set_committed_value(row, "edited_by", name)
    set_committed_value(row, "edited_at", now)


def submitted_version(field: Field) -> int:
    """The version a form was opened on, from its hidden field; 0 (never a real version,
    so a conflict) when the field is missing or not a number: such a form is refused
    rather than allowed to overwrite whatever is saved."""
    raw = field.raw_data[0].strip() if field.raw_data else ""
    if raw.isascii() and raw.isdigit() and len(raw) <= MAX_VERSION_DIGITS:
        return int(raw)
    return 0


# --- showing a conflict ----------------------------------------------------------------


@dataclass
class SavedValue:
    """One field of the conflict panel: what is saved now, and whether it differs."""

    label: str
    saved: str
    differs: bool


@dataclass
class Conflict:
    """What the 409 page tells the reader: who saved what, when, and the saved values."""

    what: str
    who: str
    when: dt.datetime | None
    version_missing: bool
    values: list[SavedValue]


def _choice_labels(field: Field) -> dict[str, str]:
    labels: dict[str, str] = {}
    for choice in getattr(field, "choices", None) or []:
        value, label = (choice.value, choice.label) if hasattr(choice, "value") else choice[:2]
        labels[str(value)] = str(label)
    return labels


def _normalised(value: Any) -> Any:
    """What a comparison of two versions of a field looks at: an empty choice (None) and
    an empty text are the same "(empty)" to the person reading the conflict."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list | tuple):
        return sorted(str(item) for item in value)
    return value


def _shown(field: Field, value: Any) -> str:
    if value is None or value == "" or value == []:
        return "(empty)"
    labels = _choice_labels(field)
    if isinstance(value, list | tuple):
        return ", ".join(labels.get(str(item), str(item)) for item in value)
    if labels:
        return labels.get(str(value), str(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def conflict_for(error: EditConflict, form: Any, *, submitted: int) -> Conflict:
    """The panel for ``error`` after the rollback: every field of ``form`` (but the hidden
    ones) with its saved value; the form itself keeps the reader's values. Also puts the
    current version in the form, so that saving again after a review is accepted."""
    row = error.row
    form.version.data = str(row.version)
    values = []
    for field in form:
        if field.type in {"CSRFTokenField", "HiddenField"}:
            continue
        saved = getattr(row, field.name)
        values.append(
            SavedValue(
                label=str(field.label.text),
                saved=_shown(field, saved),
                differs=_normalised(saved) != _normalised(field.data),
            )
        )
    return Conflict(
        what=str(WHAT_LABELS.get(error.what, error.what)),
        who=row.edited_by or "someone else",
        when=row.edited_at,
        version_missing=submitted == 0,
        values=values,
    )
