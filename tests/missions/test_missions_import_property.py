"""Whatever the event lines hold: a clean import, or errors on their lines and no change."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mission_factories import HEADER, event, organization, participant, request
from support import count_rows

from portal.exchange.importer import InvalidFile, import_file
from portal.extensions import db
from portal.missions.models import MeetingRequest, MissionEvent, Participant

ORGS = ["acme", "bolt", "city", "ghost"]  # ghost is never an organization
odd = st.none() | st.booleans() | st.integers(-3, 200) | st.text(max_size=4)
sessions = st.lists(
    st.fixed_dictionaries(
        {
            "start": st.sampled_from(["2027-03-09T09:00", "2027-03-09T11:00", "2027-03-09T9:00"]),
            "end": st.sampled_from(["2027-03-09T10:00", "2027-03-09T12:00", "2027-03-09T08:00"]),
        }
    ),
    max_size=3,
)
events = st.builds(
    lambda ref, changes: event(ref, **changes),
    st.sampled_from(["ev-1", "ev-2"]),
    st.fixed_dictionaries(
        {},
        optional={
            "online": st.booleans() | odd,
            "sessions": sessions,
            "meeting_minutes": odd,
            "tables": odd,
            "time_zone": st.sampled_from(["Asia/Bangkok", "Nowhere/Else", ""]),
            "typo": odd,
        },
    ),
)
participants = st.builds(
    lambda org, ev, changes: participant(org, event=ev, **changes),
    st.sampled_from(ORGS),
    st.sampled_from(["ev-1", "ev-2", "ev-3"]),
    st.fixed_dictionaries(
        {},
        optional={
            "mode": st.sampled_from(["on-site", "online", "remote"]),
            "attends": st.lists(st.integers(0, 3), max_size=3) | odd,
            "max_meetings": odd,
        },
    ),
)
requests = st.builds(
    lambda a, b, ev, changes: request(a, b, event=ev, **changes),
    st.sampled_from(ORGS),
    st.sampled_from(ORGS),
    st.sampled_from(["ev-1", "ev-2", "ev-3"]),
    st.fixed_dictionaries(
        {},
        optional={
            "status": st.sampled_from(["requested", "accepted", "declined", "no"]),
            "priority": st.sampled_from(["must", "normal", "high"]),
            "message": odd,
        },
    ),
)
lines = st.lists(st.one_of(events, participants, requests), max_size=10)


def counts() -> tuple[int, int, int]:
    return tuple(count_rows(m) for m in (MissionEvent, Participant, MeetingRequest))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=lines, skip_bad=st.booleans())
def test_any_event_file_imports_cleanly_or_reports_lines(
    app: Flask, tmp_path: Path, body: list[dict], skip_bad: bool
) -> None:
    records = [HEADER, *(organization(ref) for ref in ORGS[:3]), *body]
    path = tmp_path / "random.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    try:
        report = import_file(path, skip_bad=skip_bad)
    except InvalidFile as exc:
        errors = exc.report.all_errors
        assert errors and not skip_bad
        assert all(5 <= error.line <= len(records) for error in errors)
        assert counts() == (0, 0, 0)
    else:
        assert counts() == (report.events, report.participants, report.meeting_requests)
        assert skip_bad or not report.skipped
        bad = {error.line for error in report.skipped}
        written = sum(1 for number in range(5, len(records) + 1) if number not in bad)
        assert report.events + report.participants + report.meeting_requests == written
    finally:
        db.session.rollback()
