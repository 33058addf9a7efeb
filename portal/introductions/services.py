"""The introduction workflow: one table of allowed transitions, one function that takes them.

Every change of state goes through ``transition``: it checks the pair (from, to) against
``TRANSITIONS``, checks that the actor holds one of the roles that pair allows, applies
what the new state means (consent, dates, contacts shared), writes one audit row, flushes
and queues the mail. A broken rule raises an ``IntroductionError`` before anything is
written. Two people acting at once: SQLAlchemy's version counter makes the UPDATE say
``WHERE version = :seen``, the loser's flush matches no row and raises
``ChangedByOthers``; the caller rolls back, so nothing is half-done.

The helpers above ``transition`` (``accept``, ``decline`` ...) are what views and the CLI
call; they only choose the target state. Services flush and never commit.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext, ngettext
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from portal.accounts.models import User
from portal.db import utc_now
from portal.extensions import db
from portal.introductions import notifications
from portal.introductions.models import (
    CONTACT_SHARING_STATES,
    ONGOING_OUTCOME_STATES,
    OPEN_STATES,
    EventKind,
    Introduction,
    IntroductionEvent,
    IntroState,
    Side,
)
from portal.needs.models import Need
from portal.organizations.models import Organization, OrganizationKind
from portal.signals import introduction_changed

MAX_NOTE = 5000

# --- errors ------------------------------------------------------------------------------


class IntroductionError(ValueError):
    """A rule of the workflow was broken; nothing was changed. ``field`` names a form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class IllegalTransition(IntroductionError):
    """The introduction cannot go from its state to the one asked for."""


class NotAllowed(IntroductionError):
    """The user may see the introduction but may not take this step (views answer 403)."""


class ChangedByOthers(IntroductionError):
    """Someone else changed the introduction first; the caller must roll back."""

    def __init__(self) -> None:
        super().__init__(
            gettext(
                "This introduction was changed by someone else in the meantime; nothing was "
                "changed by you. Here is how it stands now."
            )
        )


class DuplicateIntroduction(IntroductionError):
    """The pair already has an open or introduced introduction; confirm to go on."""

    def __init__(self, existing: list[Introduction]) -> None:
        states = ", ".join(sorted({intro.state_label.lower() for intro in existing}))
        super().__init__(
            ngettext(
                "These two organizations already have %(num)s introduction (%(states)s). "
                "Tick the box to confirm that another one is wanted.",
                "These two organizations already have %(num)s introductions (%(states)s). "
                "Tick the box to confirm that another one is wanted.",
                len(existing),
                states=states,
            ),
            field="confirm",
        )
        self.existing = existing


# --- who may take which step ------------------------------------------------------------


class Role(StrEnum):
    """What a user is to one introduction; a pair in ``TRANSITIONS`` names the roles."""

    STAFF = "staff"
    REQUESTER = "requester"  # a member of the organization that asked
    AWAITED = "awaited"  # a member of a side whose consent is still missing
    PARTY = "party"  # a member of either organization
    SYSTEM = "system"  # the portal itself (expiry)


S = IntroState
_OUTCOME_ACTORS = frozenset({Role.PARTY, Role.STAFF})
_WITHDRAWERS = frozenset({Role.PARTY})

