"""What the API says of each record: plain JSON, never a contact detail.

Contacts and members are never read here. Free text that people type (summaries,
descriptions, capabilities, answers) is passed through ``without_contact_details``, which
replaces email addresses and international phone numbers, so that a vendor who typed its
sales address into its summary does not have it served to every API client. Every shape
here is described in ``portal.api.openapi``; the tests check each answer against it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import url_for
from werkzeug.routing import BuildError

from portal.introductions.models import Introduction
from portal.introductions.services import next_step
from portal.matching.services import Lead
from portal.missions.agenda import Agenda, AgendaItem
from portal.needs.models import Need
from portal.notices.services import PublicAmendment, PublicAnswer, PublicDocument
from portal.organizations.models import Organization

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# "+" and a country code, then at least six more digits in the usual groupings.
PHONE = re.compile(r"\+\d{1,3}(?:[\s().-]*\d){6,}")
EMAIL_REPLACEMENT = "[email address removed]"
PHONE_REPLACEMENT = "[phone number removed]"

Json = dict[str, Any]


def without_contact_details(text: str | None) -> str:
    """``text`` with email addresses and international phone numbers replaced."""
    text = EMAIL.sub(EMAIL_REPLACEMENT, text or "")
    return PHONE.sub(PHONE_REPLACEMENT, text)


def timestamp(value: dt.datetime | None) -> str | None:
    """An RFC 3339 time in UTC (``Z``)."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _page_url(endpoint: str, **values: Any) -> str | None:
    """The portal page of a record, if that page exists in this app."""
    try:
        return url_for(endpoint, **values, _external=True)
    except BuildError:
        return None


def _website(value: str) -> str:
    return value if value.startswith(("https://", "http://")) else ""


# --- organizations ------------------------------------------------------------------------


def organization_ref(organization: Organization) -> Json:
    return {
        "ref": organization.ref,
        "kind": organization.kind,
        "name": organization.name,
        "country": organization.country,
    }


def _organization(organization: Organization) -> Json:
    return {
        "ref": organization.ref,
        "name": organization.name,
        "country": organization.country,
        "city": organization.city or "",
        "website": _website(organization.website or ""),
        "summary": without_contact_details(organization.summary),
        "sectors": list(organization.sectors or []),
        "updated_at": timestamp(organization.updated_at),
    }


def vendor(organization: Organization) -> Json:
    return {
        **_organization(organization),
        "markets": list(organization.markets or []),
        "capabilities": [
            {
                "title": without_contact_details(capability.title),
                "description": without_contact_details(capability.description),
                "sectors": list(capability.sectors or []),
            }
            for capability in organization.capabilities
        ],
        "url": url_for("api.vendor", ref=organization.ref, _external=True),
        "page_url": _page_url("organizations.vendor_detail", ref=organization.ref),
    }


def buyer(organization: Organization) -> Json:
    return {
        **_organization(organization),
        "url": url_for("api.buyer", ref=organization.ref, _external=True),
        "page_url": _page_url("organizations.buyer_detail", ref=organization.ref),
        "needs_url": url_for("api.needs", buyer=organization.ref, _external=True),
    }


# --- needs --------------------------------------------------------------------------------


def budget(need: Need) -> Json | None:
    if need.budget_min is None and need.budget_max is None:
        return None
    return {"currency": "USD", "min": need.budget_min, "max": need.budget_max}


def funding(need: Need) -> Json | None:
    if need.funding_source is None or need.funding_stage is None:
        return None
    return {"source": need.funding_source, "stage": need.funding_stage}


def need_ref(need: Need) -> Json:
    return {"ref": need.ref, "title": need.title}


