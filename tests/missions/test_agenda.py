"""A participant's agenda: own time zone, published meetings only, join links."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from agenda_factories import DENVER, scheduled_event
from flask import Flask

from portal.extensions import db
from portal.missions import agenda
from portal.missions.models import MissionEvent


def test_an_online_company_in_denver_sees_denver_time(app: Flask, tmp_path: Path) -> None:
    made = scheduled_event(tmp_path)
    acme = agenda.agenda_of(made.participant("acme"))
    assert acme.zone_name == DENVER
    [item] = acme.items  # acme meets city, online (acme is online)
    assert item.other_organization.ref == "city"
    assert item.meeting.online and item.place == "Online"
    # Sessions run 09:00-10:00 and 14:00-15:00 in Bangkok (UTC+7): the evening or night
    # before in Denver (UTC-7 in March before DST), one of 19:00-19:40 or 00:00-00:40.
    assert item.starts.tzinfo is not None and item.starts.utcoffset() == dt.timedelta(hours=-7)
    assert item.starts.tzname() == "MST"
    assert (item.starts.date(), item.starts.hour) in {
        (dt.date(2027, 3, 8), 19),
        (dt.date(2027, 3, 9), 0),
    }
    assert item.starts == item.meeting.starts_at  # the same instant, shown elsewhere


def test_on_site_participants_see_the_event_zone_and_their_tables(
    app: Flask, tmp_path: Path
) -> None:
    made = scheduled_event(tmp_path)
    city = agenda.agenda_of(made.participant("city"))
    assert city.zone_name == "Asia/Bangkok"
    starts = [item.starts for item in city.items]
    assert starts == sorted(starts)
    assert {item.other_organization.ref for item in city.items} == {"acme", "bolt", "cog"}
    for item in city.items:
        assert 9 <= item.starts.hour < 15
        if not item.meeting.online:
            assert item.place == f"Table {item.meeting.table_number}"
            assert item.join_link is None
    lines = agenda.agenda_lines(city)
    assert len(lines) == 3 and all("(draft)" not in line for line in lines)


def test_drafts_are_for_staff_only(app: Flask, tmp_path: Path) -> None:
    made = scheduled_event(tmp_path, publish=False)
    assert agenda.agenda_of(made.participant("city")).items == []
    staff_view = agenda.agenda_of(made.participant("city"), drafts=True)
    assert len(staff_view.items) == 3
    assert all("(draft)" in line for line in agenda.agenda_lines(staff_view))


def test_join_links_follow_the_pattern_with_a_secret(app: Flask, tmp_path: Path) -> None:
    made = scheduled_event(tmp_path)
    meeting = made.meeting("acme", "city")
    link = agenda.join_link(made.event, meeting)
    secret = agenda.meeting_secret(made.event, meeting)
    assert link == f"https://meet.example.org/ev-1-{meeting.request_id}?k={secret}"
    assert len(secret) == 16
    other = made.meeting("bolt", "city")
    assert agenda.meeting_secret(made.event, other) != secret


def test_bad_join_link_patterns_are_explained_and_give_no_link(app: Flask, tmp_path: Path) -> None:
    made = scheduled_event(tmp_path)
    assert agenda.pattern_problem("") is None
    assert agenda.pattern_problem("https://x.example/{event}/{meeting}") is None
    assert "brace" in (agenda.pattern_problem("https://x.example/{event") or "")
    assert "unknown placeholder(s) name" in (agenda.pattern_problem("https://x/{name}") or "")
    assert "https://" in (agenda.pattern_problem("javascript:alert(1)//{event}") or "")
    meeting = made.meeting("acme", "city")
    for bad in ("https://x.example/{event", "https://x/{0}", "ftp://x/{meeting}"):
        made.event.join_link_pattern = bad
        assert agenda.join_link(made.event, meeting) is None
    made.event.join_link_pattern = ""
    assert agenda.join_link(made.event, meeting) is None


def test_an_event_ref_is_quoted_in_the_join_link(app: Flask, tmp_path: Path) -> None:
    made = scheduled_event(tmp_path)
    made.event.ref = "ev 1/x"
    link = agenda.join_link(made.event, made.meeting("acme", "city"))
    assert link is not None and link.startswith("https://meet.example.org/ev%201%2Fx-")


def test_a_zone_that_is_not_a_zone_falls_back(app: Flask, tmp_path: Path) -> None:
    made = scheduled_event(tmp_path)
    acme = made.participant("acme")
    acme.time_zone = "Mars/Olympus"
    assert agenda.zone_of(acme).key == "Asia/Bangkok"
    event = db.session.get(MissionEvent, made.event.id)
    assert event is not None
    event.time_zone = "Nowhere"
    assert agenda.zone_of(acme).key == "UTC"
