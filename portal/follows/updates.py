"""What a follower is told about a need, kept as what happened and worded for each reader.

An update is written with no reader: by the worker (a deadline reminder), or by a signal
receiver inside the request of the buyer who amended or answered. It is read later, on
"My followed needs" and in mail, by members of many languages. So the row keeps what
happened (``FollowUpdate.details``: an amendment's number, changes and note; a question
and its answer; a deadline and the days left when it was reminded), and ``update_lines``
words it in the language being rendered: a page's, or a mail's (``queue_mail`` renders in
its recipient's). The buyer's note, the question and the answer are shown as written.

``summary`` keeps the English wording beside the details; a row written before they were
kept has only that, and is shown as written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask_babel import force_locale, gettext, ngettext, pgettext

from portal.follows.models import FollowUpdate, UpdateKind
from portal.i18n.formatting import localized_date, number_filter
from portal.i18n.locales import DEFAULT_LOCALE
from portal.notices.amendments import FIELD_LABELS

Details = dict[str, Any]

DATE_FIELDS = frozenset({"closes_on", "questions_close_on"})  # stored as ISO dates
BUDGET_FIELDS = frozenset({"budget_min", "budget_max"})  # stored as whole dollars


def _written(value: Any) -> str:
    """Text a person wrote, trimmed; anything else is no text."""
    return value.strip() if isinstance(value, str) else ""


# --- what happened -----------------------------------------------------------------------


def amendment_details(amendment: Any) -> Details:
    """An amendment's number, its changes as the notice stores them (field, old, new: ISO
    dates, whole dollars, a document's name) and the buyer's note."""
    changes = [
        {"field": str(change.get("field", "")), "old": change.get("old"), "new": change.get("new")}
        for change in getattr(amendment, "changes", None) or []
        if isinstance(change, dict)
    ]
    return {
        "number": getattr(amendment, "number", None),
        "changes": changes,
        "note": _written(getattr(amendment, "note", "")),
    }


def answer_details(question: Any) -> Details:
    return {
        "question": _written(getattr(question, "body", "")),
        "answer": _written(getattr(question, "answer", "")),
    }


def reminder_details(closes_on: dt.date, today: dt.date) -> Details:
    """The deadline, and the days left on the day the reminder went."""
    return {"closes_on": closes_on.isoformat(), "days": (closes_on - today).days}


# --- in the reader's words ---------------------------------------------------------------


def _label(field: str) -> str:
    label = FIELD_LABELS.get(field)
    return gettext(label) if label is not None else field.replace("_", " ")


def _value(field: str, value: Any) -> str:
    """An amended value as the locale writes it: a date, a sum; a document's name as is."""
    if field in DATE_FIELDS and isinstance(value, str):
        try:
            return localized_date(dt.date.fromisoformat(value))
        except ValueError:
            return value
    if field in BUDGET_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        return number_filter(value)
    return str(value)


def _change(change: Details) -> str:
    field = str(change.get("field", ""))
    old, new = change.get("old"), change.get("new")
    name = _label(field)
    if old in (None, "") and new not in (None, ""):
        return pgettext(
            "amendment", "%(field)s: %(value)s added", field=name, value=_value(field, new)
        )
    if new in (None, ""):
        return pgettext(
            "amendment", "%(field)s: %(value)s removed", field=name, value=_value(field, old)
        )
    return pgettext(
        "amendment",
        "%(field)s: %(old)s -> %(new)s",
        field=name,
        old=_value(field, old),
        new=_value(field, new),
    )


def _amendment(details: Details) -> list[str]:
    """The changes on one line (Amendment 2: Closing date: 2026-03-10 -> 2026-03-24),
    then the buyer's note."""
    changes = [_change(change) for change in details["changes"] if isinstance(change, dict)]
    number = details["number"]
    if changes:
        head = gettext(
            "Amendment %(number)s: %(changes)s", number=number, changes="; ".join(changes)
        )
    else:
        head = gettext("Amendment %(number)s", number=number)
    note = _written(details.get("note"))
    return [head, note] if note else [head]


def _answer(details: Details) -> list[str]:
    return [
        gettext("Question: %(question)s", question=_written(details["question"])),
        gettext("Answer: %(answer)s", answer=_written(details["answer"])),
    ]


def _reminder(details: Details) -> list[str]:
    """Closes in 3 days, on 2026-03-24: the days left on the day the reminder went."""
    days = int(details["days"])
    date = localized_date(dt.date.fromisoformat(details["closes_on"]))
    if days == 0:
        return [gettext("Closes today, on %(date)s.", date=date)]
    if days == 1:
        return [gettext("Closes tomorrow, on %(date)s.", date=date)]
    return [
        ngettext(
            "Closes in %(num)s day, on %(date)s.",
            "Closes in %(num)s days, on %(date)s.",
            days,
            date=date,
        )
    ]


WORDING: dict[str, Callable[[Details], list[str]]] = {
    UpdateKind.AMENDMENT: _amendment,
    UpdateKind.ANSWER: _answer,
    UpdateKind.REMINDER: _reminder,
}


def english_summary(kind: str, details: Details) -> str:
    """The English wording kept in ``summary``, whatever the language of the request that
    wrote the row (a Thai buyer's amendment tells Vietnamese followers too)."""
    with force_locale(DEFAULT_LOCALE):
        return "\n".join(WORDING[kind](details))


def update_lines(update: FollowUpdate) -> list[str]:
    """The update in the language being rendered, a line per part (what changed, then the
    buyer's note; the question, then the answer). A row without details, or with details
    this code cannot read, shows its summary as written."""
    word = WORDING.get(update.kind)
    if word is not None and isinstance(update.details, dict):
        try:
            return word(update.details)
        except (KeyError, TypeError, ValueError):
            pass
    return update.summary.splitlines()


def update_text(update: FollowUpdate) -> str:
    """``update_lines`` as a mail prints them, one under the other."""
    return "\n".join(update_lines(update))
