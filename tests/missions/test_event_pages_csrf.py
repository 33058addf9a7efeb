"""Every POST form of the event pages carries a CSRF token, and a POST without one is
refused and changes nothing (CSRF is off elsewhere in the suite, on here)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from missions.page_factories import (
    BUYER,
    VENDOR,
    event_form,
    log_in,
    make_event,
    make_member,
    make_org,
    make_participant,
    make_request,
    staff_user,
)
from support import count_rows

from portal.extensions import db
from portal.missions import services
from portal.missions.models import Meeting, MissionEvent, RequestStatus

_FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S)


def _post_forms(html: str) -> list[str]:
    return [form for form in _FORM.findall(html) if 'method="post"' in form.split(">", 1)[0]]


@pytest.fixture
def csrf(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def test_every_post_form_has_a_token(client: FlaskClient, app: Flask, csrf: None) -> None:
    event = make_event(ref="tok", tables=1)
    vendor = make_participant(event, make_org(VENDOR, "Acme"))
    buyer = make_participant(event, make_org(BUYER, "City"))
    make_request(buyer, vendor)
    make_request(vendor, make_participant(event, make_org(BUYER, "Port")))
    accepted = make_request(make_participant(event, make_org(VENDOR, "Bolt")), buyer)
    accepted.status = RequestStatus.ACCEPTED
    db.session.commit()
    services.schedule_event(event, time_limit=1)
    db.session.commit()
    meeting = db.session.scalar(db.select(Meeting))
    log_in(client, make_member(vendor.organization))
    pages = [
        "/events/tok/requests",
        f"/events/tok/registrations/{vendor.organization.ref}",
    ]
    member_forms = []
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        member_forms += _post_forms(response.text)
    log_in(client, staff_user())
    staff_forms = []
    for path in (
        "/events/new",
        "/events/tok/edit",
        "/events/tok/register",
        "/events/tok/requests",
        "/events/tok/schedule",
        f"/events/tok/grid?move={meeting.id}",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        staff_forms += _post_forms(response.text)
    forms = member_forms + staff_forms
    assert len(member_forms) >= 5 and len(staff_forms) >= 8
    for form in forms:
        assert 'name="csrf_token"' in form, form[:200]


def test_a_post_without_a_token_changes_nothing(
    client: FlaskClient, app: Flask, csrf: None
) -> None:
    log_in(client, staff_user())
    before = count_rows(MissionEvent)
    response = client.post("/events/new", data=event_form())
    assert response.status_code == 400
    assert count_rows(MissionEvent) == before
