"""Meeting requests between participants: suggestions from the leads engine, sending,
must-meets, answering, withdrawing, staff proposals, expiry at the deadline, and the mail
each step sends through the outbox.

Services flush and never commit; the mail is queued in the same transaction, so a step
rolled back sends nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.db import utc_now
from portal.extensions import db
from portal.i18n.lazy import LazyText, lazy_gettext
from portal.mail.services import mail_link, queue_mail
from portal.matching.feedback import (
    adjuster,
    dismissed_need_ids,
    dismissed_vendor_ids,
    need_penalties,
    vendor_penalties,
)
from portal.matching.profiles import NeedProfile, VendorProfile
from portal.matching.services import current_model
from portal.missions.models import (
    Meeting,
    MeetingRequest,
    MissionEvent,
    Participant,
    RequestStatus,
)
from portal.missions.services import local_today, registration_open
from portal.needs.models import Need
from portal.organizations.models import Organization, OrganizationKind, VerificationStatus
from portal.organizations.services import is_staff
from portal.vocab import status_label

log = logging.getLogger(__name__)

MAX_MESSAGE = 2000
DEFAULT_PENDING_CAP = 20
# A must-meet is placed before any normal meeting, so each participant gets only a few.
MUST_MEET_CAP = 3
# Requests that still count against the caps, and that keep a pair from asking again.
OPEN_STATUSES = (RequestStatus.PENDING, RequestStatus.ACCEPTED)


class RequestError(ValueError):
    """A step that breaks a rule; ``field`` names the form field it belongs beside."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotAllowed(RequestError):
    """A step this user may not take (the page answers 403)."""


def pending_cap() -> int:
    """How many unanswered requests one participant may have out at once
    (``PORTAL_EVENT_PENDING_REQUESTS``, default 20)."""
    value = current_app.config.get("PORTAL_EVENT_PENDING_REQUESTS")
    if value is None:
        value = os.environ.get("PORTAL_EVENT_PENDING_REQUESTS") or DEFAULT_PENDING_CAP
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return DEFAULT_PENDING_CAP


def find_request(event: MissionEvent, request_id: int) -> MeetingRequest | None:
    request = db.session.get(MeetingRequest, request_id)
    return request if request is not None and request.event_id == event.id else None


def request_between(first: Participant, second: Participant) -> MeetingRequest | None:
    return db.session.scalar(
        sa.select(MeetingRequest).where(
            MeetingRequest.event_id == first.event_id,
            MeetingRequest.pair == MeetingRequest.pair_of(first.id, second.id),
        )
    )


def _count(*conditions: sa.ColumnElement[bool]) -> int:
    query = sa.select(sa.func.count()).select_from(MeetingRequest).where(*conditions)
    return db.session.scalar(query) or 0


def must_meets_of(participant: Participant) -> int:
    """The participant's own open requests marked must-meet."""
    return _count(
        MeetingRequest.from_id == participant.id,
        MeetingRequest.must_meet.is_(True),
        MeetingRequest.status.in_(OPEN_STATUSES),
    )


def pending_of(participant: Participant) -> int:
    return _count(
        MeetingRequest.from_id == participant.id,
        MeetingRequest.status == RequestStatus.PENDING,
    )


def _check_must_cap(participant: Participant) -> None:
    if must_meets_of(participant) >= MUST_MEET_CAP:
        raise RequestError(
            gettext("You already have %(max)s must-meets; unmark one first.", max=MUST_MEET_CAP),
            "must_meet",
        )


def _new_or_reopened(sender: Participant, target: Participant) -> MeetingRequest:
    """A fresh request, or the pair's withdrawn or expired one asked again (one row per
    pair and event); a declined one stays declined."""
    existing = request_between(sender, target)
    if existing is None:
        request = MeetingRequest(
            event_id=sender.event_id,
            pair=MeetingRequest.pair_of(sender.id, target.id),
        )
        db.session.add(request)
        return request
    if existing.status in OPEN_STATUSES:
        raise RequestError(
            gettext("There is already a request between you and %(name)s.", name=_name(target))
        )
    if existing.status == RequestStatus.DECLINED:
        raise RequestError(
            gettext("A request between you and %(name)s was declined.", name=_name(target))
        )
    existing.created_at = utc_now()
    existing.answered_at = None
    existing.decline_reason = ""
    return existing


