"""The agenda as iCalendar (RFC 5545), parsed by the icalendar library as calendars do;
the private subscription URL; ``portal events agenda``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import icalendar
from agenda_factories import DENVER, scheduled_event
from flask import Flask
from flask.testing import FlaskClient

from portal.db import utc_now
from portal.extensions import db
from portal.missions import agenda, services


def _events(text: str) -> list[Any]:
    calendar = icalendar.Calendar.from_ical(text)
    return [component for component in calendar.walk("VEVENT")]


def _raw_lines(text: str) -> list[bytes]:
    data = text.encode("utf-8")
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")  # every line ends in CRLF, no bare LF
    return data.split(b"\r\n")[:-1]


def test_one_vevent_per_meeting_in_utc(app: Flask, tmp_path: Path) -> None:
    made = scheduled_event(tmp_path)
    city = agenda.agenda_of(made.participant("city"))
    text = agenda.agenda_ics(city)
    events = _events(text)
    assert len(events) == len(city.items) == 3
    by_uid = {str(event["UID"]): event for event in events}
    for item in city.items:
        event = by_uid[item.uid]
        assert event.decoded("DTSTART") == item.meeting.starts_at
        assert event.decoded("DTSTART").utcoffset() == dt.timedelta(0)
        assert event.decoded("DTEND") == item.meeting.ends_at
        assert int(event["SEQUENCE"]) == item.sequence
        assert "DTSTAMP" in event
        assert item.other_organization.name in str(event["SUMMARY"])
    for line in _raw_lines(text):
        assert len(line) <= 75


def test_online_meetings_carry_the_join_link(app: Flask, tmp_path: Path) -> None:
    made = scheduled_event(tmp_path)
    acme = agenda.agenda_of(made.participant("acme"))
    [event] = _events(agenda.agenda_ics(acme))
    link = acme.items[0].join_link
    assert link and str(event["URL"]) == link
    assert str(event["LOCATION"]) == link
    assert link in str(event["DESCRIPTION"])
    assert "America/Denver" in str(event["DESCRIPTION"])


def test_text_is_escaped_and_long_lines_folded_between_characters(
    app: Flask, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path)
    awkward = "Ğüneş, Ltd; \\ Công ty\nThành phố " + "Đà Nẵng " * 12
    made.organization("city").name = awkward.strip()
    bolt = agenda.agenda_of(made.participant("bolt"))
    text = agenda.agenda_ics(bolt)
    for line in _raw_lines(text):
        assert len(line) <= 75
        line.decode("utf-8")  # no line was cut inside a character
    assert "Ltd\\; \\\\ Công ty\\nThành" in text.replace("\r\n ", "")
    summaries = [str(event["SUMMARY"]) for event in _events(text)]
    assert any(awkward.strip() in summary for summary in summaries)


def test_escape_and_fold_by_the_rfc() -> None:
    assert agenda.escape_text("a,b;c\\d\r\ne") == "a\\,b\\;c\\\\d\\ne"
    folded = agenda.fold("X" * 200)
    parts = folded.split("\r\n")
    assert [len(p) for p in parts] == [75, 75, 52]
    assert all(p.startswith(" ") for p in parts[1:])
    assert "".join(p[1:] if i else p for i, p in enumerate(parts)) == "X" * 200


def test_uids_stay_and_the_sequence_grows_when_a_meeting_moves(app: Flask, tmp_path: Path) -> None:
    made = scheduled_event(tmp_path)
    before = {
        str(e["UID"]): e
        for e in _events(agenda.agenda_ics(agenda.agenda_of(made.participant("city"))))
    }
    meeting = made.meeting("bolt", "city")
    if meeting.table_number == 1:
        meeting.table_number = 2
    else:
        meeting.table_number = 1
    # A move an hour later than it was made: the stored change time is what counts.
    meeting.updated_at = meeting.created_at + dt.timedelta(hours=1)
    db.session.commit()
    after = {
        str(e["UID"]): e
        for e in _events(agenda.agenda_ics(agenda.agenda_of(made.participant("city"))))
    }
    assert set(after) == set(before)
    uid = agenda.meeting_uid(meeting.request)
    assert int(after[uid]["SEQUENCE"]) == int(before[uid]["SEQUENCE"]) + 3600
    for other in set(before) - {uid}:
        assert int(after[other]["SEQUENCE"]) == int(before[other]["SEQUENCE"])


def test_an_orm_update_stamps_the_change(app: Flask, tmp_path: Path) -> None:
    made = scheduled_event(tmp_path)
    meeting = made.meeting("bolt", "city")
    assert meeting.updated_at is not None  # publishing is a change: calendars take it
    stamped = meeting.updated_at
    first = agenda.sequence_of(meeting)
    meeting.table_number = 2 if meeting.table_number == 1 else 1
    db.session.commit()
    assert meeting.updated_at > stamped
    assert agenda.sequence_of(meeting) >= first


def test_a_replan_keeps_every_uid(app: Flask, tmp_path: Path) -> None:
    made = scheduled_event(tmp_path)
    uids = {
        str(e["UID"])
        for e in _events(agenda.agenda_ics(agenda.agenda_of(made.participant("city"))))
    }
    services.schedule_event(made.event, replan=True)
    services.publish(made.event)
    db.session.commit()
    again = {
        str(e["UID"])
        for e in _events(agenda.agenda_ics(agenda.agenda_of(made.participant("city"))))
    }
    assert again == uids


# --- the private subscription URL -------------------------------------------------------


def test_the_subscription_needs_no_login_and_follows_cancellations(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path)
    city = made.participant("city")
    token = agenda.new_calendar_token(city)
    db.session.commit()
    assert len(token) >= 43
    url = f"/events/calendar/{token}.ics"
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert "no-cache" in response.headers["Cache-Control"]
    assert "attachment" not in response.headers.get("Content-Disposition", "")
    assert len(_events(response.get_data(as_text=True))) == 3
    # Staff cancel a meeting (the row goes): the next poll no longer has it.
    db.session.delete(made.meeting("bolt", "city"))
    db.session.commit()
    assert len(_events(client.get(url).get_data(as_text=True))) == 2


def test_a_new_token_retires_the_old_one_and_revoking_ends_it(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path)
    city = made.participant("city")
    old = agenda.new_calendar_token(city)
    new = agenda.new_calendar_token(city)
    db.session.commit()
    assert old != new
    assert client.get(f"/events/calendar/{old}.ics").status_code == 404
    assert client.get(f"/events/calendar/{new}.ics").status_code == 200
    agenda.revoke_calendar_token(city)
    db.session.commit()
    assert client.get(f"/events/calendar/{new}.ics").status_code == 404


def test_guessed_tokens_find_nothing(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    scheduled_event(tmp_path)
    for guess in ("", "None", "x" * 43, "x" * 500):
        assert client.get(f"/events/calendar/{guess}.ics").status_code == 404
    assert client.get("/events/calendar/%00.ics").status_code == 400  # the portal's guard
    assert agenda.participant_by_token("") is None


# --- portal events agenda ---------------------------------------------------------------


def test_cli_prints_the_agenda_in_the_participants_zone(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path)
    result = runner.invoke(args=["events", "agenda", "ev-1", "acme"])
    assert result.exit_code == 0, result.output
    assert f"times in {DENVER}" in result.output
    item = agenda.agenda_of(made.participant("acme")).items[0]
    assert f"{item.starts:%Y-%m-%d %H:%M}" in result.output
    assert "Online" in result.output and "Org city" in result.output
    assert item.join_link and item.join_link in result.output


def test_cli_prints_the_ics(app: Flask, runner: Any, tmp_path: Path) -> None:
    scheduled_event(tmp_path)
    result = runner.invoke(args=["events", "agenda", "ev-1", "city", "--ics"])
    assert result.exit_code == 0, result.output
    assert len(_events(result.output)) == 3


def test_cli_words_the_agenda_in_the_language_asked(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    """Staff print a participant's agenda to send it on: its lines and its .ics in the
    participant's language, the command's own words in English."""
    made = scheduled_event(tmp_path, publish=False)
    thai = runner.invoke(args=["events", "agenda", "ev-1", "acme", "--drafts", "--lang", "th"])
    assert thai.exit_code == 0, thai.output
    assert "agenda of" in thai.output  # the command's own line
    assert "ออนไลน์" in thai.output and "ฉบับร่าง" in thai.output
    assert "(draft)" not in thai.output
    item = agenda.agenda_of(made.participant("acme"), drafts=True).items[0]
    assert item.other_organization.name in thai.output

    vietnamese = runner.invoke(
        args=["events", "agenda", "ev-1", "city", "--drafts", "--ics", "--lang", "vi"]
    )
    assert vietnamese.exit_code == 0, vietnamese.output
    descriptions = [str(e.get("DESCRIPTION")) for e in _events(vietnamese.output)]
    assert descriptions and all("Địa điểm:" in d for d in descriptions)

    english = runner.invoke(args=["events", "agenda", "ev-1", "city", "--drafts", "--ics"])
    assert all("Place:" in str(e.get("DESCRIPTION")) for e in _events(english.output))

    unknown = runner.invoke(args=["events", "agenda", "ev-1", "city", "--lang", "xx"])
    assert unknown.exit_code == 2 and "--lang" in unknown.output


def test_cli_refuses_unknown_event_and_organization(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path, publish=False)
    nothing = runner.invoke(args=["events", "agenda", "ev-1", "city"])
    assert "no meetings published (try --drafts)" in nothing.output
    drafts = runner.invoke(args=["events", "agenda", "ev-1", "city", "--drafts"])
    assert drafts.output.count("(draft)") == 3
    unknown = runner.invoke(args=["events", "agenda", "ev-1", "nobody"])
    assert unknown.exit_code == 1 and '"nobody" is not a participant of ev-1' in unknown.output
    missing = runner.invoke(args=["events", "agenda", "nope", "city"])
    assert missing.exit_code == 1 and 'no event "nope"' in missing.output
    assert made.event.ref == "ev-1"


def test_dtstamp_is_when_the_file_was_made(app: Flask, tmp_path: Path) -> None:
    made = scheduled_event(tmp_path)
    now = utc_now().replace(microsecond=0)
    [event] = _events(agenda.agenda_ics(agenda.agenda_of(made.participant("acme")), now=now))
    assert event.decoded("DTSTAMP") == now
