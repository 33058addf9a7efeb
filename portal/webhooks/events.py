"""From the portal's signals to webhook deliveries: who may see each event, and what it says.

Each receiver runs inside the sender's transaction, after its flush, and only adds
delivery rows (``services.queue_event``), so a change that rolls back sends nothing.
Who receives what follows what the organization may see on the pages:

- ``need.*``: public needs (open, of a verified buyer), for every subscribed endpoint;
- ``introduction.changed``: the two organizations of the introduction, each once it may
  see it (the side that asked at once, the other once staff approved);
- ``meeting.scheduled``: the two participants' organizations of a published meeting.

Payloads carry public facts and links, never a contact's name, email or phone.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from portal.db import utc_today
from portal.mail.services import mail_link
from portal.signals import (
    introduction_changed,
    meetings_scheduled,
    need_amended,
    need_closed,
    need_published,
)
from portal.webhooks.models import EventType, WebhookEndpoint
from portal.webhooks.services import (
    iso_time,
    organization_brief,
    queue_event,
    subscribed_endpoints,
)


def need_data(need: Any) -> dict[str, Any]:
    budget = None
    if need.budget_min is not None or need.budget_max is not None:
        budget = {"min": need.budget_min, "max": need.budget_max}
    funding = None
    if need.funding_source:
        funding = {"source": need.funding_source, "stage": need.funding_stage}
    return {
        "need": {
            "ref": need.ref,
            "title": need.title,
            "status": need.status,
            "notice": need.notice,
            "sectors": list(need.sectors or []),
            "budget_usd": budget,
            "closes_on": need.closes_on.isoformat() if need.closes_on else None,
            "funding": funding,
            "buyer": organization_brief(need.buyer),
            "url": mail_link("needs.detail", ref=need.ref),
        }
    }


def _on_need_published(need: Any, **extra: Any) -> None:
    if need.is_public:
        queue_event(
            EventType.NEED_PUBLISHED,
            need_data(need),
            subscribed_endpoints(EventType.NEED_PUBLISHED),
        )


def _on_need_amended(need: Any, amendment: Any = None, **extra: Any) -> None:
    if not need.is_public:
        return
    data = need_data(need)
    if amendment is not None:
        data["amendment"] = {
            "number": getattr(amendment, "number", None),
            "changes": list(getattr(amendment, "changes", None) or []),
            "note": getattr(amendment, "note", "") or "",
        }
    queue_event(EventType.NEED_AMENDED, data, subscribed_endpoints(EventType.NEED_AMENDED))


# What the publication sweep (portal.follows.alerts) reports for an open need that stopped
# being public: its closing date passed, or its buyer is no longer verified.
SWEPT_CLOSES = frozenset({"expired", "withdrawn"})


def _on_need_closed(need: Any, status: str | None = None, **extra: Any) -> None:
    """A need that was public until now. A person's close or award counts only while the
    need was public (its buyer verified and its date not past: an expired need was nobody's
    to see, so closing it is no news); the sweep reports the need that was public until
    its date passed or its buyer lost verification."""
    if status not in SWEPT_CLOSES:
        buyer = need.buyer
        still_dated = need.closes_on is None or need.closes_on >= utc_today()
        if buyer is None or not buyer.is_verified or not still_dated:
            return
    data = need_data(need)
    data["need"]["status"] = status or need.status
    queue_event(EventType.NEED_CLOSED, data, subscribed_endpoints(EventType.NEED_CLOSED))


def _sides_that_see(introduction: Any) -> list[int]:
    """``introductions.services.can_view`` for organizations: the side that asked, and
    both once staff approved (a staff proposal is seen by neither until then)."""
    approved = introduction.approved_at is not None
    sides = []
    if approved or introduction.requested_by_side == "vendor":
        sides.append(introduction.vendor_id)
    if approved or introduction.requested_by_side == "buyer":
        sides.append(introduction.buyer_id)
    return sides


def _on_introduction_changed(introduction: Any, previous: str | None = None, **extra: Any) -> None:
    endpoints = subscribed_endpoints(EventType.INTRODUCTION_CHANGED, _sides_that_see(introduction))
    if not endpoints:
        return
    need = introduction.need
    data = {
        "introduction": {
            "id": introduction.id,
            "state": str(introduction.state),
            "previous_state": str(previous) if previous is not None else None,
            "changed_at": iso_time(introduction.state_changed_at),
            "vendor": organization_brief(introduction.vendor),
            "buyer": organization_brief(introduction.buyer),
            "need": None if need is None else {"ref": need.ref, "title": need.title},
            "url": mail_link("introductions.detail", introduction_id=introduction.id),
        }
    }
    queue_event(EventType.INTRODUCTION_CHANGED, data, endpoints)


def _on_meetings_scheduled(
    event: Any, meetings: Any = (), change: str = "published", **extra: Any
) -> None:
    """One event per meeting, to each of its two participants' endpoints."""
    sides = {}
    for meeting in meetings:
        request = meeting.request
        sides[meeting] = (request.requester.organization, request.requested.organization)
    organization_ids = {org.id for pair in sides.values() for org in pair}
    by_organization: dict[int, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in subscribed_endpoints(EventType.MEETING_SCHEDULED, organization_ids):
        by_organization[endpoint.organization_id].append(endpoint)
    if not by_organization:
        return
    event_data = {
        "ref": event.ref,
        "name": event.name,
        "city": event.city,
        "country": event.country,
        "time_zone": event.time_zone,
        "url": mail_link("missions.detail", ref=event.ref),
    }
    for meeting, pair in sides.items():
        endpoints = [endpoint for org in pair for endpoint in by_organization.get(org.id, [])]
        if not endpoints:
            continue
        data = {
            "change": change,
            "meeting": {
                "id": meeting.id,
                "starts_at": iso_time(meeting.starts_at),
                "ends_at": iso_time(meeting.ends_at),
                "table": meeting.table_number,
                "online": bool(meeting.online),
            },
            "event": event_data,
            "participants": [organization_brief(org) for org in pair],
        }
        queue_event(EventType.MEETING_SCHEDULED, data, endpoints)


def subscribe() -> None:
    """Connect the receivers (idempotent: blinker keeps one connection per receiver)."""
    need_published.connect(_on_need_published)
    need_amended.connect(_on_need_amended)
    need_closed.connect(_on_need_closed)
    introduction_changed.connect(_on_introduction_changed)
    meetings_scheduled.connect(_on_meetings_scheduled)
