"""Events, participants and meeting requests in `portal import` and `portal export`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from mission_factories import (
    event,
    organization,
    participant,
    request,
    small_event,
    write_file,
)
from support import count_rows

from portal.exchange.exporter import export_file
from portal.exchange.importer import InvalidFile, import_file
from portal.extensions import db
from portal.missions.models import Meeting, MeetingRequest, MissionEvent, Participant


def counts() -> tuple[int, int, int, int]:
    return tuple(count_rows(m) for m in (MissionEvent, Participant, MeetingRequest, Meeting))


def test_an_event_file_imports_and_exports_as_it_came(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    source = small_event(tmp_path / "event.jsonl")
    result = runner.invoke(args=["import", str(source)])
    assert result.exit_code == 0, result.output
    assert "1 events, 5 participants and 7 meeting requests" in result.output
    stored = db.session.scalar(sa.select(MissionEvent).where(MissionEvent.ref == "ev-1"))
    assert stored is not None and stored.tables == 2 and stored.online
    statuses = sorted(db.session.scalars(sa.select(MeetingRequest.status)))
    assert statuses == ["accepted"] * 5 + ["declined", "pending"]

    out = tmp_path / "out.jsonl"
    result = runner.invoke(args=["export", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 events, 5 participants and 7 meeting requests" in result.output
    exported = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    source_records = [json.loads(line) for line in source.read_text("utf-8").splitlines()]

    def mission(records: list[dict]) -> list[dict]:
        found = []
        for record in records:
            if record["type"] in ("event", "participant", "meeting_request"):
                record = dict(record)
                if record["type"] == "participant":
                    record.setdefault("mode", "on-site")
                if record["type"] == "meeting_request":
                    record.setdefault("priority", "normal")
                found.append(record)
        return sorted(found, key=lambda r: json.dumps(r, sort_keys=True))

    assert mission(exported) == mission(source_records)
    # Importing the export again changes nothing.
    before = counts()
    assert runner.invoke(args=["import", str(out)]).exit_code == 0
    assert counts() == before
    again = tmp_path / "again.jsonl"
    export_file(again)
    assert again.read_bytes() == out.read_bytes()


def test_a_request_the_other_way_round_updates_the_pair(app: Flask, tmp_path: Path) -> None:
    import_file(small_event(tmp_path / "event.jsonl"))
    import_file(write_file(tmp_path / "turn.jsonl", request("city", "bolt", status="declined")))
    assert count_rows(MeetingRequest) == 7
    turned = db.session.scalars(
        sa.select(MeetingRequest).where(MeetingRequest.status == "declined")
    ).all()
    assert len(turned) == 2


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            [participant("acme", event="nope")],
            'line 3: participant "acme" of event "nope": event "nope" is not an event in the '
            "file or the portal",
        ),
        (
            [event(online=False), participant("acme", mode="online")],
            'line 4: participant "acme" of event "ev-1": mode "online" needs an event with '
            'online: true; event "ev-1" is on site only',
        ),
        (
            [event(), participant("acme"), request("acme", "city")],
            'line 5: meeting_request "acme" -> "city" of event "ev-1": "city" is not a '
            "participant of the event",
        ),
        (
            [
                event(
                    sessions=[
                        {"start": "2027-03-09T09:00", "end": "2027-03-09T12:00"},
                        {"start": "2027-03-09T11:30", "end": "2027-03-09T13:00"},
                    ]
                )
            ],
            'line 3: event "ev-1": sessions[1] (2027-03-09T11:30-13:00) overlaps sessions[0] '
            "(2027-03-09T09:00-12:00)",
        ),
        (
            [event(), participant("acme", attends=[0, 2])],
            'line 4: participant "acme" of event "ev-1": attends session 2, but the event has '
            "2 session(s), numbered from 0",
        ),
        (
            [event(), participant("acme"), participant("ghost")],
            'line 5: participant "ghost" of event "ev-1": organization "ghost" is not an '
            "organization in the file or the portal",
        ),
        (
            [event(), participant("acme"), participant("acme")],
            'line 5: participant "acme" of event "ev-1": the organization takes part once; '
            "see line 4",
        ),
        (
            [
                event(),
                participant("acme"),
                organization("city", "buyer"),
                participant("city"),
                request("acme", "city"),
                request("city", "acme"),
            ],
            'line 8: meeting_request "city" -> "acme" of event "ev-1": the pair has a request '
            "already on line 7",
        ),
        (
            [event(), participant("acme"), request("acme", "acme")],
            'line 5: meeting_request "acme" -> "acme" of event "ev-1": from and to must be '
            "different organizations",
        ),
        (
            [event(time_zone="Mars/Olympus")],
            'line 3: event "ev-1": time_zone "Mars/Olympus" is not an IANA time zone such as '
            "Asia/Bangkok",
        ),
        (
            [event(meeting_minutes=5)],
            'line 3: event "ev-1": meeting_minutes 5 must be a whole number from 10 to 120',
        ),
        (
            [event(sessions=[{"start": "2027-03-09T12:00", "end": "2027-03-09T09:00"}])],
            'line 3: event "ev-1": sessions[0] ends at 2027-03-09T09:00, not after its start '
            "2027-03-09T12:00",
        ),
        (
            [event(), participant("acme", max_meetings=0)],
            'line 4: participant "acme" of event "ev-1": max_meetings 0 must be a whole number '
            "from 1 to 100",
        ),
        (
            [event(), participant("acme"), request("acme", "city", status="maybe")],
            'line 5: meeting_request "acme" -> "city" of event "ev-1": status "maybe" is not one '
            "of requested, accepted, declined",
        ),
    ],
)
def test_bad_event_records_are_reported_by_line_and_nothing_changes(
    app: Flask, tmp_path: Path, lines: list[dict], expected: str
) -> None:
    path = write_file(tmp_path / "bad.jsonl", organization("acme"), *lines)
    before = counts()
    with pytest.raises(InvalidFile) as caught:
        import_file(path)
    messages = [str(error) for error in caught.value.report.all_errors]
    assert expected in messages, messages
    assert counts() == before


def test_a_request_naming_a_bad_participant_says_so(app: Flask, tmp_path: Path) -> None:
    path = write_file(
        tmp_path / "bad.jsonl",
        organization("acme"),
        organization("city", "buyer"),
        event(online=False),
        participant("acme", mode="online"),  # line 5: bad
        participant("city"),
        request("acme", "city"),  # line 7
    )
    with pytest.raises(InvalidFile) as caught:
        import_file(path)
    messages = [str(error) for error in caught.value.report.all_errors]
    assert messages[-1] == (
        'line 7: meeting_request "acme" -> "city" of event "ev-1": "acme" is not imported as '
        "a participant: its line has errors"
    )


def test_skip_bad_imports_the_rest(app: Flask, runner: Any, tmp_path: Path) -> None:
    path = write_file(
        tmp_path / "some-bad.jsonl",
        organization("acme"),
        organization("city", "buyer"),
        event(),
        participant("acme"),
        participant("city"),
        participant("ghost"),
        request("acme", "city"),
        request("acme", "ghost"),
    )
    result = runner.invoke(args=["import", "--skip-bad", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 events, 2 participants and 1 meeting requests" in result.output
    assert "skipped 2 bad record(s)" in result.output


def test_participants_of_an_event_already_in_the_portal(app: Flask, tmp_path: Path) -> None:
    import_file(small_event(tmp_path / "event.jsonl"))
    more = write_file(
        tmp_path / "more.jsonl",
        organization("dyn"),
        participant("dyn", mode="online"),
        request("dyn", "port", priority="must"),
    )
    report = import_file(more)
    assert (report.participants, report.meeting_requests) == (1, 1)
    assert count_rows(Participant) == 6


def test_an_answer_changed_by_import_removes_its_meeting(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    import_file(small_event(tmp_path / "event.jsonl"))
    assert runner.invoke(args=["events", "schedule", "ev-1"]).exit_code == 0
    assert count_rows(Meeting) == 4
    import_file(write_file(tmp_path / "no.jsonl", request("bolt", "city", status="declined")))
    assert count_rows(Meeting) == 3