TRANSITIONS: dict[tuple[IntroState, IntroState], frozenset[Role]] = {
    (S.REQUESTED, S.UNDER_REVIEW): frozenset({Role.STAFF}),
    (S.REQUESTED, S.WITHDRAWN): _WITHDRAWERS,
    (S.REQUESTED, S.EXPIRED): frozenset({Role.SYSTEM}),
    (S.UNDER_REVIEW, S.APPROVED): frozenset({Role.STAFF}),
    (S.UNDER_REVIEW, S.DECLINED): frozenset({Role.STAFF}),
    (S.UNDER_REVIEW, S.WITHDRAWN): _WITHDRAWERS,
    (S.UNDER_REVIEW, S.EXPIRED): frozenset({Role.SYSTEM}),
    (S.APPROVED, S.ACCEPTED): frozenset({Role.AWAITED}),
    (S.APPROVED, S.DECLINED): frozenset({Role.AWAITED}),
    (S.APPROVED, S.WITHDRAWN): _WITHDRAWERS,
    (S.APPROVED, S.EXPIRED): frozenset({Role.SYSTEM}),
    (S.ACCEPTED, S.INTRODUCED): frozenset({Role.AWAITED}),
    (S.ACCEPTED, S.DECLINED): frozenset({Role.AWAITED}),
    (S.ACCEPTED, S.WITHDRAWN): _WITHDRAWERS,
    (S.ACCEPTED, S.EXPIRED): frozenset({Role.SYSTEM}),
    (S.INTRODUCED, S.MEETING_HELD): _OUTCOME_ACTORS,
    (S.INTRODUCED, S.STALLED): _OUTCOME_ACTORS,
    (S.MEETING_HELD, S.PROPOSAL_SUBMITTED): _OUTCOME_ACTORS,
    (S.MEETING_HELD, S.STALLED): _OUTCOME_ACTORS,
    (S.PROPOSAL_SUBMITTED, S.WON): _OUTCOME_ACTORS,
    (S.PROPOSAL_SUBMITTED, S.LOST): _OUTCOME_ACTORS,
    (S.PROPOSAL_SUBMITTED, S.STALLED): _OUTCOME_ACTORS,
    # Leaving 'stalled' is logging progress: only to a step after the one it stalled at
    # (checked against ``stalled_from``, see ``_check_guard``).
    (S.STALLED, S.MEETING_HELD): _OUTCOME_ACTORS,
    (S.STALLED, S.PROPOSAL_SUBMITTED): _OUTCOME_ACTORS,
    (S.STALLED, S.WON): _OUTCOME_ACTORS,
    (S.STALLED, S.LOST): _OUTCOME_ACTORS,
}

# The outcome steps in order; from 'stalled' only the next step of the state it left.
NEXT_OUTCOME: dict[IntroState, frozenset[IntroState]] = {
    S.INTRODUCED: frozenset({S.MEETING_HELD}),
    S.MEETING_HELD: frozenset({S.PROPOSAL_SUBMITTED}),
    S.PROPOSAL_SUBMITTED: frozenset({S.WON, S.LOST}),
}
OUTCOME_TARGETS = frozenset({S.MEETING_HELD, S.PROPOSAL_SUBMITTED, S.WON, S.LOST, S.STALLED})


def side_of(introduction: Introduction, user: User | Any) -> Side | None:
    """The side ``user`` belongs to in this introduction, if any."""
    if not getattr(user, "is_authenticated", False) or user.organization_id is None:
        return None
    if user.organization_id == introduction.vendor_id:
        return Side.VENDOR
    if user.organization_id == introduction.buyer_id:
        return Side.BUYER
    return None


