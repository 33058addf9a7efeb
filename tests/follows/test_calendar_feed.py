"""The followed-deadlines feed: a private iCalendar subscription (RFC 5545), parsed by the
icalendar library as calendar programs do."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import icalendar
import pytest
from flask import Flask
from flask.testing import FlaskClient
from follows.follow_factories import Scene, make_scene
from organizations.directory_factories import log_in, make_need

from portal.accounts.services import set_locale
from portal.extensions import db
from portal.follows import services
from portal.follows.models import FollowSettings
from portal.needs.models import NeedStatus


@pytest.fixture
def scene(app: Flask) -> Scene:
    scene = make_scene(closes_in_days=30)
    scene.need.title = "Flood sensors; bridges, gauges and a very long title " + "x" * 60
    scene.need.questions_close_on = scene.need.closes_on - dt.timedelta(days=10)
    db.session.commit()
    services.follow(scene.member, scene.need)
    db.session.commit()
    return scene


def _feed_path(client: FlaskClient) -> str:
    page = client.get("/followed").get_data(as_text=True)
    match = re.search(r"http://localhost(/calendar/followed/[^\"]+\.ics)", page)
    assert match, page
    return match.group(1)


def _events(text: str) -> list[Any]:
    return icalendar.Calendar.from_ical(text).walk("VEVENT")


def test_the_feed_carries_each_followed_deadline_as_an_all_day_event(
    app: Flask, client: FlaskClient, scene: Scene
) -> None:
    log_in(client, scene.member)
    assert client.post("/followed/calendar").status_code == 302
    path = _feed_path(client)
    feed = app.test_client().get(path)  # no login: the token is the secret
    assert feed.status_code == 200
    assert feed.mimetype == "text/calendar"
    assert feed.headers["Referrer-Policy"] == "no-referrer"
    text = feed.get_data(as_text=True)
    events = {str(event["UID"]): event for event in _events(text)}
    closes = events[f"need-{scene.need.id}-closes@localhost"]
    questions = events[f"need-{scene.need.id}-questions@localhost"]
    assert closes.decoded("DTSTART") == scene.need.closes_on
    assert closes.decoded("DTEND") == scene.need.closes_on + dt.timedelta(days=1)
    assert questions.decoded("DTSTART") == scene.need.questions_close_on
    assert str(closes["SUMMARY"]) == f"Closes: {scene.need.title}"
    assert f"/needs/{scene.need.ref}" in str(closes["URL"])


def test_the_feed_speaks_the_members_language(
    app: Flask, client: FlaskClient, scene: Scene
) -> None:
    """A calendar program polls the feed with no login: it is worded in the language the
    member chose (as their mail is), whatever the program's Accept-Language."""
    set_locale(scene.member, "vi")
    db.session.commit()
    log_in(client, scene.member)
    client.post("/followed/calendar")
    path = _feed_path(client)
    text = app.test_client().get(path, headers={"Accept-Language": "th"}).get_data(as_text=True)
    data = text.encode()
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))
    calendar = icalendar.Calendar.from_ical(text)
    assert str(calendar["X-WR-CALNAME"]) == "Hạn chót của các nhu cầu đang theo dõi"
    summaries = {str(event["SUMMARY"]) for event in _events(text)}
    assert summaries == {
        f"Hạn chót: {scene.need.title}",
        f"Hết hạn đặt câu hỏi: {scene.need.title}",
    }


def test_the_text_is_rfc_5545(app: Flask, scene: Scene) -> None:
    raw = services.deadlines_ics(scene.member).encode()
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    lines = raw.split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    assert any(line.startswith(b" ") for line in lines)  # the long title was folded
    assert b"Flood sensors\\; bridges\\, gauges" in raw.replace(b"\r\n ", b"")


def test_uids_stay_and_the_sequence_grows_when_the_deadline_moves(app: Flask, scene: Scene) -> None:
    [before] = [e for e in _events(services.deadlines_ics(scene.member)) if "closes" in e["UID"]]
    scene.need.closes_on += dt.timedelta(days=7)
    scene.need.updated_at = scene.need.updated_at + dt.timedelta(seconds=5)
    db.session.commit()
    [after] = [e for e in _events(services.deadlines_ics(scene.member)) if "closes" in e["UID"]]
    assert after["UID"] == before["UID"]
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after.decoded("DTSTART") == before.decoded("DTSTART") + dt.timedelta(days=7)


def test_closed_and_unfollowed_needs_leave_the_feed(app: Flask, scene: Scene) -> None:
    other = make_need(scene.buyer, "Pumps", closes_on=scene.need.closes_on)
    services.follow(scene.member, other)
    db.session.commit()
    assert len(_events(services.deadlines_ics(scene.member))) == 3
    other.status = NeedStatus.CLOSED
    db.session.commit()
    assert len(_events(services.deadlines_ics(scene.member))) == 2
    services.unfollow(scene.member, scene.need)
    db.session.commit()
    assert _events(services.deadlines_ics(scene.member)) == []


def test_a_new_url_retires_the_old_one_and_revoking_ends_it(
    app: Flask, client: FlaskClient, scene: Scene
) -> None:
    log_in(client, scene.member)
    client.post("/followed/calendar")
    first = _feed_path(client)
    client.post("/followed/calendar")
    second = _feed_path(client)
    assert first != second
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    client.post("/followed/calendar/revoke")
    assert client.get(second).status_code == 404
    assert db.session.get(FollowSettings, scene.member.id).calendar_token is None


def test_tokens_are_256_bits_and_guesses_find_nothing(
    app: Flask, client: FlaskClient, scene: Scene
) -> None:
    token = services.new_calendar_token(scene.member)
    db.session.commit()
    assert len(token) == 43  # 32 random bytes, URL-safe base64
    for guess in ("x", token[:-1], "a" * 65, ""):
        assert client.get(f"/calendar/followed/{guess}.ics").status_code == 404