def _name(participant: Participant) -> str:
    return participant.organization.name


def send_request(
    sender: Participant,
    target: Participant,
    message: str = "",
    must_meet: bool = False,
    now: dt.datetime | None = None,
) -> MeetingRequest:
    """One participant asks another for a meeting; the other's members get a mail."""
    event = sender.event
    if target.event_id != sender.event_id:
        raise RequestError(gettext("Both must take part in the same event."))
    if target.id == sender.id:
        raise RequestError(gettext("You cannot ask yourself for a meeting."))
    if not target.organization.is_verified:
        raise RequestError(gettext("That participant cannot receive requests yet."))
    if not registration_open(event, now):
        raise NotAllowed(gettext("Requests closed with registration for this event."))
    message = (message or "").strip()
    if len(message) > MAX_MESSAGE:
        raise RequestError(gettext("Write at most %(max)s characters.", max=MAX_MESSAGE), "message")
    if pending_of(sender) >= pending_cap():
        raise RequestError(
            gettext(
                "You have %(max)s requests waiting for an answer; wait for answers or "
                "withdraw one first.",
                max=pending_cap(),
            )
        )
    if must_meet:
        _check_must_cap(sender)
    return _open_request(sender, target, message, must_meet, proposed_by_staff=False)


def _open_request(
    sender: Participant,
    target: Participant,
    message: str,
    must_meet: bool,
    *,
    proposed_by_staff: bool,
) -> MeetingRequest:
    """The pending request from ``sender`` to ``target`` (a new row, or the pair's old
    one reopened), flushed, and the mail to ``target`` that it arrived."""
    request = _new_or_reopened(sender, target)
    request.from_id, request.to_id = sender.id, target.id
    request.message = message
    request.must_meet = must_meet
    request.status = RequestStatus.PENDING
    request.proposed_by_staff = proposed_by_staff
    db.session.flush()
    _mail_received(request)
    return request


def propose_meeting(
    first: Participant, second: Participant, message: str = "", must_meet: bool = False
) -> MeetingRequest:
    """Staff suggest a meeting: a request from ``first`` to ``second`` that ``second``
    answers, outside the members' caps and deadline; both sides hear of it."""
    if first.event_id != second.event_id:
        raise RequestError(gettext("Both must take part in the same event."), "second")
    if first.id == second.id:
        raise RequestError(gettext("Choose two different participants."), "second")
    message = (message or "").strip()
    if len(message) > MAX_MESSAGE:
        raise RequestError(gettext("Write at most %(max)s characters.", max=MAX_MESSAGE), "message")
    request = _open_request(first, second, message, must_meet, proposed_by_staff=True)
    _notify(
        request,
        first,
        "proposed",
        lazy_gettext("Trade staff suggest you meet %(name)s", name=_name(second)),
    )
    return request


def _side(request: MeetingRequest, participant: Participant | None) -> str:
    if participant is None:
        return ""
    if participant.id == request.from_id:
        return "from"
    if participant.id == request.to_id:
        return "to"
    return ""


def check_side(
    request: MeetingRequest, participant: Participant | None, user: Any, side: str
) -> None:
    """Only the asked side ("to") answers, only the asking side ("from") withdraws or
    marks a must-meet; staff may do either. Raises NotAllowed."""
    if _side(request, participant) != side and not is_staff(user):
        raise NotAllowed(
            gettext("Only the participant asked may do this.")
            if side == "to"
            else gettext("Only the participant who asked may do this.")
        )


