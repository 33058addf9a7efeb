"""The introduction state machine, through the services: every step, every refusal."""

from __future__ import annotations

import pytest
from flask import Flask
from introductions.intro_factories import Pair, make_pair, walk_to
from organizations.directory_factories import make_need, make_org
from support import count_rows

from portal.extensions import db
from portal.introductions import services
from portal.introductions.models import (
    EventKind,
    Introduction,
    IntroductionEvent,
    IntroState,
)
from portal.introductions.services import (
    TRANSITIONS,
    DuplicateIntroduction,
    IllegalTransition,
    IntroductionError,
    NotAllowed,
)
from portal.needs.models import NeedStatus
from portal.organizations.models import OrganizationKind

S = IntroState


@pytest.fixture
def pair(app: Flask) -> Pair:
    return make_pair()


def transitions(intro: Introduction) -> list[tuple[str | None, str]]:
    return [(e.from_state, e.to_state) for e in intro.events if e.kind == EventKind.TRANSITION]


def test_member_request_introduction_walks_every_state_and_logs_each(pair: Pair) -> None:
    intro = services.request_introduction(
        pair.vendor_member,
        vendor=pair.vendor,
        buyer=pair.buyer,
        need=pair.need,
        message="We light old towns.",
    )
    assert intro.state == S.REQUESTED
    assert intro.vendor_consented_at is not None and intro.buyer_consented_at is None

    services.take_for_review(intro, pair.staff)
    services.approve(intro, pair.staff, note="Worth a call.")
    events = services.accept(intro, pair.buyer_member)

    assert intro.state == S.INTRODUCED
    assert [e.to_state for e in events] == [S.ACCEPTED, S.INTRODUCED]
    assert transitions(intro) == [
        (None, S.REQUESTED),
        (S.REQUESTED, S.UNDER_REVIEW),
        (S.UNDER_REVIEW, S.APPROVED),
        (S.APPROVED, S.ACCEPTED),
        (S.ACCEPTED, S.INTRODUCED),
    ]
    first = intro.events[0]
    assert (first.actor, first.actor_role, first.note) == (
        pair.vendor_member,
        "vendor",
        "We light old towns.",
    )
    assert intro.events[2].note == "Worth a call." and intro.events[2].actor_role == "staff"
    assert intro.introduced_at is not None and intro.buyer_consented_at is not None


def test_staff_proposed_introduction_needs_both_sides_to_accept(pair: Pair) -> None:
    intro = services.propose_introduction(
        pair.staff, vendor=pair.vendor, buyer=pair.buyer, note="You two should talk."
    )
    assert intro.state == S.APPROVED
    assert transitions(intro) == [
        (None, S.REQUESTED),
        (S.REQUESTED, S.UNDER_REVIEW),
        (S.UNDER_REVIEW, S.APPROVED),
    ]
    assert services.awaited_sides(intro) == ["vendor", "buyer"]

    services.accept(intro, pair.buyer_member)
    assert intro.state == S.ACCEPTED
    assert services.awaited_sides(intro) == ["vendor"]
    with pytest.raises(IntroductionError, match="already accepted"):
        services.accept(intro, pair.buyer_member)

    services.accept(intro, pair.vendor_member)
    assert intro.state == S.INTRODUCED
    assert transitions(intro)[-2:] == [(S.APPROVED, S.ACCEPTED), (S.ACCEPTED, S.INTRODUCED)]


def test_illegal_introduction_transition_changes_nothing(pair: Pair) -> None:
    """From every state, every target the table does not list is refused for everyone."""
    actors = [pair.staff, pair.vendor_member, pair.buyer_member, None]
    tried = 0
    for source in IntroState:
        intro = walk_to(pair, source)
        before = (intro.state, intro.version, count_rows(IntroductionEvent))
        for target in IntroState:
            if (source, target) in TRANSITIONS:
                continue
            for actor in actors:
                with pytest.raises(IllegalTransition, match="nothing was changed"):
                    services.transition(intro, target, actor)
                tried += 1
        assert (intro.state, intro.version, count_rows(IntroductionEvent)) == before
    assert tried == 4 * (len(IntroState) ** 2 - len(TRANSITIONS))


