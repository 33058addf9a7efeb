"""The agenda pages: who sees which agenda, the .ics download, the subscription URL made
and revoked from the page, the staff view, and contacts that never leak."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from agenda_factories import DENVER, scheduled_event
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from flask_login import login_user
from introductions.intro_factories import make_member, make_person
from organizations.directory_factories import log_in, make_contact, make_org

from portal.accounts.models import Role
from portal.accounts.services import start_session
from portal.extensions import db
from portal.missions import agenda


def test_a_member_sees_the_agenda_in_their_zone_with_the_zone_named(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path)
    member = make_member(made.organization("acme"))
    log_in(client, member)
    response = client.get("/events/ev-1/agenda")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    item = agenda.agenda_of(made.participant("acme")).items[0]
    assert DENVER in page
    assert f"{item.starts:%H:%M}\N{EN DASH}{item.ends:%H:%M} MST" in page
    assert "Org city" in page
    assert item.join_link and item.join_link.replace("&", "&amp;") in page
    assert "agenda.css" in page  # the print stylesheet
    assert "Rate it after the meeting" in page


def test_the_agenda_needs_a_login_and_a_registration(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    scheduled_event(tmp_path)
    response = client.get("/events/ev-1/agenda")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/events/ev-1/agenda.ics").status_code == 302
    outsider = make_member(make_org())
    log_in(client, outsider)
    response = client.get("/events/ev-1/agenda")
    assert response.status_code == 404
    assert "not registered for this event" in response.get_data(as_text=True)
    assert client.get("/events/ev-1/agenda.ics").status_code == 404
    assert client.get("/events/nope/agenda").status_code == 404


def test_the_ics_download(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    made = scheduled_event(tmp_path)
    log_in(client, make_member(made.organization("city")))
    response = client.get("/events/ev-1/agenda.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.headers["Content-Disposition"] == 'attachment; filename="ev-1-agenda.ics"'
    assert response.get_data(as_text=True).count("BEGIN:VEVENT") == 3


def test_the_subscription_url_is_made_replaced_and_revoked_on_the_page(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path)
    log_in(client, make_member(made.organization("city")))
    assert "Get a private subscription URL" in client.get("/events/ev-1/agenda").get_data(
        as_text=True
    )
    response = client.post("/events/ev-1/agenda/calendar")
    assert response.status_code == 302
    first = made.participant("city").calendar_token
    assert first
    page = client.get("/events/ev-1/agenda").get_data(as_text=True)
    assert f"/events/calendar/{first}.ics" in page
    client.post("/events/ev-1/agenda/calendar")
    second = made.participant("city").calendar_token
    assert second and second != first
    assert client.get(f"/events/calendar/{first}.ics").status_code == 404
    client.post("/events/ev-1/agenda/calendar/revoke")
    assert made.participant("city").calendar_token is None
    assert client.get(f"/events/calendar/{second}.ics").status_code == 404


def test_a_member_cannot_touch_another_participants_token(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path)
    token = agenda.new_calendar_token(made.participant("city"))
    db.session.commit()
    log_in(client, make_member(made.organization("bolt")))
    client.post("/events/ev-1/agenda/calendar/revoke")
    assert made.participant("city").calendar_token == token
    assert made.participant("bolt").calendar_token is None


def test_staff_see_any_agenda_with_drafts_members_do_not(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path, publish=False)
    member = make_member(made.organization("city"))
    log_in(client, member)
    assert "No meetings are published" in client.get("/events/ev-1/agenda").get_data(as_text=True)
    assert client.get("/events/ev-1/agenda/bolt").status_code == 403
    log_in(client, make_person(Role.STAFF))
    response = client.get("/events/ev-1/agenda/city")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count("draft</span>") == 3 and "Staff view" in page
    assert client.get("/events/ev-1/agenda/nobody").status_code == 404
    assert client.get("/events/nope/agenda/city").status_code == 404


def test_the_other_sides_contacts_never_show_before_an_introduction(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path)
    make_contact(made.organization("city"), "Somchai P", "somchai@city.example", "+66 2 555 0100")
    own = make_contact(made.organization("acme"), "Ann Acme", "ann@acme.example", "+1 303 555 0100")
    log_in(client, make_member(made.organization("acme")))
    page = client.get("/events/ev-1/agenda").get_data(as_text=True)
    assert "somchai@city.example" not in page and "+66 2 555 0100" not in page
    assert own.email not in page  # one's own contacts are not part of the agenda either
    ics = client.get("/events/ev-1/agenda.ics").get_data(as_text=True)
    assert "somchai" not in ics


def test_the_agenda_link_partial_with_and_without_a_participant(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path)
    template = "{% include 'missions/_agenda_link.html' ignore missing %}"
    with app.test_request_context():
        assert render_template_string(template).strip() == ""
        assert render_template_string(template, event=made.event).strip() == ""
    member = make_member(made.organization("city"))
    staff = make_person(Role.STAFF)
    with app.test_request_context():
        start_session(member)
        login_user(member)
        html = render_template_string(
            template, event=made.event, participant=made.participant("city")
        )
        assert "/events/ev-1/agenda" in html and "Your agenda" in html
        assert "Your agenda" in render_template_string(template, event=made.event)
    with app.test_request_context():
        start_session(staff)
        login_user(staff)
        html = render_template_string(
            template, event=made.event, participant=made.participant("city")
        )
        assert "/events/ev-1/agenda/city" in html


def test_a_finished_meeting_offers_the_rating_form(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path)
    made.shift(-dt.timedelta(days=400))
    log_in(client, make_member(made.organization("city")))
    page = client.get("/events/ev-1/agenda").get_data(as_text=True)
    assert page.count("How did it go?") == 3
    assert "Cooperation possible" in page