def answer_request(
    request: MeetingRequest,
    accept: bool,
    participant: Participant | None,
    user: Any,
    reason: str = "",
) -> MeetingRequest:
    """The asked side (or staff) accepts or declines; the reason of a decline is kept
    for staff only. The asking side hears the answer, never the reason."""
    check_side(request, participant, user, "to")
    if request.status != RequestStatus.PENDING:
        raise RequestError(
            gettext(
                "This request is %(status)s; it can no longer be answered.",
                status=status_label(request.status),
            )
        )
    reason = (reason or "").strip()
    if len(reason) > MAX_MESSAGE:
        raise RequestError(gettext("Write at most %(max)s characters.", max=MAX_MESSAGE), "reason")
    request.status = RequestStatus.ACCEPTED if accept else RequestStatus.DECLINED
    request.decline_reason = "" if accept else reason
    request.answered_at = utc_now()
    db.session.flush()
    answered = request.requested.organization.name
    if accept:
        _notify(
            request,
            request.requester,
            "accepted",
            lazy_gettext("%(name)s accepted your meeting request", name=answered),
        )
    else:
        _notify(
            request,
            request.requester,
            "declined",
            lazy_gettext("%(name)s declined your meeting request", name=answered),
        )
    return request


def withdraw_request(
    request: MeetingRequest, participant: Participant | None, user: Any
) -> MeetingRequest:
    """The asking side (or staff) takes a pending or accepted request back; a meeting
    already placed for it goes too."""
    check_side(request, participant, user, "from")
    if request.status not in OPEN_STATUSES:
        raise RequestError(
            gettext(
                "This request is %(status)s; there is nothing to withdraw.",
                status=status_label(request.status),
            )
        )
    db.session.execute(sa.delete(Meeting).where(Meeting.request_id == request.id))
    request.status = RequestStatus.WITHDRAWN
    request.must_meet = False
    db.session.flush()
    return request


def set_must_meet(
    request: MeetingRequest, must_meet: bool, participant: Participant | None, user: Any
) -> MeetingRequest:
    """The asking side marks (or unmarks) an open request as must-meet, within its cap."""
    check_side(request, participant, user, "from")
    if request.status not in OPEN_STATUSES:
        raise RequestError(
            gettext("This request is %(status)s.", status=status_label(request.status))
        )
    if must_meet and not request.must_meet:
        _check_must_cap(request.requester)
    request.must_meet = must_meet
    db.session.flush()
    return request


def expire_requests(now: dt.datetime | None = None) -> int:
    """Unanswered requests of events whose registration deadline has passed (in the
    event's zone) expire. For the worker loop: cheap when nothing is due."""
    now = now or utc_now()
    events = db.session.scalars(
        sa.select(MissionEvent).where(
            MissionEvent.registration_closes.is_not(None),
            sa.exists().where(
                MeetingRequest.event_id == MissionEvent.id,
                MeetingRequest.status == RequestStatus.PENDING,
            ),
        )
    )
    expired = 0
    for event in list(events):
        assert event.registration_closes is not None
        if local_today(event, now) <= event.registration_closes:
            continue
        result = db.session.execute(
            sa.update(MeetingRequest)
            .where(
                MeetingRequest.event_id == event.id,
                MeetingRequest.status == RequestStatus.PENDING,
            )
            .values(status=RequestStatus.EXPIRED, answered_at=now)
            .execution_options(synchronize_session=False)
        )
        expired += result.rowcount or 0
    db.session.flush()
    return expired


@dataclass
class ParticipantRequests:
    incoming: list[MeetingRequest]
    outgoing: list[MeetingRequest]

    @property
    def partner_ids(self) -> set[int]:
        """Participants already asked or asking (open or declined): not suggested again."""
        return {
            r.from_id if r.to_id == self_id else r.to_id
            for r, self_id in self._with_self()
            if r.status not in (RequestStatus.WITHDRAWN, RequestStatus.EXPIRED)
        }

    def _with_self(self) -> list[tuple[MeetingRequest, int]]:
        return [(r, r.to_id) for r in self.incoming] + [(r, r.from_id) for r in self.outgoing]


def requests_of(participant: Participant) -> ParticipantRequests:
    query = (
        sa.select(MeetingRequest)
        .where(
            sa.or_(MeetingRequest.from_id == participant.id, MeetingRequest.to_id == participant.id)
        )
        .options(
            selectinload(MeetingRequest.requester).selectinload(Participant.organization),
            selectinload(MeetingRequest.requested).selectinload(Participant.organization),
        )
        .order_by(MeetingRequest.created_at.desc(), MeetingRequest.id.desc())
    )
    found = list(db.session.scalars(query))
    return ParticipantRequests(
        [r for r in found if r.to_id == participant.id],
        [r for r in found if r.from_id == participant.id],
    )