def test_introduction_transition_refuses_the_wrong_people(pair: Pair) -> None:
    """For every allowed step, everyone the table does not name is refused."""
    people = {
        "staff": pair.staff,
        "admin": pair.admin,
        "vendor": pair.vendor_member,
        "buyer": pair.buyer_member,
        "outsider": pair.outsider,
        "system": None,
    }
    refused = set()
    for (source, target), allowed in TRANSITIONS.items():
        intro = walk_to(pair, source)
        for name, person in people.items():
            if services.roles_of(intro, person) & allowed or not services._guard_ok(intro, target):
                continue
            with pytest.raises(NotAllowed):
                services.transition(intro, target, person, note="x")
            assert intro.state == source, name
            refused.add(name)
    assert refused == set(people)


def test_introduction_outcomes_in_order_and_stalled_resumes_forward(pair: Pair) -> None:
    intro = walk_to(pair, S.INTRODUCED)
    with pytest.raises(IllegalTransition):  # no skipping the meeting
        services.log_outcome(intro, pair.vendor_member, S.PROPOSAL_SUBMITTED)
    services.log_outcome(intro, pair.vendor_member, S.MEETING_HELD, note="Met in Hue.")
    services.log_outcome(intro, pair.buyer_member, S.STALLED)
    assert intro.stalled_from == S.MEETING_HELD
    assert services.allowed_targets(intro, pair.buyer_member) == [S.PROPOSAL_SUBMITTED]
    with pytest.raises(IllegalTransition):
        services.log_outcome(intro, pair.buyer_member, S.WON)
    services.log_outcome(intro, pair.staff, S.PROPOSAL_SUBMITTED)
    assert intro.stalled_from is None
    services.log_outcome(intro, pair.buyer_member, S.WON)
    assert intro.state == S.WON
    with pytest.raises(IllegalTransition):
        services.log_outcome(intro, pair.buyer_member, S.STALLED)
    with pytest.raises(IllegalTransition):
        services.log_outcome(intro, pair.buyer_member, S.INTRODUCED)


@pytest.mark.parametrize("state", [S.REQUESTED, S.UNDER_REVIEW, S.APPROVED, S.ACCEPTED])
def test_either_side_withdraws_an_introduction_before_it_is_introduced(
    pair: Pair, state: IntroState
) -> None:
    intro = walk_to(pair, state, origin="buyer")
    side = "buyer" if intro.approved_at is None else "vendor"
    services.withdraw(intro, pair.member(side), private_reason="Budget frozen.")
    assert intro.state == S.WITHDRAWN
    note = intro.events[-1]
    assert note.kind == EventKind.NOTE and note.private and note.note == "Budget frozen."


def test_introduction_cannot_be_withdrawn_once_introduced(pair: Pair) -> None:
    intro = walk_to(pair, S.INTRODUCED)
    with pytest.raises(IllegalTransition):
        services.withdraw(intro, pair.vendor_member)


def test_other_side_does_not_see_an_introduction_request_until_staff_approve(pair: Pair) -> None:
    intro = walk_to(pair, S.UNDER_REVIEW, origin="vendor")
    assert services.can_view(intro, pair.vendor_member)
    assert not services.can_view(intro, pair.buyer_member)
    assert services.introductions_of(pair.buyer) == []
    with pytest.raises(NotAllowed):
        services.withdraw(intro, pair.buyer_member)
    services.approve(intro, pair.staff)
    assert services.can_view(intro, pair.buyer_member)
    assert services.introductions_of(pair.buyer) == [intro]
    assert not services.can_view(intro, pair.outsider)


def test_declined_introduction_private_reason_is_for_staff_only(pair: Pair) -> None:
    intro = walk_to(pair, S.APPROVED, origin="vendor")
    services.decline(intro, pair.buyer_member, private_reason="We already work with a rival.")
    assert intro.state == S.DECLINED
    staff_view = [e.note for e in services.visible_events(intro, pair.staff)]
    member_view = [e.note for e in services.visible_events(intro, pair.vendor_member)]
    assert "We already work with a rival." in staff_view
    assert "We already work with a rival." not in member_view
    assert member_view  # the members still see the steps themselves


