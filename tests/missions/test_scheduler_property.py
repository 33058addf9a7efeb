"""Whatever the event: no schedule breaks a rule, and the checker catches one that does."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.missions.scheduler import (
    MESSAGES,
    Attendee,
    Placement,
    Problem,
    Request,
    Rule,
    Slot,
    Violation,
    check_move,
    greedy,
    lp_bound,
    schedule,
    violations,
)

ZONE = ZoneInfo("Asia/Bangkok")
FIRST = dt.datetime(2027, 3, 9, 9, 0, tzinfo=ZONE)
QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    sessions = draw(st.integers(1, 3))
    slots = []
    for session in range(sessions):
        start = FIRST + dt.timedelta(hours=5 * session)
        for k in range(draw(st.integers(0, 4))):
            begin = start + dt.timedelta(minutes=20 * k)
            slots.append(Slot(begin, begin + dt.timedelta(minutes=20), session))
    keys = [f"org-{i}" for i in range(draw(st.integers(2, 7)))]
    attendees = {
        key: Attendee(
            key,
            frozenset(draw(st.sets(st.integers(0, sessions - 1), max_size=sessions))),
            draw(st.booleans()),
            draw(st.none() | st.integers(1, 3)),
        )
        for key in keys
    }
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(keys), st.sampled_from(keys)).filter(lambda p: p[0] != p[1]),
            max_size=14,
        )
    )
    requests = [Request(i, a, b, draw(st.booleans())) for i, (a, b) in enumerate(pairs)]
    return Problem(slots, draw(st.integers(0, 3)), draw(st.booleans()), attendees, requests)


def assert_sound(problem: Problem, placements: list[Placement], unplaced: list) -> None:
    assert violations(problem, placements) == []
    placed = {p.request for p in placements}
    left = {u.request for u in unplaced}
    assert placed.isdisjoint(left)
    assert placed | left == {r.key for r in problem.requests}
    assert all(u.reason for u in unplaced)


@QUICK
@given(problems(), st.sampled_from(["highs", "greedy"]))
def test_no_schedule_breaks_a_rule(problem: Problem, solver: str) -> None:
    result = schedule(problem, time_limit=5, solver=solver)
    assert_sound(problem, result.placements, result.unplaced)
    # Nothing left out fits anywhere: every unplaced request breaks a rule in every spot.
    tables = [None, *range(1, problem.tables + 1)]
    for item in result.unplaced:
        for slot in range(len(problem.slots)):
            for table in tables:
                assert check_move(problem, result.placements, item.request, slot, table)
    assert len(result.placements) <= lp_bound(problem) + 1e-6


@QUICK
@given(problems())
def test_the_solver_places_at_least_the_greedy_must_meets_and_meetings(problem: Problem) -> None:
    baseline = greedy(problem, "file")
    result = schedule(problem, time_limit=5)
    must = {r.key for r in problem.requests if r.must}
    assert result.must_placed(problem) >= sum(1 for p in baseline if p.request in must)
    if result.must_placed(problem) == sum(1 for p in baseline if p.request in must):
        assert len(result.placements) >= len(baseline)


@QUICK
@given(problems(), st.data())
def test_published_meetings_stay_where_they_are(problem: Problem, data: st.DataObject) -> None:
    first = schedule(problem, time_limit=5)
    kept = data.draw(
        st.lists(st.sampled_from(first.placements), unique=True)
        if first.placements
        else st.just([])
    )
    problem.fixed = kept
    again = schedule(problem, time_limit=5)
    assert_sound(problem, again.placements, again.unplaced)
    assert set(kept) <= set(again.placements)


@QUICK
@given(problems(), st.data())
def test_the_checker_names_the_rule_a_broken_schedule_breaks(
    problem: Problem, data: st.DataObject
) -> None:
    placements = schedule(problem, time_limit=5).placements
    if not placements:
        return
    victim = data.draw(st.sampled_from(placements))
    request = problem.request_map()[victim.request]
    others = [p for p in placements if p != victim]
    rules = {v.rule for v in violations(problem, [*placements, victim])}
    assert Rule.ONCE in rules and Rule.BUSY in rules
    online = problem.is_online(request)
    wrong_place = Placement(victim.request, victim.slot, None if not online else 1)
    broken = check_move(problem, others, victim.request, victim.slot, wrong_place.table)
    assert broken is not None
    assert broken.rule == (Rule.NO_TABLE_ONLINE if online else Rule.TABLE_NEEDED)
    absent = set(range(len(problem.slots))) - {
        s
        for s, slot in enumerate(problem.slots)
        if slot.session in problem.attendees[request.a].sessions
        and slot.session in problem.attendees[request.b].sessions
    }
    # A slot where either side already meets breaks "one meeting per slot" too, and that
    # rule may be named first: only slots where both are free name absence alone.
    requests = problem.request_map()
    busy = {
        p.slot
        for p in others
        if {requests[p.request].a, requests[p.request].b} & {request.a, request.b}
    }
    absent -= busy
    if absent:
        slot = data.draw(st.sampled_from(sorted(absent)))
        broken = check_move(problem, others, victim.request, slot, victim.table)
        assert broken is not None and broken.rule == Rule.ATTENDS
    if not online:
        broken = check_move(problem, others, victim.request, victim.slot, problem.tables + 1)
        assert broken is not None and broken.rule == Rule.TABLE_EXISTS
    assert check_move(problem, others, "no such request", victim.slot, None).rule == Rule.ACCEPTED


def test_each_broken_rule_says_what_breaks_it_by_key_or_by_name() -> None:
    """The checker keeps the rule and what breaks it; the English sentence (what `portal
    events show` prints) names the sides by key, a page by the names it passes (and
    translates it there)."""
    assert set(MESSAGES) == set(Rule)
    for rule in Rule:
        text = str(Violation(rule, "acme", "city", "city", FIRST, 7, 3, 4, 2, "r1"))
        assert text.endswith(f" ({rule.value})") and "%(" not in text and "None" not in text
    busy = Violation(Rule.BUSY, who="city", when=FIRST)
    assert str(busy) == (
        "city has two meetings at 2027-03-09 09:00 (a participant has at most one meeting per slot)"
    )
    named = MESSAGES[busy.rule] % busy.values({"city": "Hue City"}, when=lambda t: f"{t:%H:%M}")
    assert named == "Hue City has two meetings at 09:00"
    assert Violation(Rule.ACCEPTED, request="#12").message == "request '#12' is not accepted"
