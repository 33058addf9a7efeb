"""What came of each meeting: each side's word, and the introduction it may lead to.

Each side marks a meeting held or no-show and rates it (did not take place, no interest,
interesting, cooperation possible) with a note only that side (and staff) read. When both
sides say "cooperation possible", trade staff are offered to open an introduction that
goes straight to "introduced": the introductions package's own steps do it (staff
propose, then each side accepts as the member who rated), so the audit trail, the mail
and the contact-sharing rule are the pipeline's own, not a copy.

Services flush and never commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext

from portal.accounts.models import User
from portal.db import utc_now
from portal.extensions import db
from portal.i18n.lazy import lazy_gettext
from portal.introductions import services as introductions
from portal.introductions.models import Introduction
from portal.missions.models import (
    Attendance,
    Meeting,
    MeetingOutcome,
    MeetingRequest,
    Participant,
    Rating,
)
from portal.organizations.models import Organization, OrganizationKind

MAX_NOTE = 5000

# Read in the language of the page that shows them; code keeps and compares the values.
ATTENDANCE_LABELS = {
    Attendance.HELD: lazy_gettext("Held"),
    Attendance.NO_SHOW: lazy_gettext("No-show"),
}
RATING_LABELS = {
    Rating.NOT_HELD: lazy_gettext("Did not take place"),
    Rating.NO_INTEREST: lazy_gettext("No interest"),
    Rating.INTERESTING: lazy_gettext("Interesting"),
    Rating.COOPERATION: lazy_gettext("Cooperation possible"),
}


class OutcomeError(ValueError):
    """A rating that cannot be taken; nothing was changed. ``field`` names a form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def side_of(request: MeetingRequest, participant: Participant) -> bool:
    return participant.id in (request.from_id, request.to_id)


def record_outcome(
    participant: Participant,
    meeting: Meeting,
    user: User | Any,
    *,
    attendance: str,
    rating: str,
    note: str = "",
    now: dt.datetime | None = None,
) -> MeetingOutcome:
    """Record (or change) ``participant``'s word on ``meeting``.

    Only after the meeting has started, only for a published meeting of the participant,
    and consistently: a no-show did not take place, and a meeting that did not take
    place was not held.
    """
    now = now or utc_now()
    request = meeting.request
    if not side_of(request, participant):
        raise OutcomeError(gettext("This meeting is not on your agenda."))
    if not meeting.published:
        raise OutcomeError(gettext("This meeting is not on a published agenda yet."))
    if meeting.starts_at > now:
        raise OutcomeError(
            gettext("You can say how it went once the meeting has started."), "rating"
        )
    try:
        attendance = Attendance(attendance)
    except ValueError:
        raise OutcomeError(gettext("Choose held or no-show."), "attendance") from None
    try:
        rating = Rating(rating)
    except ValueError:
        raise OutcomeError(gettext("Choose one of the ratings."), "rating") from None
    if attendance == Attendance.NO_SHOW and rating != Rating.NOT_HELD:
        raise OutcomeError(gettext("A no-show did not take place: choose that rating."), "rating")
    if attendance == Attendance.HELD and rating == Rating.NOT_HELD:
        raise OutcomeError(
            "A meeting that was held took place: choose how interesting it was.", "rating"
        )
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise OutcomeError(gettext("Keep the note under %(max)s characters.", max=MAX_NOTE), "note")
    outcome = own_outcome(request, participant)
    if outcome is None:
        outcome = MeetingOutcome(request_id=request.id, participant_id=participant.id)
        db.session.add(outcome)
    outcome.attendance = attendance
    outcome.rating = rating
    outcome.note = note
    outcome.rated_by_id = getattr(user, "id", None)
    outcome.updated_at = now
    db.session.flush()
    return outcome


def own_outcome(request: MeetingRequest, participant: Participant) -> MeetingOutcome | None:
    return db.session.scalar(
        sa.select(MeetingOutcome).where(
            MeetingOutcome.request_id == request.id,
            MeetingOutcome.participant_id == participant.id,
        )
    )


