"""Numbered amendments of a published notice: what changed, old and new.

Kept apart from ``portal.notices.services`` because ``portal.needs.services.update_need``
calls ``record_need_edit`` and the rest of the notices feature imports the needs'
services: this module needs only the models, so neither imports the other in a circle.

Only a need that was published (``Need.is_public``) before the change gets an amendment:
a draft or a closed need is edited freely. Numbers go 1, 2, ... per need; the need's row
is locked first (PostgreSQL; SQLite writes one transaction at a time anyway), so two
changes at once get two numbers, not an error.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from portal.db import utc_today
from portal.extensions import db
from portal.i18n.locales import N_
from portal.needs.models import Need, NeedStatus
from portal.notices.models import NoticeAmendment
from portal.signals import need_amended

MAX_NOTE = 1000
# The need's fields whose change on a published notice is an amendment, in the order an
# amendment lists them. Documents are listed as the field "document".
AMENDED_FIELDS = ("closes_on", "questions_close_on", "budget_min", "budget_max")
# In English, for the catalog (N_); shown through gettext, in the reader's language.
FIELD_LABELS = {
    "closes_on": N_("Closing date"),
    "questions_close_on": N_("Questions deadline"),
    "budget_min": N_("Budget from (USD)"),
    "budget_max": N_("Budget up to (USD)"),
    "document": N_("Document"),
}


def as_person(actor: Any) -> Any:
    """A signal's ``actor``: the User itself, never Flask-Login's proxy of it (a receiver
    may outlive the request); None for anonymous visitors and scripts."""
    unwrap = getattr(actor, "_get_current_object", None)
    actor = unwrap() if callable(unwrap) else actor
    return actor if getattr(actor, "is_authenticated", False) else None


def _exported(value: Any) -> Any:
    """A value as an amendment stores it: dates as ISO text, the rest as they are."""
    return value.isoformat() if isinstance(value, dt.date) else value


def was_published(status: str, closes_on: dt.date | None, need: Need) -> bool:
    """``Need.is_public`` for the values the need had before a change."""
    return (
        status == NeedStatus.OPEN
        and (closes_on is None or closes_on >= utc_today())
        and need.buyer is not None
        and need.buyer.is_verified
    )


def amend(
    need: Need, changes: list[dict[str, Any]], *, note: str = "", actor: Any = None
) -> NoticeAmendment:
    """Write the next numbered amendment of ``need`` and tell the signal's receivers.

    The caller has decided the need is published and has flushed the change itself."""
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise ValueError(f"a note may have at most {MAX_NOTE:,} characters")
    db.session.execute(sa.select(Need.id).where(Need.id == need.id).with_for_update())
    last = db.session.scalar(
        sa.select(sa.func.max(NoticeAmendment.number)).where(NoticeAmendment.need_id == need.id)
    )
    amendment = NoticeAmendment(
        need_id=need.id,
        number=(last or 0) + 1,
        changes=changes,
        note=note,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(amendment)
    db.session.flush()
    need_amended.send(need, amendment=amendment, actor=as_person(actor))
    return amendment


def record_need_edit(need: Need, *, actor: Any = None) -> NoticeAmendment | None:
    """Call after setting a need's new values and before flushing them: if the need was
    published and its deadline or budget changed, write an amendment saying old -> new.

    The old values are read from the database, which still holds them (nothing is
    flushed in between); so it works however the need was loaded."""
    columns = [getattr(Need, name) for name in AMENDED_FIELDS]
    with db.session.no_autoflush:
        before = db.session.execute(
            sa.select(Need.status, *columns).where(Need.id == need.id)
        ).one()
    old = dict(zip(AMENDED_FIELDS, before[1:], strict=True))
    changes = [
        {"field": name, "old": _exported(old[name]), "new": _exported(getattr(need, name))}
        for name in AMENDED_FIELDS
        if old[name] != getattr(need, name)
    ]
    db.session.flush()
    if not changes or not was_published(before.status, old["closes_on"], need):
        return None
    return amend(need, changes, actor=actor)
