"""The introductions' audit trail as CSV: every event of one introduction, or of all,
oldest first, for staff (a page's download and ``portal introductions audit``)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import IO

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.cleaning import spreadsheet_safe
from portal.extensions import db
from portal.introductions.models import Introduction, IntroductionEvent

AUDIT_COLUMNS = (
    "introduction_id",
    "event_id",
    "at_utc",
    "kind",
    "from_state",
    "to_state",
    "actor_role",
    "actor_name",
    "actor_email",
    "private",
    "note",
    "vendor_ref",
    "vendor_name",
    "buyer_ref",
    "buyer_name",
    "need_ref",
)


def audit_rows(introduction: Introduction | None = None) -> Iterator[dict[str, str]]:
    """Every line of the audit trail (of one introduction, or all), oldest first."""
    query = (
        sa.select(IntroductionEvent, Introduction)
        .join(Introduction, IntroductionEvent.introduction_id == Introduction.id)
        .options(
            selectinload(IntroductionEvent.actor),
            selectinload(Introduction.vendor),
            selectinload(Introduction.buyer),
            selectinload(Introduction.need),
        )
        .order_by(IntroductionEvent.introduction_id, IntroductionEvent.id)
    )
    if introduction is not None:
        query = query.where(IntroductionEvent.introduction_id == introduction.id)
    for event, intro in db.session.execute(query).yield_per(500):
        yield {
            "introduction_id": str(intro.id),
            "event_id": str(event.id),
            "at_utc": event.created_at.isoformat(timespec="seconds"),
            "kind": event.kind,
            "from_state": event.from_state or "",
            "to_state": event.to_state,
            "actor_role": event.actor_role,
            "actor_name": spreadsheet_safe(event.actor_name),
            "actor_email": event.actor.email if event.actor is not None else "",
            "private": "yes" if event.private else "no",
            "note": spreadsheet_safe(event.note),
            "vendor_ref": intro.vendor.ref,
            "vendor_name": spreadsheet_safe(intro.vendor.name),
            "buyer_ref": intro.buyer.ref,
            "buyer_name": spreadsheet_safe(intro.buyer.name),
            "need_ref": intro.need.ref if intro.need is not None else "",
        }


def write_audit_csv(out: IO[str], rows: Iterable[dict[str, str]]) -> int:
    writer = csv.DictWriter(out, fieldnames=AUDIT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count
