"""After the meeting: each side's word, and the introduction both "cooperation possible"
open straight in state introduced through the introductions' own steps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from agenda_factories import Scheduled, scheduled_event
from flask import Flask
from flask.testing import FlaskClient
from introductions.intro_factories import make_member, make_person
from organizations.directory_factories import log_in, make_contact

from portal.accounts.models import Role, User
from portal.db import utc_now
from portal.extensions import db
from portal.introductions import services as introductions
from portal.introductions.models import Introduction, IntroductionEvent, IntroState
from portal.missions import outcomes
from portal.missions.models import MeetingOutcome
from portal.organizations.services import visible_contacts


@pytest.fixture
def past(app: Flask, tmp_path: Path) -> Scheduled:
    """The small event, published, its meetings a year ago."""
    made = scheduled_event(tmp_path)
    made.shift(-dt.timedelta(days=400))
    return made


def _rate(made: Scheduled, who: str, with_: str, user: User, rating: str, **kw: str) -> None:
    outcomes.record_outcome(
        made.participant(who),
        made.meeting(who, with_),
        user,
        attendance=kw.get("attendance", "held"),
        rating=rating,
        note=kw.get("note", ""),
    )


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(MeetingOutcome)) or 0


def test_each_side_rates_once_and_may_change_its_mind(app: Flask, past: Scheduled) -> None:
    bolt = make_member(past.organization("bolt"))
    _rate(past, "bolt", "city", bolt, "interesting", note="Good fit for the bridge")
    _rate(past, "bolt", "city", bolt, "no-interest")
    [row] = db.session.scalars(sa.select(MeetingOutcome)).all()
    assert (row.rating, row.note, row.rated_by_id) == ("no-interest", "", bolt.id)


@pytest.mark.parametrize(
    ("attendance", "rating", "field", "message"),
    [
        ("no-show", "interesting", "rating", "A no-show did not take place"),
        ("held", "not-held", "rating", "took place"),
        ("maybe", "interesting", "attendance", "Choose held or no-show"),
        ("held", "great", "rating", "Choose one of the ratings"),
    ],
)
def test_inconsistent_or_unknown_answers_change_nothing(
    app: Flask, past: Scheduled, attendance: str, rating: str, field: str, message: str
) -> None:
    with pytest.raises(outcomes.OutcomeError, match=message) as error:
        _rate(
            past,
            "bolt",
            "city",
            make_member(past.organization("bolt")),
            rating,
            attendance=attendance,
        )
    assert error.value.field == field
    assert _count() == 0


def test_a_no_show_is_recorded(app: Flask, past: Scheduled) -> None:
    _rate(past, "bolt", "city", None, "not-held", attendance="no-show")
    assert db.session.scalar(sa.select(MeetingOutcome.attendance)) == "no-show"


def test_not_before_the_meeting_nor_for_someone_elses(app: Flask, tmp_path: Path) -> None:
    made = scheduled_event(tmp_path)
    with pytest.raises(outcomes.OutcomeError, match="once the meeting has started"):
        _rate(made, "bolt", "city", None, "interesting")
    with pytest.raises(outcomes.OutcomeError, match="not on your agenda"):
        outcomes.record_outcome(
            made.participant("acme"),
            made.meeting("bolt", "city"),
            None,
            attendance="held",
            rating="interesting",
            now=utc_now() + dt.timedelta(days=800),
        )
    with pytest.raises(outcomes.OutcomeError, match="under 5000"):
        outcomes.record_outcome(
            made.participant("bolt"),
            made.meeting("bolt", "city"),
            None,
            attendance="held",
            rating="interesting",
            note="x" * 5001,
            now=utc_now() + dt.timedelta(days=800),
        )
    assert _count() == 0


def test_an_unpublished_meeting_cannot_be_rated(app: Flask, tmp_path: Path) -> None:
    made = scheduled_event(tmp_path, publish=False)
    made.shift(-dt.timedelta(days=400))
    with pytest.raises(outcomes.OutcomeError, match="not on a published agenda"):
        _rate(made, "bolt", "city", None, "interesting")


def test_both_say_cooperation_and_staff_open_an_introduction_already_introduced(
    app: Flask, past: Scheduled
) -> None:
    vendor_member = make_member(past.organization("bolt"))
    buyer_member = make_member(past.organization("city"))
    contact = make_contact(past.organization("city"), "Somchai P", "somchai@city.example")
    _rate(past, "bolt", "city", vendor_member, "cooperation")
    request = past.meeting("bolt", "city").request
    assert outcomes.introduction_offer(request) == "both sides must say cooperation possible"
    assert outcomes.pending_offers(past.event.id) == []
    assert visible_contacts(past.organization("city"), vendor_member) == []
    _rate(past, "city", "bolt", buyer_member, "cooperation")
    assert outcomes.introduction_offer(request) is None
    assert outcomes.pending_offers(past.event.id) == [request]

    introduction = outcomes.open_introduction(request, make_person(Role.STAFF))
    db.session.commit()
    assert introduction.state == IntroState.INTRODUCED
    assert (introduction.vendor_id, introduction.buyer_id) == (
        past.organization("bolt").id,
        past.organization("city").id,
    )
    steps = db.session.scalars(
        sa.select(IntroductionEvent.to_state)
        .where(IntroductionEvent.introduction_id == introduction.id)
        .order_by(IntroductionEvent.id)
    ).all()
    assert steps == ["requested", "under_review", "approved", "accepted", "introduced"]
    assert visible_contacts(past.organization("city"), vendor_member) == [contact]
    assert outcomes.introduction_of(request) == introduction
    assert outcomes.introduction_offer(request) == "an introduction was already opened"
    assert outcomes.pending_offers(past.event.id) == []
    with pytest.raises(outcomes.OutcomeError, match="already opened"):
        outcomes.open_introduction(request, make_person(Role.STAFF))


def test_an_existing_introduction_asks_for_confirmation(app: Flask, past: Scheduled) -> None:
    vendor_member = make_member(past.organization("bolt"))
    buyer_member = make_member(past.organization("city"))
    staff = make_person(Role.STAFF)
    introductions.propose_introduction(
        staff, vendor=past.organization("bolt"), buyer=past.organization("city")
    )
    _rate(past, "bolt", "city", vendor_member, "cooperation")
    _rate(past, "city", "bolt", buyer_member, "cooperation")
    request = past.meeting("bolt", "city").request
    with pytest.raises(introductions.DuplicateIntroduction):
        outcomes.open_introduction(request, staff)
    introduction = outcomes.open_introduction(request, staff, confirm_duplicate=True)
    assert introduction.state == IntroState.INTRODUCED


def test_a_rater_who_left_must_be_replaced(app: Flask, past: Scheduled) -> None:
    vendor_member = make_member(past.organization("bolt"))
    _rate(past, "bolt", "city", vendor_member, "cooperation")
    _rate(past, "city", "bolt", make_member(past.organization("city")), "cooperation")
    vendor_member.organization_id = None
    db.session.commit()
    with pytest.raises(outcomes.OutcomeError, match="no longer with that organization"):
        outcomes.open_introduction(past.meeting("bolt", "city").request, make_person(Role.STAFF))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Introduction)) == 0


def test_two_vendors_are_not_introduced(app: Flask, past: Scheduled) -> None:
    # The small event has no placed meeting of two vendors: make city one.
    request = past.meeting("bolt", "city").request
    past.organization("city").kind = "vendor"
    _rate(past, "bolt", "city", None, "cooperation")
    _rate(past, "city", "bolt", None, "cooperation")
    assert outcomes.introduction_offer(request) == (
        "introductions are between a U.S. vendor and an ASEAN buyer"
    )


# --- through the pages --------------------------------------------------------------------


def test_rating_on_the_page(app: Flask, client: FlaskClient, past: Scheduled) -> None:
    member = make_member(past.organization("bolt"))
    log_in(client, member)
    request_id = past.meeting("bolt", "city").request_id
    url = f"/events/ev-1/agenda/meetings/{request_id}/outcome"
    prefix = f"outcome-{request_id}-"
    bad = client.post(
        url, data={prefix + "attendance": "no-show", prefix + "rating": "interesting"}
    )
    assert bad.status_code == 400
    assert "A no-show did not take place" in bad.get_data(as_text=True)
    missing = client.post(url, data={prefix + "note": "hm"})
    assert missing.status_code == 400
    assert "Choose held or no-show." in missing.get_data(as_text=True)
    assert _count() == 0
    good = client.post(
        url,
        data={
            prefix + "attendance": "held",
            prefix + "rating": "interesting",
            prefix + "note": "Call back in May",
        },
    )
    assert good.status_code == 302 and good.headers["Location"].endswith(f"#meeting-{request_id}")
    page = client.get("/events/ev-1/agenda").get_data(as_text=True)
    assert "You said: Held, Interesting." in page and "Call back in May" in page
    # The note is private to bolt: city's agenda does not show it.
    log_in(client, make_member(past.organization("city")))
    assert "Call back in May" not in client.get("/events/ev-1/agenda").get_data(as_text=True)
    # A meeting not on the member's agenda is 404, whatever the form says.
    other = past.meeting("bolt", "port").request_id
    assert client.post(f"/events/ev-1/agenda/meetings/{other}/outcome").status_code == 404


def test_staff_open_the_introduction_from_the_staff_agenda(
    app: Flask, client: FlaskClient, past: Scheduled
) -> None:
    vendor_member = make_member(past.organization("bolt"))
    _rate(past, "bolt", "city", vendor_member, "cooperation")
    _rate(past, "city", "bolt", make_member(past.organization("city")), "cooperation")
    db.session.commit()
    request_id = past.meeting("bolt", "city").request_id
    url = f"/events/ev-1/agenda/city/meetings/{request_id}/introduction"
    log_in(client, vendor_member)
    assert client.post(url).status_code == 403
    page = client.get("/events/ev-1/agenda").get_data(as_text=True)
    assert "trade staff will open the introduction" in page
    log_in(client, make_person(Role.STAFF))
    staff_page = client.get("/events/ev-1/agenda/city").get_data(as_text=True)
    assert "Open the introduction (introduced)" in staff_page
    assert "Org city said: Held, Cooperation possible." in staff_page
    response = client.post(url)
    assert response.status_code == 302 and "/introductions/" in response.headers["Location"]
    introduction = db.session.scalar(sa.select(Introduction))
    assert introduction is not None and introduction.state == IntroState.INTRODUCED
    again = client.post(url)
    assert again.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Introduction)) == 1
