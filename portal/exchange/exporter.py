"""Exporting everything the portal holds in the exchange format, streamed page by page.

Organizations (by ref) then needs (by ref), read in pages of 1,000 by keyset, each
page's capabilities and contacts in one query apiece: bounded memory and no server-side
cursor. Only the fields of the format are written; optional fields that are empty are
left out, as in the project's data files, except a need's ``sectors``, ``budget_usd``,
``closes_on``, ``status``, ``notice`` and ``funding``, which are always written (null
when unknown) so that a reader sees at a glance that a need has no budget, no closing
date or no known funding.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.exchange.missions import (
    event_records,
    meeting_request_records,
    participant_records,
)
from portal.exchange.records import HEADER
from portal.extensions import db
from portal.needs.models import Need
from portal.organizations.models import Capability, Contact, Organization

PAGE_SIZE = 1000

_organizations = Organization.__table__
_capabilities = Capability.__table__
_contacts = Contact.__table__
_needs = Need.__table__


def _pages(session: Session, table: sa.Table, columns: list[Any]) -> Iterator[list[Any]]:
    """Every row of ``table`` ordered by ref, a page at a time (keyset pagination)."""
    last_ref: str | None = None
    while True:
        query = sa.select(*columns).order_by(table.c.ref).limit(PAGE_SIZE)
        if last_ref is not None:
            query = query.where(table.c.ref > last_ref)
        rows = session.execute(query).all()
        if not rows:
            return
        yield rows
        last_ref = rows[-1].ref


def _children(session: Session, table: sa.Table, ids: list[int]) -> dict[int, list[Any]]:
    query = (
        sa.select(table)
        .where(table.c.organization_id.in_(ids))
        .order_by(table.c.organization_id, table.c.position, table.c.id)
    )
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in session.execute(query):
        grouped[row.organization_id].append(row)
    return grouped


def _without_empty(record: dict[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key in keep or value not in ("", [])}


def organization_records(session: Session | None = None) -> Iterator[dict[str, Any]]:
    session = session or db.session
    t = _organizations
    columns = [t.c.id, t.c.ref, t.c.kind, t.c.name, t.c.country, t.c.city, t.c.website]
    columns += [t.c.summary, t.c.sectors, t.c.markets]
    for page in _pages(session, t, columns):
        ids = [row.id for row in page]
        capabilities = _children(session, _capabilities, ids)
        contacts = _children(session, _contacts, ids)
        for row in page:
            record = {
                "type": "organization",
                "ref": row.ref,
                "kind": row.kind,
                "name": row.name,
                "country": row.country,
                "city": row.city,
                "website": row.website,
                "summary": row.summary,
                "sectors": list(row.sectors or []),
                "markets": list(row.markets or []),
                "capabilities": [
                    {"title": c.title, "description": c.description, "sectors": list(c.sectors)}
                    for c in capabilities.get(row.id, [])
                ],
                "contacts": [
                    _without_empty(
                        {"name": c.name, "email": c.email, "phone": c.phone, "title": c.title},
                        keep=("name",),
                    )
                    for c in contacts.get(row.id, [])
                ],
            }
            yield _without_empty(record, keep=("name",))


def need_records(session: Session | None = None) -> Iterator[dict[str, Any]]:
    session = session or db.session
    t = _needs
    buyer_ref = _organizations.c.ref.label("buyer_ref")
    columns = [t.c.ref, buyer_ref, t.c.title, t.c.description, t.c.sectors]
    columns += [t.c.budget_min, t.c.budget_max, t.c.closes_on, t.c.status]
    columns += [t.c.notice, t.c.funding_source, t.c.funding_stage]
    last_ref: str | None = None
    while True:
        query = (
            sa.select(*columns)
            .join(_organizations, _organizations.c.id == t.c.buyer_id)
            .order_by(t.c.ref)
            .limit(PAGE_SIZE)
        )
        if last_ref is not None:
            query = query.where(t.c.ref > last_ref)
        page = session.execute(query).all()
        if not page:
            return
        for row in page:
            budget = None
            if row.budget_min is not None and row.budget_max is not None:
                budget = {"min": row.budget_min, "max": row.budget_max}
            funding = None
            if row.funding_source is not None and row.funding_stage is not None:
                funding = {"source": row.funding_source, "stage": row.funding_stage}
            yield {
                "type": "need",
                "ref": row.ref,
                "buyer": row.buyer_ref,
                "title": row.title,
                "description": row.description,
                "sectors": list(row.sectors or []),
                "budget_usd": budget,
                "closes_on": row.closes_on.isoformat() if row.closes_on else None,
                "status": row.status,
                "notice": row.notice,
                "funding": funding,
            }
        last_ref = page[-1].ref


class ExportCounts(NamedTuple):
    organizations: int
    needs: int
    events: int = 0
    participants: int = 0
    meeting_requests: int = 0


def export_file(path: str | Path, session: Session | None = None) -> ExportCounts:
    """Write the whole portal to ``path``: organizations, needs, then events, their
    participants and meeting requests; returns how many of each were written."""
    session = session or db.session
    counts = dict.fromkeys(ExportCounts._fields, 0)
    sources = (
        ("organizations", organization_records(session)),
        ("needs", need_records(session)),
        ("events", event_records(session)),
        ("participants", participant_records(session)),
        ("meeting_requests", meeting_request_records(session)),
    )
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(json.dumps(HEADER) + "\n")
        for name, records in sources:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                counts[name] += 1
    return ExportCounts(**counts)
