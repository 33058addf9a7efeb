"""The agenda's .ics in the member's language: the words the portal writes (the meeting,
the place, the local time, the join line) are translated; names of the event and the
organizations stay as written. The subscription URL carries the language of the member
who copied it, since a calendar program polling it has no member's setting."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import icalendar
from agenda_factories import scheduled_event
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from introductions.intro_factories import make_member
from organizations.directory_factories import log_in

from portal.accounts.services import set_locale
from portal.extensions import db
from portal.i18n.formatting import wall_time_span
from portal.missions import agenda


def _events(text: str) -> dict[str, Any]:
    """The VEVENTs by UID, parsed as calendar programs do."""
    calendar = icalendar.Calendar.from_ical(text)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def _valid(text: str) -> None:
    data = text.encode("utf-8")
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    for line in data.split(b"\r\n"):
        assert len(line) <= 75
        line.decode("utf-8")  # folded between characters, never inside a Thai one


def _speaker(made: Any, ref: str, locale: str | None) -> Any:
    member = make_member(made.organization(ref))
    if locale is not None:
        set_locale(member, locale)
    db.session.commit()
    return member


def test_a_thai_member_downloads_the_agenda_in_thai(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path)
    log_in(client, _speaker(made, "bolt", "th"))
    response = client.get("/events/ev-1/agenda.ics")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    _valid(text)

    bolt = agenda.agenda_of(made.participant("bolt"))
    events = _events(text)
    assert len(events) == len(bolt.items) == 2
    for item in bolt.items:
        event = events[item.uid]
        other = item.other_organization.name
        table = f"โต๊ะ {item.meeting.table_number}"
        with force_locale("th"):
            span = wall_time_span(item.starts, item.ends)
        assert str(event["SUMMARY"]) == f"ประชุมกับ {other} (Matchmaking ev-1)"
        assert str(event["LOCATION"]) == f"{table}, Bangkok, TH"
        assert str(event["DESCRIPTION"]).splitlines() == [
            f"Matchmaking ev-1: การประชุมแบบตัวต่อตัวกับ {other}",
            f"สถานที่: {table}",
            f"เวลาท้องถิ่น: {span} (Asia/Bangkok)",
        ]
        assert event.decoded("DTSTART") == item.meeting.starts_at  # times stay UTC


def test_an_online_meeting_in_vietnamese_keeps_its_link(app: Flask, tmp_path: Path) -> None:
    made = scheduled_event(tmp_path)
    acme = agenda.agenda_of(made.participant("acme"))
    with force_locale("vi"):
        text = agenda.agenda_ics(acme)
    _valid(text)
    [event] = _events(text).values()
    link = acme.items[0].join_link
    assert link and str(event["LOCATION"]) == link and str(event["URL"]) == link
    description = str(event["DESCRIPTION"])
    assert "Matchmaking ev-1: cuộc gặp riêng với Org city." in description
    assert "Địa điểm: Trực tuyến." in description and f"Tham gia: {link}" in description
    assert "Giờ địa phương: " in description and "(America/Denver)." in description
    assert str(event["SUMMARY"]) == "Cuộc gặp với Org city (Matchmaking ev-1)"


def test_an_english_member_downloads_english(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path)
    log_in(client, _speaker(made, "bolt", None))
    events = _events(client.get("/events/ev-1/agenda.ics").get_data(as_text=True))
    item = agenda.agenda_of(made.participant("bolt")).items[0]
    event = events[item.uid]
    other = item.other_organization.name
    assert str(event["SUMMARY"]) == f"Meeting with {other} (Matchmaking ev-1)"
    assert str(event["DESCRIPTION"]).splitlines() == [
        f"Matchmaking ev-1: one-to-one meeting with {other}.",
        f"Place: Table {item.meeting.table_number}.",
        f"Local time: {item.starts:%Y-%m-%d %H:%M} - {item.ends:%H:%M} (Asia/Bangkok).",
    ]


def test_the_subscription_url_speaks_the_language_of_the_member_who_copied_it(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path)
    log_in(client, _speaker(made, "city", "th"))
    assert client.post("/events/ev-1/agenda/calendar").status_code == 302
    page = client.get("/events/ev-1/agenda").get_data(as_text=True)
    assert "URL ส่วนตัวสำหรับสมัครรับของคุณพร้อมใช้งานแล้ว" in page  # the flash, in Thai too
    token = made.participant("city").calendar_token
    found = re.search(r'value="http://localhost(/events/calendar/[^"]+)"', page)
    assert found, page
    path = found.group(1).replace("&amp;", "&")
    assert path == f"/events/calendar/{token}.ics?lang=th"

    calendar = app.test_client()  # a calendar program: no login, no session
    thai = calendar.get(path).get_data(as_text=True)
    _valid(thai)
    summaries = {str(event["SUMMARY"]) for event in _events(thai).values()}
    assert summaries and all(summary.startswith("ประชุมกับ ") for summary in summaries)

    # A URL naming no language (made before, or by an English reader): the calendar
    # program's Accept-Language, else English; an unknown language changes nothing.
    plain = f"/events/calendar/{token}.ics"
    for url, headers, start in [
        (plain, {}, "Meeting with "),
        (plain, {"Accept-Language": "vi-VN,vi;q=0.9"}, "Cuộc gặp với "),
        (f"{plain}?lang=xx", {}, "Meeting with "),
    ]:
        events = _events(calendar.get(url, headers=headers).get_data(as_text=True))
        assert all(str(event["SUMMARY"]).startswith(start) for event in events.values()), url


def test_an_english_readers_page_shows_the_url_without_a_language(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path)
    log_in(client, _speaker(made, "city", None))
    client.post("/events/ev-1/agenda/calendar")
    page = client.get("/events/ev-1/agenda").get_data(as_text=True)
    token = made.participant("city").calendar_token
    assert f'value="http://localhost/events/calendar/{token}.ics"' in page