def _is_staff(user: User | Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_staff", False))


def awaited_sides(introduction: Introduction) -> list[Side]:
    """The sides whose consent is still missing, once staff approved."""
    if introduction.state not in (S.APPROVED, S.ACCEPTED):
        return []
    return [side for side in Side if introduction.consented_at(side) is None]


def roles_of(introduction: Introduction, user: User | Any | None) -> frozenset[Role]:
    if user is None:
        return frozenset({Role.SYSTEM})
    if _is_staff(user):
        return frozenset({Role.STAFF})
    side = side_of(introduction, user)
    if side is None or not can_view(introduction, user):
        return frozenset()
    roles = {Role.PARTY}
    if side == introduction.requesting_side:
        roles.add(Role.REQUESTER)
    if side in awaited_sides(introduction):
        roles.add(Role.AWAITED)
    return frozenset(roles)


def can_view(introduction: Introduction, user: User | Any) -> bool:
    """Staff see every introduction; the side that asked sees its own request; the other
    side sees it once staff approved it (a request staff turn down never reaches it)."""
    if _is_staff(user):
        return True
    side = side_of(introduction, user)
    if side is None:
        return False
    return side == introduction.requesting_side or introduction.approved_at is not None


def allowed_targets(introduction: Introduction, user: User | Any) -> list[IntroState]:
    """The states ``user`` could move the introduction to now (for the page's buttons)."""
    roles = roles_of(introduction, user)
    targets = []
    for (source, target), who in TRANSITIONS.items():
        if source == introduction.state and roles & who and _guard_ok(introduction, target):
            targets.append(target)
    return targets


def _guard_ok(introduction: Introduction, target: IntroState) -> bool:
    if introduction.state == S.STALLED:
        resumed = IntroState(introduction.stalled_from or S.INTRODUCED)
        return target in NEXT_OUTCOME.get(resumed, frozenset())
    return True


# --- the one place states change ---------------------------------------------------------


def _clean(note: str | None, field: str = "note") -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise IntroductionError(gettext("keep it under %(max)s characters", max=MAX_NOTE), field)
    return note


def _actor_role(introduction: Introduction, actor: User | None) -> str:
    if actor is None:
        return "system"
    if _is_staff(actor):
        return "staff"
    side = side_of(introduction, actor)
    if side is None:  # roles_of refused anyone else before we got here
        raise NotAllowed(
            gettext("only the two organizations and trade staff act on an introduction")
        )
    return side.value


def log_event(
    introduction: Introduction,
    kind: EventKind,
    actor: User | None,
    *,
    from_state: str | None,
    to_state: str,
    note: str = "",
    private: bool = False,
    now: dt.datetime,
) -> IntroductionEvent:
    event = IntroductionEvent(
        introduction=introduction,
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        actor_role=_actor_role(introduction, actor),
        actor_name=(actor.full_name or actor.email) if actor is not None else "",
        note=note,
        private=private,
        created_at=now,
    )
    db.session.add(event)
    return event


def flush_or_conflict() -> None:
    """Flush, turning a lost race on the version counter into ``ChangedByOthers``."""
    try:
        db.session.flush()
    except StaleDataError as exc:
        raise ChangedByOthers() from exc


def transition(
    introduction: Introduction,
    to_state: IntroState | str,
    actor: User | None,
    *,
    note: str = "",
    private_reason: str = "",
    expected_state: str | None = None,
    now: dt.datetime | None = None,
) -> IntroductionEvent:
    """Move ``introduction`` to ``to_state`` on behalf of ``actor`` (None: the portal).

    ``note`` is shown to both sides and staff; ``private_reason`` only to staff (its own
    audit row). ``expected_state`` is the state the actor saw: if it moved meanwhile, the
    step is refused as ``ChangedByOthers``. Flushes; the caller commits or rolls back.
    """
    now = now or utc_now()
    if expected_state is not None and expected_state != introduction.state:
        raise ChangedByOthers()
    source = IntroState(introduction.state)
    try:
        target = IntroState(to_state)
    except ValueError:
        raise IllegalTransition(f"'{to_state}' is not a state of an introduction") from None
    allowed = TRANSITIONS.get((source, target))
    if allowed is None or not _guard_ok(introduction, target):
        raise IllegalTransition(
            gettext(
                "An introduction that is %(source)s cannot become %(target)s; nothing was changed.",
                source=source.label.lower(),
                target=target.label.lower(),
            )
        )
    if not roles_of(introduction, actor) & allowed:
        raise NotAllowed(
            gettext("You may not mark this introduction as %(state)s.", state=target.label.lower())
        )
    note = _clean(note)
    private_reason = _clean(private_reason, "private_reason")
    if target == S.DECLINED and _is_staff(actor) and not note:
        raise IntroductionError(gettext("give the reason, so the requester knows why"), "reason")

    introduction.state = target
    introduction.state_changed_at = now
    introduction.reminder_sent_at = None
    if target == S.APPROVED:
        introduction.approved_at = now
    elif target == S.INTRODUCED:
        introduction.introduced_at = now
    elif target == S.STALLED:
        introduction.stalled_from = source
    if source == S.STALLED:
        introduction.stalled_from = None
    event = log_event(
        introduction,
        EventKind.TRANSITION,
        actor,
        from_state=source,
        to_state=target,
        note=note,
        now=now,
    )
    if private_reason:
        log_event(
            introduction,
            EventKind.NOTE,
            actor,
            from_state=target,
            to_state=target,
            note=private_reason,
            private=True,
            now=now,
        )
    flush_or_conflict()
    notifications.after_transition(introduction, source, target, actor, note)
    introduction_changed.send(introduction, previous=source.value, actor=actor)
    return event


# --- the steps people take ---------------------------------------------------------------


def take_for_review(
    introduction: Introduction, staff: User, *, expected_state: str | None = None
) -> IntroductionEvent:
    return transition(introduction, S.UNDER_REVIEW, staff, expected_state=expected_state)


def approve(
    introduction: Introduction, staff: User, *, note: str = "", expected_state: str | None = None
) -> IntroductionEvent:
    """Staff agree; ``note`` goes to both sides with the request for consent."""
    return transition(introduction, S.APPROVED, staff, note=note, expected_state=expected_state)


def decline(
    introduction: Introduction,
    user: User,
    *,
    reason: str = "",
    private_reason: str = "",
    expected_state: str | None = None,
) -> IntroductionEvent:
    """Staff decline with a ``reason`` the requester reads (and maybe a private one); a
    side asked to consent declines with an optional ``private_reason`` only staff read."""
    return transition(
        introduction,
        S.DECLINED,
        user,
        note=reason if _is_staff(user) else "",
        private_reason=private_reason,
        expected_state=expected_state,
    )


def accept(
    introduction: Introduction,
    user: User,
    *,
    expected_state: str | None = None,
    now: dt.datetime | None = None,
) -> list[IntroductionEvent]:
    """A side consents. The first of two consents takes approved -> accepted; the second
    takes accepted -> introduced. A member's request carried its own side's consent, so
    the other side's acceptance takes both steps, each logged."""
    now = now or utc_now()
    if expected_state is not None and expected_state != introduction.state:
        raise ChangedByOthers()
    side = side_of(introduction, user)
    if side is None or not can_view(introduction, user):
        raise NotAllowed(gettext("Only the two organizations accept an introduction."))
    if introduction.state not in (S.APPROVED, S.ACCEPTED):
        raise IllegalTransition(
            gettext(
                "This introduction is %(state)s; there is nothing to accept. Nothing was changed.",
                state=introduction.state_label.lower(),
            )
        )
    if introduction.consented_at(side) is not None:
        other = introduction.organization(side.other).name
        raise IntroductionError(
            gettext(
                "Your organization has already accepted; it is up to %(name)s now. Nothing "
                "was changed.",
                name=other,
            )
        )
    events = []
    if introduction.state == S.APPROVED:
        events.append(transition(introduction, S.ACCEPTED, user, now=now))
    if introduction.consented_at(side.other) is not None:
        events.append(transition(introduction, S.INTRODUCED, user, now=now))
    if side == Side.VENDOR:
        introduction.vendor_consented_at = now
    else:
        introduction.buyer_consented_at = now
    flush_or_conflict()
    return events


def withdraw(
    introduction: Introduction,
    user: User,
    *,
    private_reason: str = "",
    expected_state: str | None = None,
) -> IntroductionEvent:
    return transition(
        introduction,
        S.WITHDRAWN,
        user,
        private_reason=private_reason,
        expected_state=expected_state,
    )


def log_outcome(
    introduction: Introduction,
    user: User,
    outcome: IntroState | str,
    *,
    note: str = "",
    expected_state: str | None = None,
) -> IntroductionEvent:
    """Record how an introduction went: a meeting, a proposal, won, lost, or stalled."""
    if outcome not in OUTCOME_TARGETS:
        raise IllegalTransition(f"'{outcome}' is not an outcome; nothing was changed.")
    return transition(introduction, outcome, user, note=note, expected_state=expected_state)


def add_note(
    introduction: Introduction, staff: User, note: str, *, private: bool = True
) -> IntroductionEvent:
    """A staff note on the audit trail, private unless staff choose to share it."""
    if not _is_staff(staff):
        raise NotAllowed(gettext("Only trade staff add notes to an introduction."))
    note = _clean(note)
    if not note:
        raise IntroductionError(gettext("write the note first"), "note")
    event = log_event(
        introduction,
        EventKind.NOTE,
        staff,
        from_state=introduction.state,
        to_state=introduction.state,
        note=note,
        private=private,
        now=utc_now(),
    )
    db.session.flush()
    return event


# --- asking for an introduction ---------------------------------------------------------


def find_introduction(introduction_id: int) -> Introduction | None:
    return db.session.get(Introduction, introduction_id)


def existing_between(vendor: Organization, buyer: Organization) -> list[Introduction]:
    """Introductions of this pair that are still open or went as far as introduced."""
    states = [state.value for state in OPEN_STATES | CONTACT_SHARING_STATES]
    return list(
        db.session.scalars(
            sa.select(Introduction)
            .where(
                Introduction.vendor_id == vendor.id,
                Introduction.buyer_id == buyer.id,
                Introduction.state.in_(states),
            )
            .order_by(Introduction.id)
        )
    )


def _check_pair(vendor: Organization, buyer: Organization, need: Need | None) -> None:
    if vendor.kind != OrganizationKind.VENDOR:
        raise IntroductionError(gettext("the vendor must be a U.S. vendor organization"), "vendor")
    if buyer.kind != OrganizationKind.BUYER:
        raise IntroductionError(gettext("the buyer must be an ASEAN buyer organization"), "buyer")
    for organization, field in ((vendor, "vendor"), (buyer, "buyer")):
        if not organization.is_verified:
            raise IntroductionError(
                gettext(
                    "%(name)s is not verified yet; only verified organizations are introduced",
                    name=organization.name,
                ),
                field,
            )
    if need is not None:
        if need.buyer_id != buyer.id:
            raise IntroductionError(gettext("that need was posted by another buyer"), "need")
        if not need.is_public:
            raise IntroductionError(gettext("that need is no longer open"), "need")


def _create(
    vendor: Organization,
    buyer: Organization,
    need: Need | None,
    origin: str,
    user: User,
    message: str,
    confirm_duplicate: bool,
    now: dt.datetime,
) -> Introduction:
    _check_pair(vendor, buyer, need)
    message = _clean(message, "message")
    existing = existing_between(vendor, buyer)
    if existing and not confirm_duplicate:
        raise DuplicateIntroduction(existing)
    introduction = Introduction(
        vendor=vendor,
        vendor_id=vendor.id,
        buyer=buyer,
        buyer_id=buyer.id,
        need=need,
        state=S.REQUESTED,
        requested_by_side=origin,
        requested_by=user,
        vendor_consented_at=now if origin == Side.VENDOR else None,
        buyer_consented_at=now if origin == Side.BUYER else None,
        state_changed_at=now,
        created_at=now,
    )
    db.session.add(introduction)
    log_event(
        introduction,
        EventKind.TRANSITION,
        user,
        from_state=None,
        to_state=S.REQUESTED,
        note=message,
        now=now,
    )
    db.session.flush()
    return introduction


def request_introduction(
    requester: User,
    *,
    vendor: Organization,
    buyer: Organization,
    need: Need | None = None,
    message: str = "",
    confirm_duplicate: bool = False,
    now: dt.datetime | None = None,
) -> Introduction:
    """A member asks staff to introduce their organization to the other one. Asking is
    their side's consent; staff review it before the other side hears of it."""
    now = now or utc_now()
    side = None
    if getattr(requester, "organization_id", None) == vendor.id:
        side = Side.VENDOR
    elif getattr(requester, "organization_id", None) == buyer.id:
        side = Side.BUYER
    if side is None or _is_staff(requester):
        raise NotAllowed(gettext("Members ask for introductions to their own organization."))
    introduction = _create(vendor, buyer, need, side, requester, message, confirm_duplicate, now)
    notifications.request_received(introduction, introduction.events[0].note)
    return introduction


def propose_introduction(
    staff: User,
    *,
    vendor: Organization,
    buyer: Organization,
    need: Need | None = None,
    note: str = "",
    confirm_duplicate: bool = False,
    now: dt.datetime | None = None,
) -> Introduction:
    """Staff propose a pair themselves: requested, reviewed and approved in one go (each
    step logged), so both sides are asked for consent at once; ``note`` goes to both."""
    if not _is_staff(staff):
        raise NotAllowed(gettext("Only trade staff propose introductions."))
    now = now or utc_now()
    introduction = _create(vendor, buyer, need, "staff", staff, "", confirm_duplicate, now)
    transition(introduction, S.UNDER_REVIEW, staff, now=now)
    transition(introduction, S.APPROVED, staff, note=note, now=now)
    return introduction


# --- lists and what to do next ----------------------------------------------------------


def _visible_to_side(organization_id: int) -> sa.ColumnElement[bool]:
    """Introductions the members of this organization see (see ``can_view``)."""
    approved = Introduction.approved_at.is_not(None)
    return sa.or_(
        sa.and_(
            Introduction.vendor_id == organization_id,
            sa.or_(Introduction.requested_by_side == Side.VENDOR, approved),
        ),
        sa.and_(
            Introduction.buyer_id == organization_id,
            sa.or_(Introduction.requested_by_side == Side.BUYER, approved),
        ),
    )


def introductions_of(organization: Organization) -> list[Introduction]:
    """An organization's introductions, the most recently changed first."""
    return list(
        db.session.scalars(
            sa.select(Introduction)
            .where(_visible_to_side(organization.id))
            .options(selectinload(Introduction.vendor), selectinload(Introduction.buyer))
            .order_by(Introduction.state_changed_at.desc(), Introduction.id.desc())
        )
    )


def staff_introductions_query(state: str | None = None) -> sa.Select[tuple[Introduction]]:
    """Every introduction for staff, narrowed to one state, the most recently changed first."""
    query = sa.select(Introduction).options(
        selectinload(Introduction.vendor), selectinload(Introduction.buyer)
    )
    if state:
        query = query.where(Introduction.state == state)
    return query.order_by(Introduction.state_changed_at.desc(), Introduction.id.desc())


def visible_events(introduction: Introduction, viewer: User | Any) -> list[IntroductionEvent]:
    """The audit trail as ``viewer`` may read it: everything for staff, the rest without
    private rows."""
    if _is_staff(viewer):
        return list(introduction.events)
    return [event for event in introduction.events if not event.private]


def actor_shown(event: IntroductionEvent, introduction: Introduction, viewer: User | Any) -> str:
    """Who took a step, as ``viewer`` may read it.

    A member's name is one of their organization's private details, like its contacts:
    staff see every name; members see their own side's, and the other side's only once
    the two are introduced (when contacts are shared too). Before that, the other side's
    steps show its organization's name; staff steps show "trade staff" to members.
    """
    if event.actor_role == "system":
        return "the portal"
    if event.actor_role == "staff":
        return event.actor_name if _is_staff(viewer) else "trade staff"
    side = Side(event.actor_role)
    introduced = introduction.state in CONTACT_SHARING_STATES
    if _is_staff(viewer) or side_of(introduction, viewer) == side or introduced:
        return f"{event.actor_name} ({side.value})"
    return f"{introduction.organization(side).name} ({side.value})"


def next_step(introduction: Introduction, viewer: User | Any) -> str:
    """One sentence: what happens next, said to ``viewer``."""
    state = IntroState(introduction.state)
    side = side_of(introduction, viewer)
    if state in (S.REQUESTED, S.UNDER_REVIEW):
        if _is_staff(viewer):
            return gettext("Review it: approve it or decline it with a reason.")
        return gettext("Trade staff review the request.")
    if state in (S.APPROVED, S.ACCEPTED):
        awaited = awaited_sides(introduction)
        if side is not None and side in awaited:
            return gettext("Accept or decline the introduction.")
        names = [introduction.organization(s).name for s in awaited]
        if len(names) == 2:
            return gettext(
                "Waiting for %(first)s and %(second)s to accept.", first=names[0], second=names[1]
            )
        return gettext("Waiting for %(name)s to accept.", name="".join(names))
    if state in ONGOING_OUTCOME_STATES:
        return gettext("Log how it goes: a meeting, a proposal, won or lost.")
    return gettext("Nothing: this introduction is closed.")