def test_staff_decline_of_an_introduction_needs_a_reason(pair: Pair) -> None:
    intro = walk_to(pair, S.UNDER_REVIEW)
    with pytest.raises(IntroductionError, match="reason"):
        services.decline(intro, pair.staff, reason="  ")
    assert intro.state == S.UNDER_REVIEW
    services.decline(intro, pair.staff, reason="Outside the program.", private_reason="Spam.")
    assert [e.private for e in intro.events[-2:]] == [False, True]


def test_duplicate_introduction_needs_confirmation(pair: Pair) -> None:
    walk_to(pair, S.INTRODUCED)
    with pytest.raises(DuplicateIntroduction) as caught:
        services.propose_introduction(pair.staff, vendor=pair.vendor, buyer=pair.buyer)
    assert len(caught.value.existing) == 1
    second = services.propose_introduction(
        pair.staff, vendor=pair.vendor, buyer=pair.buyer, confirm_duplicate=True
    )
    assert second.state == S.APPROVED


def test_closed_introductions_do_not_count_as_duplicates(pair: Pair) -> None:
    walk_to(pair, S.DECLINED)
    again = services.request_introduction(pair.vendor_member, vendor=pair.vendor, buyer=pair.buyer)
    assert again.state == S.REQUESTED


def test_introduction_only_between_verified_organizations_and_public_needs(pair: Pair) -> None:
    pending_buyer = make_org(OrganizationKind.BUYER, "Pending Buyer", verified=False)
    with pytest.raises(IntroductionError, match="not verified"):
        services.propose_introduction(pair.staff, vendor=pair.vendor, buyer=pending_buyer)
    closed = make_need(pair.buyer, "Closed tender", status=NeedStatus.CLOSED)
    with pytest.raises(IntroductionError, match="no longer open"):
        services.request_introduction(
            pair.vendor_member, vendor=pair.vendor, buyer=pair.buyer, need=closed
        )
    other_need = make_need(make_org(OrganizationKind.BUYER, "Other Buyer"), "Other need")
    with pytest.raises(IntroductionError, match="another buyer"):
        services.request_introduction(
            pair.vendor_member, vendor=pair.vendor, buyer=pair.buyer, need=other_need
        )
    with pytest.raises(IntroductionError, match="vendor"):
        services.propose_introduction(pair.staff, vendor=pair.buyer, buyer=pair.buyer)
    with pytest.raises(NotAllowed):  # a member asks only for their own organization
        services.request_introduction(pair.outsider, vendor=pair.vendor, buyer=pair.buyer)
    with pytest.raises(NotAllowed):
        services.propose_introduction(pair.vendor_member, vendor=pair.vendor, buyer=pair.buyer)
    assert count_rows(Introduction) == 0


def test_introduction_audit_trail_is_append_only(pair: Pair) -> None:
    intro = walk_to(pair, S.APPROVED)
    event = intro.events[0]
    event.note = "rewritten"
    with pytest.raises(Exception, match="never changed"):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(IntroductionEvent, event.id))
    with pytest.raises(Exception, match="kept forever"):
        db.session.flush()
    db.session.rollback()


def test_staff_note_on_an_introduction(pair: Pair) -> None:
    intro = walk_to(pair, S.REQUESTED)
    services.add_note(intro, pair.staff, "Called their office.", private=True)
    services.add_note(intro, pair.staff, "Both sides are keen.", private=False)
    assert [e.note for e in services.visible_events(intro, pair.vendor_member)][-1] == (
        "Both sides are keen."
    )
    with pytest.raises(NotAllowed):
        services.add_note(intro, pair.vendor_member, "hello")
    with pytest.raises(IntroductionError):
        services.add_note(intro, pair.staff, "   ")


def test_next_step_of_an_introduction_speaks_to_the_viewer(pair: Pair) -> None:
    intro = walk_to(pair, S.APPROVED, origin="vendor")
    assert services.next_step(intro, pair.buyer_member) == "Accept or decline the introduction."
    assert services.next_step(intro, pair.vendor_member) == (
        f"Waiting for {pair.buyer.name} to accept."
    )