def need(record: Need) -> Json:
    return {
        "ref": record.ref,
        "title": record.title,
        "description": without_contact_details(record.description),
        "status": record.display_status,
        "notice": record.notice,
        "language": record.language,
        "funding": funding(record),
        "budget": budget(record),
        "closes_on": record.closes_on.isoformat() if record.closes_on else None,
        "sectors": list(record.sectors or []),
        "buyer": organization_ref(record.buyer),
        "created_at": timestamp(record.created_at),
        "updated_at": timestamp(record.updated_at),
        "url": url_for("api.need", ref=record.ref, _external=True),
        "page_url": _page_url("needs.detail", ref=record.ref),
    }


def _change_value(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool | int | float):
        return value
    return without_contact_details(str(value))


def amendment(row: PublicAmendment) -> Json:
    """A numbered amendment: when, the buyer's note and what changed (values as the
    exchange format writes them: ISO dates, whole dollars, a document's name)."""
    return {
        "number": row.number,
        "created_at": timestamp(row.created_at),
        "note": without_contact_details(row.note),
        "changes": [
            {
                "field": change.field,
                "old": _change_value(change.old),
                "new": _change_value(change.new),
            }
            for change in row.changes
        ],
    }


def public_answer(row: PublicAnswer) -> Json:
    """A question and the buyer's public answer; the asker is never named."""
    return {
        "question": without_contact_details(row.question),
        "answer": without_contact_details(row.answer),
        "asked_at": timestamp(row.asked_at),
        "answered_at": timestamp(row.answered_at),
    }


def document(row: PublicDocument, need_record: Need) -> Json:
    """A document of the notice: what it is, and where the portal serves it."""
    return {
        "filename": row.filename,
        "kind": row.kind,
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
        "uploaded_at": timestamp(row.uploaded_at),
        "download_url": _page_url("notices.download", ref=need_record.ref, document_id=row.id),
    }


# --- a member's own ------------------------------------------------------------------------


def lead(item: Lead, direction: str) -> Json:
    """A lead as the pages show it: a need for a vendor, or a vendor for a need."""
    return {
        "direction": direction,
        "need": {
            "ref": item.need.ref,
            "title": item.need.title,
            "buyer_name": item.need.buyer_name,
            "country": item.need.country,
            "url": url_for("api.need", ref=item.need.ref, _external=True),
        },
        "vendor": {
            "ref": item.vendor.ref,
            "name": item.vendor.name,
            "url": url_for("api.vendor", ref=item.vendor.ref, _external=True),
        },
        "strength": item.strength,
        "shown": bool(item.shown),
        "score": round(float(item.score), 6),
        "probability": round(float(item.probability), 4),
        "reasons": [without_contact_details(reason) for reason in item.reasons],
    }


def introduction(row: Introduction, viewer: Any) -> Json:
    return {
        "id": row.id,
        "state": row.state,
        "state_label": str(row.state_label),
        "requested_by": row.requested_by_side,
        "vendor": organization_ref(row.vendor),
        "buyer": organization_ref(row.buyer),
        "need": need_ref(row.need) if row.need is not None else None,
        "next_step": next_step(row, viewer),
        "created_at": timestamp(row.created_at),
        "state_changed_at": timestamp(row.state_changed_at),
        "introduced_at": timestamp(row.introduced_at),
        "page_url": _page_url("introductions.detail", introduction_id=row.id),
    }


def agenda_item(item: AgendaItem, agenda: Agenda) -> Json:
    """One published meeting of the member's organization, in UTC and in its local time."""
    event = agenda.event
    return {
        "uid": item.uid,
        "event": {
            "ref": event.ref,
            "name": event.name,
            "city": event.city or "",
            "country": event.country or "",
        },
        "starts_at": timestamp(item.meeting.starts_at),
        "ends_at": timestamp(item.meeting.ends_at),
        "local_starts_at": item.starts.isoformat(),
        "local_ends_at": item.ends.isoformat(),
        "time_zone": agenda.zone_name,
        "online": bool(item.meeting.online),
        "table_number": item.meeting.table_number,
        "place": item.place,
        "join_link": item.join_link,
        "with": organization_ref(item.other_organization),
    }