def event_requests(event: MissionEvent) -> list[MeetingRequest]:
    """Every request of the event, for staff (decline reasons included)."""
    return list(db.session.scalars(event_requests_query(event)))


# --- the request lists, a page at a time ------------------------------------------------

# The status filter's options, read in the page's language.
STATUS_CHOICES = [
    (RequestStatus.PENDING.value, lazy_gettext("Waiting for an answer")),
    (RequestStatus.ACCEPTED.value, lazy_gettext("Accepted")),
    (RequestStatus.DECLINED.value, lazy_gettext("Declined")),
    (RequestStatus.WITHDRAWN.value, lazy_gettext("Withdrawn")),
    (RequestStatus.EXPIRED.value, lazy_gettext("Expired")),
]


@dataclass
class RequestFilters:
    """What the request lists are narrowed to; a bad value is ignored and the reader told."""

    status: str = ""
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, args: Mapping[str, str]) -> RequestFilters:
        filters = cls()
        status = (args.get("status") or "").strip()
        if status in {s.value for s in RequestStatus}:
            filters.status = status
        elif status:
            filters.warnings.append(
                gettext("There is no status “%(value)s”; showing every request.", value=status[:20])
            )
        return filters

    def query_args(self) -> dict[str, str]:
        return {"status": self.status} if self.status else {}


def _listed(
    query: sa.Select[tuple[MeetingRequest]], status: str
) -> sa.Select[tuple[MeetingRequest]]:
    """A request list with both sides' organizations loaded (two queries a page, not two
    a request), narrowed to ``status``."""
    if status:
        query = query.where(MeetingRequest.status == status)
    return query.options(
        selectinload(MeetingRequest.requester).selectinload(Participant.organization),
        selectinload(MeetingRequest.requested).selectinload(Participant.organization),
    )


def incoming_query(participant: Participant, status: str = "") -> sa.Select[tuple[MeetingRequest]]:
    """Requests asked of the participant, newest first."""
    query = sa.select(MeetingRequest).where(MeetingRequest.to_id == participant.id)
    return _listed(query, status).order_by(
        MeetingRequest.created_at.desc(), MeetingRequest.id.desc()
    )


def outgoing_query(participant: Participant, status: str = "") -> sa.Select[tuple[MeetingRequest]]:
    """Requests the participant sent, newest first."""
    query = sa.select(MeetingRequest).where(MeetingRequest.from_id == participant.id)
    return _listed(query, status).order_by(
        MeetingRequest.created_at.desc(), MeetingRequest.id.desc()
    )


def event_requests_query(event: MissionEvent, status: str = "") -> sa.Select[tuple[MeetingRequest]]:
    """Every request of the event for staff, in the order they were first made."""
    query = sa.select(MeetingRequest).where(MeetingRequest.event_id == event.id)
    return _listed(query, status).order_by(MeetingRequest.id)


# --- mail ------------------------------------------------------------------------------


