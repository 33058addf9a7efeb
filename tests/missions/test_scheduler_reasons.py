"""Each accepted request left out is reported with a reason a person understands."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.missions.scheduler import (
    REASONS,
    Attendee,
    Placement,
    Problem,
    Request,
    Unplaced,
    Why,
    make_slots,
    schedule,
)

DAY = dt.datetime(2027, 3, 9)
# Two sessions of two 20-minute slots each (the 50-minute session's third slot would
# run past its end and is dropped).
SESSIONS = [
    (DAY.replace(hour=9), DAY.replace(hour=9, minute=50)),
    (DAY.replace(hour=14), DAY.replace(hour=14, minute=40)),
]


def event(*requests: Request, tables: int = 5, online: bool = True, **people: Attendee) -> Problem:
    slots = make_slots(SESSIONS, 20, "Asia/Bangkok")
    attendees = {key: Attendee(key, frozenset({0, 1})) for key in ("acme", "city", "port")}
    attendees.update(people)
    return Problem(slots, tables, online, attendees, list(requests))


def reasons(problem: Problem) -> dict[object, str]:
    result = schedule(problem, time_limit=5)
    return {item.request: item.reason for item in result.unplaced}


def test_slots_are_cut_from_each_session_start_in_local_time() -> None:
    slots = make_slots(SESSIONS, 20, "Asia/Bangkok")
    assert [slot.start.isoformat() for slot in slots] == [
        "2027-03-09T09:00:00+07:00",
        "2027-03-09T09:20:00+07:00",
        "2027-03-09T14:00:00+07:00",
        "2027-03-09T14:20:00+07:00",
    ]
    assert [slot.session for slot in slots] == [0, 0, 1, 1]


def test_no_session_in_common() -> None:
    problem = event(
        Request(1, "acme", "city"),
        acme=Attendee("acme", frozenset({0})),
        city=Attendee("city", frozenset({1})),
    )
    assert reasons(problem) == {1: "acme and city attend no session in common"}


def test_meeting_cap_reached() -> None:
    problem = event(
        Request(1, "acme", "city"),
        Request(2, "acme", "port"),
        acme=Attendee("acme", frozenset({0, 1}), cap=1),
    )
    found = reasons(problem)
    assert list(found.values()) == ["acme reached its meeting cap (1)"]


def test_each_busy_at_a_different_time() -> None:
    problem = event(
        Request(1, "acme", "city", must=True),
        Request(2, "port", "city"),
        acme=Attendee("acme", frozenset({0})),
        port=Attendee("port", frozenset({0})),
        city=Attendee("city", frozenset({0})),
    )
    problem.requests.append(Request(3, "acme", "port", must=True))
    # city and acme meet, acme and port meet: the two slots of session 0 are used; city
    # and port could only meet in them.
    assert reasons(problem) == {2: "both have no common free slot in the sessions they attend"}


def test_no_common_free_slot() -> None:
    problem = event(
        Request(1, "acme", "x", must=True),
        Request(2, "city", "y", must=True),
        Request(3, "acme", "city"),
        acme=Attendee("acme", frozenset({0})),
        city=Attendee("city", frozenset({0})),
        x=Attendee("x", frozenset({0}), cap=1),
        y=Attendee("y", frozenset({0}), cap=1),
    )
    problem.fixed = [Placement(1, 0, 1), Placement(2, 1, 2)]
    assert reasons(problem) == {3: "both have no common free slot in the sessions they attend"}


def test_every_table_taken() -> None:
    people = {key: Attendee(key, frozenset({0})) for key in ("acme", "city", "port", "x", "y", "z")}
    problem = event(
        Request(1, "acme", "city"),
        Request(2, "port", "x"),
        Request(3, "y", "z"),
        tables=1,
        **people,
    )
    # One table and two slots, both taken by published meetings.
    problem.fixed = [Placement(1, 0, 1), Placement(2, 1, 1)]
    assert reasons(problem) == {3: "every table is taken in the slots where both are free"}


@pytest.mark.parametrize(
    ("online", "tables", "expected"),
    [
        (False, 5, "acme takes part online but the event allows no online meetings"),
        (True, 0, None),
    ],
)
def test_online_and_tables(online: bool, tables: int, expected: str | None) -> None:
    problem = event(
        Request(1, "acme", "city"),
        Request(2, "city", "port"),
        tables=tables,
        online=online,
        acme=Attendee("acme", frozenset({0, 1}), online=True),
    )
    found = reasons(problem)
    if expected:
        assert found == {1: expected}
    else:  # the online meeting needs no table; the on-site one has none
        assert found == {2: "both are on site but the event has no tables"}


def test_a_pair_asked_twice_meets_once() -> None:
    problem = event(Request(1, "acme", "city"), Request(2, "city", "acme"))
    assert reasons(problem) == {
        2: "city and acme have another request between them; a pair meets once"
    }


def test_each_reason_is_a_sentence_naming_the_sides_by_key_or_by_name() -> None:
    """The scheduler keeps a code and the sides; the English sentence (CLI, JSON) names
    them by key, a page by the names it passes (translated there)."""
    assert set(REASONS) == set(Why)
    for why in Why:
        reason = Unplaced(1, "acme", "city", why, who="city", cap=2).reason
        assert reason and "%(" not in reason and "None" not in reason
    capped = Unplaced(1, "acme", "city", Why.CAP_REACHED, who="city", cap=2)
    assert capped.reason == "city reached its meeting cap (2)"
    named = REASONS[capped.why] % capped.values({"city": "Hue City", "acme": "Acme"})
    assert named == "Hue City reached its meeting cap (2)"


def test_must_meets_come_first() -> None:
    # One slot, city in demand: the must-meet wins whatever the order.
    slots = make_slots(SESSIONS[:1], 50, "Asia/Bangkok")
    attendees = {key: Attendee(key, frozenset({0})) for key in ("acme", "city", "port")}
    problem = Problem(
        slots, 5, False, attendees, [Request(1, "acme", "city"), Request(2, "port", "city", True)]
    )
    result = schedule(problem, time_limit=5)
    assert [p.request for p in result.placements] == [2]
    assert result.unplaced[0].reason == "city is fully booked in the sessions both attend"


def test_a_day_is_spread_over_the_sessions_attended() -> None:
    # Four slots a session; city meets four vendors: two in each session, not four in a row.
    sessions = [
        (DAY.replace(hour=9), DAY.replace(hour=10, minute=20)),
        (DAY.replace(hour=14), DAY.replace(hour=15, minute=20)),
    ]
    slots = make_slots(sessions, 20, "Asia/Bangkok")
    vendors = [f"v{i}" for i in range(4)]
    attendees = {key: Attendee(key, frozenset({0, 1})) for key in ["city", *vendors]}
    requests = [Request(i, vendor, "city") for i, vendor in enumerate(vendors)]
    result = schedule(Problem(slots, 4, False, attendees, requests), time_limit=5)
    assert len(result.placements) == 4
    per_session = [sum(1 for p in result.placements if slots[p.slot].session == s) for s in (0, 1)]
    assert per_session == [2, 2]