def outcomes_of(request: MeetingRequest) -> list[MeetingOutcome]:
    return list(
        db.session.scalars(
            sa.select(MeetingOutcome)
            .where(MeetingOutcome.request_id == request.id)
            .order_by(MeetingOutcome.participant_id)
        )
    )


def _vendor_and_buyer(request: MeetingRequest) -> tuple[Organization, Organization] | None:
    first, second = request.requester.organization, request.requested.organization
    if first.kind == OrganizationKind.VENDOR and second.kind == OrganizationKind.BUYER:
        return first, second
    if first.kind == OrganizationKind.BUYER and second.kind == OrganizationKind.VENDOR:
        return second, first
    return None


def introduction_offer(request: MeetingRequest) -> str | None:
    """Why no introduction can be opened for this meeting, or None when it can: both
    sides said "cooperation possible", one is a vendor and one a buyer, none opened yet."""
    outcomes = outcomes_of(request)
    if len(outcomes) < 2 or any(o.rating != Rating.COOPERATION for o in outcomes):
        return gettext("both sides must say cooperation possible")
    if any(o.introduction_id is not None for o in outcomes):
        return gettext("an introduction was already opened")
    if _vendor_and_buyer(request) is None:
        return gettext("introductions are between a U.S. vendor and an ASEAN buyer")
    return None


def introduction_of(request: MeetingRequest) -> Introduction | None:
    found = db.session.scalar(
        sa.select(MeetingOutcome.introduction_id).where(
            MeetingOutcome.request_id == request.id, MeetingOutcome.introduction_id.is_not(None)
        )
    )
    return db.session.get(Introduction, found) if found is not None else None


def open_introduction(
    request: MeetingRequest,
    staff: User,
    *,
    confirm_duplicate: bool = False,
    now: dt.datetime | None = None,
) -> Introduction:
    """Open an introduction in state introduced for a pair that both said "cooperation
    possible": staff propose it, then each side accepts as the member who rated (their
    rating was their consent). Raises ``OutcomeError`` or the introductions' own errors
    (``DuplicateIntroduction`` when the pair has one open: confirm to go on)."""
    why_not = introduction_offer(request)
    if why_not is not None:
        raise OutcomeError(gettext("No introduction can be opened: %(reason)s.", reason=why_not))
    pair = _vendor_and_buyer(request)
    assert pair is not None  # checked by introduction_offer
    vendor, buyer = pair
    outcomes = outcomes_of(request)
    organization_of = {
        request.from_id: request.requester.organization_id,
        request.to_id: request.requested.organization_id,
    }
    raters: list[User] = []
    for outcome in outcomes:
        user = db.session.get(User, outcome.rated_by_id) if outcome.rated_by_id else None
        organization_id = organization_of.get(outcome.participant_id)
        if user is None or not user.active or user.organization_id != organization_id:
            raise OutcomeError(
                "The member who rated this meeting for one side is no longer with that "
                "organization; ask that side to rate it again."
            )
        raters.append(user)
    event = request.event
    introduction = introductions.propose_introduction(
        staff,
        vendor=vendor,
        buyer=buyer,
        note=f"You met at {event.name} and both said cooperation is possible.",
        confirm_duplicate=confirm_duplicate,
        now=now,
    )
    for user in raters:
        introductions.accept(introduction, user, now=now)
    for outcome in outcomes:
        outcome.introduction_id = introduction.id
    db.session.flush()
    return introduction


def pending_offers(event_id: int) -> list[MeetingRequest]:
    """The event's meetings both sides rated "cooperation possible" with no introduction
    opened yet, for the staff agenda."""
    both = (
        sa.select(MeetingOutcome.request_id)
        .join(MeetingRequest, MeetingRequest.id == MeetingOutcome.request_id)
        .where(MeetingRequest.event_id == event_id)
        .group_by(MeetingOutcome.request_id)
        .having(
            sa.func.count() == 2,
            sa.func.sum(sa.case((MeetingOutcome.rating == Rating.COOPERATION, 1), else_=0)) == 2,
            sa.func.count(MeetingOutcome.introduction_id) == 0,
        )
    )
    return list(
        db.session.scalars(
            sa.select(MeetingRequest).where(MeetingRequest.id.in_(both)).order_by(MeetingRequest.id)
        )
    )