def _members(organization: Organization) -> list[User]:
    """Active members with a confirmed address: who hears of a request."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(
                User.organization_id == organization.id,
                User.active.is_(True),
                User.email_confirmed_at.is_not(None),
            )
            .order_by(User.id)
        )
    )


def _notify(
    request: MeetingRequest, to: Participant, template: str, subject: str | LazyText
) -> None:
    event = request.event
    link = mail_link("missions.my_requests", ref=event.ref)
    for user in _members(to.organization):
        queue_mail(
            user.email,
            subject,
            f"mission_request_{template}",
            person=user,
            event=event,
            request=request,
            requester=request.requester.organization,
            requested=request.requested.organization,
            link=link,
        )


def _mail_received(request: MeetingRequest) -> None:
    who = request.requester.organization.name
    subject = lazy_gettext(
        "%(name)s asks to meet you at %(event)s", name=who, event=request.event.name
    )
    _notify(request, request.requested, "received", subject)


# --- people you should meet ------------------------------------------------------------


@dataclass
class Suggestion:
    """A participant to meet, with the best lead between the two and its reasons."""

    participant: Participant
    about: str  # the need the lead is about
    reasons: list[str] = field(default_factory=list)
    strength: str = ""
    score: float = 0.0


SUGGESTION_LIMIT = 10


def suggestions(
    participant: Participant, limit: int = SUGGESTION_LIMIT
) -> tuple[list[Suggestion], bool]:
    """Participants of the other kind ranked by the leads engine, best first, without
    those already asked or asking; and True when the ranking is unavailable (the page
    still shows everything else). A vendor sees buyers whose open needs it answers; a
    buyer sees vendors for its open needs."""
    others = {
        p.organization_id: p
        for p in db.session.scalars(
            sa.select(Participant)
            .join(Participant.organization)
            .where(
                Participant.event_id == participant.event_id,
                Participant.id != participant.id,
                Organization.status == VerificationStatus.VERIFIED,
            )
            .options(selectinload(Participant.organization))
        )
    }
    asked = requests_of(participant).partner_ids
    others = {org_id: p for org_id, p in others.items() if p.id not in asked}
    organization = participant.organization
    if not others or not organization.is_verified:
        return [], False
    try:
        if organization.kind == OrganizationKind.VENDOR:
            found = _buyers_for_vendor(organization, others, limit)
        else:
            found = _vendors_for_buyer(organization, others, limit)
    except Exception:
        log.exception("meeting suggestions are unavailable")
        return [], True
    return found, False


def _buyers_for_vendor(
    vendor: Organization, others: dict[int, Participant], limit: int
) -> list[Suggestion]:
    """The vendor's needs-for-you, kept to the open needs of buyers at the event."""
    need_ids = list(
        db.session.scalars(
            sa.select(Need.id).where(Need.is_public, Need.buyer_id.in_(list(others)))
        )
    )
    if not need_ids:
        return []
    elsewhere = set(
        db.session.scalars(
            sa.select(Need.id).where(Need.is_public, Need.buyer_id.not_in(list(others)))
        )
    )
    # As on the vendor's "needs for you": its dismissed leads out, its lessons applied.
    leads = current_model().needs_for(
        VendorProfile.of(vendor),
        limit=len(need_ids),
        exclude=elsewhere | dismissed_need_ids(vendor.id),
        adjust=adjuster(need_penalties(vendor.id)),
    )
    found: dict[int, Suggestion] = {}
    for lead in leads:
        buyer_id = lead.need.buyer_id
        if buyer_id in others and buyer_id not in found:
            found[buyer_id] = Suggestion(
                others[buyer_id], lead.need.title, lead.reasons, lead.strength, lead.score
            )
    return list(found.values())[:limit]


def _vendors_for_buyer(
    buyer: Organization, others: dict[int, Participant], limit: int
) -> list[Suggestion]:
    """Each open need's vendor leads, kept to vendors at the event; a vendor's best lead
    over the buyer's needs counts."""
    vendor_ids = {
        org_id for org_id, p in others.items() if p.organization.kind == OrganizationKind.VENDOR
    }
    if not vendor_ids:
        return []
    elsewhere = set(
        db.session.scalars(
            sa.select(Organization.id).where(
                Organization.kind == OrganizationKind.VENDOR,
                Organization.status == VerificationStatus.VERIFIED,
                Organization.id.not_in(list(vendor_ids)),
            )
        )
    )
    needs = db.session.scalars(
        sa.select(Need).where(Need.is_public, Need.buyer_id == buyer.id).order_by(Need.id)
    )
    model = current_model()
    best: dict[int, Suggestion] = {}
    for need in needs:
        # As on the need's page for its buyer: dismissed vendors out, lessons applied.
        leads = model.vendors_for(
            NeedProfile.of(need),
            limit=len(vendor_ids),
            exclude=elsewhere | dismissed_vendor_ids(buyer.id, need.id),
            adjust=adjuster(vendor_penalties(need)),
        )
        for lead in leads:
            vendor_id = lead.vendor.id
            if vendor_id not in vendor_ids:
                continue
            if vendor_id not in best or lead.score > best[vendor_id].score:
                best[vendor_id] = Suggestion(
                    others[vendor_id], need.title, lead.reasons, lead.strength, lead.score
                )
    return sorted(best.values(), key=lambda s: -s.score)[:limit]
