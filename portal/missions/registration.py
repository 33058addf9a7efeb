"""Registering an organization for an event: sessions, on site or online, a cap on
meetings, what it offers and looks for; editing and cancelling the registration.

Members register their own (verified) organization until the deadline; staff register
any organization at any time. Services flush and never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext

from portal.accounts.access import is_member_of
from portal.extensions import db
from portal.missions.models import AttendanceMode, MissionEvent, Participant
from portal.missions.services import is_time_zone, registration_open
from portal.organizations.models import Organization, VerificationStatus
from portal.organizations.services import is_staff

MAX_TEXT = 2000  # offers and looks-for, as a meeting request's message


class RegistrationError(ValueError):
    """Input that breaks a rule; ``field`` names the form field it belongs beside."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotAllowed(RegistrationError):
    """A step this user may not take (the page answers 403)."""


@dataclass
class RegistrationValues:
    attends: list[int] = field(default_factory=list)  # session indexes; all when empty
    mode: str = AttendanceMode.ON_SITE
    max_meetings: int | None = None
    offers: str = ""
    looks_for: str = ""
    time_zone: str = ""  # online participants' own zone; "" is the event's


def find_participant(event: MissionEvent, organization_id: int | None) -> Participant | None:
    if organization_id is None:
        return None
    return db.session.scalar(
        sa.select(Participant).where(
            Participant.event_id == event.id, Participant.organization_id == organization_id
        )
    )


def participant_of(event: MissionEvent, user: Any) -> Participant | None:
    """The participant of the user's own organization at this event, if it registered."""
    if not getattr(user, "is_authenticated", False):
        return None
    return find_participant(event, getattr(user, "organization_id", None))


def check_may_register(
    event: MissionEvent, organization: Organization, user: Any, now: dt.datetime | None = None
) -> None:
    """Staff may register any organization at any time; members their own verified
    organization until the deadline. Raises NotAllowed with the reason."""
    if is_staff(user):
        return
    if not is_member_of(user, organization.id):
        raise NotAllowed(gettext("You may register only your own organization."))
    if not organization.is_verified:
        raise NotAllowed(
            gettext("Trade staff must verify your organization before it can register.")
        )
    if not registration_open(event, now):
        raise NotAllowed(gettext("Registration for this event has closed."))


def _checked(event: MissionEvent, values: RegistrationValues) -> dict[str, Any]:
    sessions = len(event.sessions)
    chosen = sorted(set(values.attends))
    if any(not 0 <= index < sessions for index in chosen):
        raise RegistrationError(gettext("Choose sessions of this event."), "attends")
    if values.attends and not chosen:
        raise RegistrationError(gettext("Choose at least one session."), "attends")
    if values.mode not in {mode.value for mode in AttendanceMode}:
        raise RegistrationError(gettext("Choose on site or online."), "mode")
    online = values.mode == AttendanceMode.ONLINE
    if online and not event.online:
        raise RegistrationError(
            gettext("This event has no online meetings; take part on site."), "mode"
        )
    if not online and event.tables == 0:
        raise RegistrationError(
            gettext("This event has no tables on site; take part online."), "mode"
        )
    if values.max_meetings is not None and not 1 <= values.max_meetings <= 100:
        raise RegistrationError(
            gettext("Give a cap from 1 to 100 meetings, or none."), "max_meetings"
        )
    for name in ("offers", "looks_for"):
        if len(getattr(values, name) or "") > MAX_TEXT:
            raise RegistrationError(
                gettext("Write at most %(max)s characters.", max=MAX_TEXT), name
            )
    time_zone = values.time_zone.strip() if online else ""
    if time_zone and not is_time_zone(time_zone):
        raise RegistrationError(
            gettext("Give an IANA time zone such as America/Denver."), "time_zone"
        )
    return {
        # Every session chosen is stored as "all", as the exchange format's default.
        "attends": None if not chosen or len(chosen) == sessions else chosen,
        "mode": values.mode,
        "max_meetings": values.max_meetings,
        "offers": (values.offers or "").strip(),
        "looks_for": (values.looks_for or "").strip(),
        "time_zone": time_zone,
    }


def register(
    event: MissionEvent,
    organization: Organization,
    values: RegistrationValues,
    user: Any,
    now: dt.datetime | None = None,
) -> Participant:
    """Register ``organization`` (flushed); once per organization and event."""
    check_may_register(event, organization, user, now)
    if find_participant(event, organization.id) is not None:
        raise RegistrationError(
            gettext("%(name)s is already registered for this event.", name=organization.name)
        )
    participant = Participant(
        event_id=event.id, organization_id=organization.id, **_checked(event, values)
    )
    db.session.add(participant)
    db.session.flush()
    return participant


def update_registration(
    participant: Participant, values: RegistrationValues, user: Any, now: dt.datetime | None = None
) -> Participant:
    """Change sessions, mode, cap or texts; stored meetings that no longer fit show as
    broken rules on the staff grid until the next scheduling run."""
    check_may_register(participant.event, participant.organization, user, now)
    for name, value in _checked(participant.event, values).items():
        setattr(participant, name, value)
    db.session.flush()
    return participant


def cancel_registration(
    participant: Participant, user: Any, now: dt.datetime | None = None
) -> None:
    """Leave the event: its requests and meetings go with it (the foreign keys cascade)."""
    check_may_register(participant.event, participant.organization, user, now)
    db.session.delete(participant)
    db.session.flush()


def registration_values(participant: Participant) -> dict[str, Any]:
    """The form's initial data for an existing registration."""
    return {
        "attends": sorted(participant.attended_sessions(len(participant.event.sessions))),
        "mode": participant.mode,
        "max_meetings": participant.max_meetings,
        "offers": participant.offers,
        "looks_for": participant.looks_for,
        "time_zone": participant.time_zone,
    }


# --- staff pick the organization to register ---------------------------------------------

FIND_LIMIT = 20
MAX_FIND = 100  # characters of a search


@dataclass(frozen=True)
class Candidate:
    """An organization staff may pick, and its registration at the event if it has one."""

    organization: Organization
    participant: Participant | None


@dataclass
class Found:
    text: str
    candidates: list[Candidate]
    more: bool  # more than FIND_LIMIT matched: the search should say more


def find_organizations(event: MissionEvent, text: str, limit: int = FIND_LIMIT) -> Found:
    """Verified organizations whose name holds every word of ``text`` (case ignored), by
    name, each with its registration at ``event`` (one query); nothing for an empty text."""
    text = " ".join((text or "").split())[:MAX_FIND]
    words = text.lower().split()[:8]
    if not words:
        return Found(text, [], False)
    query = (
        sa.select(Organization, Participant)
        .outerjoin(
            Participant,
            sa.and_(
                Participant.organization_id == Organization.id, Participant.event_id == event.id
            ),
        )
        .where(Organization.status == VerificationStatus.VERIFIED)
        .order_by(sa.func.lower(Organization.name), Organization.id)
        .limit(limit + 1)
    )
    for word in words:
        query = query.where(sa.func.lower(Organization.name).contains(word, autoescape=True))
    rows = db.session.execute(query).all()
    candidates = [Candidate(organization, participant) for organization, participant in rows]
    return Found(text, candidates[:limit], len(candidates) > limit)
