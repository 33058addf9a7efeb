"""`portal events`: list, show, schedule (with --json), publish and re-plan."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from mission_factories import request, small_event, write_file

from portal.exchange.importer import import_file
from portal.extensions import db
from portal.missions.models import Meeting, MissionEvent
from portal.missions.services import stored_violations


def scheduled(runner: Any, *options: str) -> dict[str, Any]:
    result = runner.invoke(args=["events", "schedule", "ev-1", "--json", *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_schedule_json_has_the_agreed_shape(app: Flask, runner: Any, tmp_path: Path) -> None:
    import_file(small_event(tmp_path / "event.jsonl"))
    data = scheduled(runner)
    assert set(data) == {"event", "meetings", "unplaced"}
    assert data["event"] == "ev-1"
    assert len(data["meetings"]) == 4
    for meeting in data["meetings"]:
        assert set(meeting) == {"a", "b", "start", "end", "table", "online"}
        start = dt.datetime.fromisoformat(meeting["start"])
        end = dt.datetime.fromisoformat(meeting["end"])
        assert start.utcoffset() == dt.timedelta(hours=7)
        assert end - start == dt.timedelta(minutes=20)
        assert meeting["online"] is (meeting["table"] is None)
    online = [m for m in data["meetings"] if m["online"]]
    assert [(m["a"], m["b"]) for m in online] == [("acme", "city")]  # acme is online
    assert data["unplaced"] == [
        {"a": "cog", "b": "port", "reason": "cog and port attend no session in common"}
    ]
    event = db.session.scalar(sa.select(MissionEvent))
    assert stored_violations(event) == []


def test_published_meetings_stay_unless_replanned(app: Flask, runner: Any, tmp_path: Path) -> None:
    import_file(small_event(tmp_path / "event.jsonl"))
    first = scheduled(runner)
    result = runner.invoke(args=["events", "publish", "ev-1"])
    assert "published 4 meeting(s)" in result.output
    assert scheduled(runner)["meetings"] == first["meetings"]
    assert all(db.session.scalars(sa.select(Meeting.published)))
    replanned = scheduled(runner, "--replan")
    assert len(replanned["meetings"]) == 4
    assert not any(db.session.scalars(sa.select(Meeting.published)))


def test_list_show_and_unknown_event(app: Flask, runner: Any, tmp_path: Path) -> None:
    assert "no events" in runner.invoke(args=["events", "list"]).output
    import_file(small_event(tmp_path / "event.jsonl"))
    runner.invoke(args=["events", "schedule", "ev-1"])
    listed = runner.invoke(args=["events", "list"]).output
    assert "ev-1  2027-03-09" in listed
    assert "5 participants, 5 accepted requests, 4 meetings (0 published)" in listed
    shown = runner.invoke(args=["events", "show", "ev-1"])
    assert shown.exit_code == 0, shown.output
    assert "6 slots in 2 sessions" in shown.output
    assert "breaks a rule" not in shown.output
    text = runner.invoke(args=["events", "schedule", "ev-1"]).output
    assert "4 meetings placed (1 must-meets" in text
    assert "not placed: cog - port: cog and port attend no session in common" in text
    missing = runner.invoke(args=["events", "schedule", "nope"])
    assert missing.exit_code == 1
    assert 'no event "nope"' in missing.output


def test_show_names_the_rule_a_hand_edit_broke(app: Flask, runner: Any, tmp_path: Path) -> None:
    import_file(small_event(tmp_path / "event.jsonl"))
    scheduled(runner)
    on_site = db.session.scalars(
        sa.select(Meeting).where(Meeting.online.is_(False)).order_by(Meeting.id)
    ).all()
    on_site[0].table_number = 9
    db.session.flush()
    shown = runner.invoke(args=["events", "show", "ev-1"]).output
    assert "breaks a rule: there is no table 9 (a meeting takes one of the event's tables)" in shown


def test_a_new_request_after_publishing_fills_a_free_slot(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    import_file(small_event(tmp_path / "event.jsonl"))
    first = scheduled(runner)
    runner.invoke(args=["events", "publish", "ev-1"])
    import_file(write_file(tmp_path / "yes.jsonl", request("port", "city", status="accepted")))
    again = scheduled(runner, "--time-limit", "5")
    assert len(again["meetings"]) == len(first["meetings"]) + 1
    for meeting in first["meetings"]:
        assert meeting in again["meetings"]
    new = [m for m in again["meetings"] if (m["a"], m["b"]) == ("port", "city")]
    assert len(new) == 1
    event = db.session.scalar(sa.select(MissionEvent))
    assert stored_violations(event) == []
