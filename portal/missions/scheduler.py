"""The meeting scheduler: accepted requests into slots and tables, as plain data.

Everything here is pure (no database, no Flask), so tests and benchmarks call it directly
and ``portal.missions.services`` only translates rows into a ``Problem`` and back.

The rules are those of "What a schedule must respect" in the exchange format: a meeting
takes one slot; a participant has at most one meeting per slot, only in slots of the
sessions it attends, and at most its cap in all; a meeting between two on-site
participants takes a table (at most ``tables`` per slot, one meeting per table and slot);
a meeting with an online participant is online and takes no table; a pair meets at most
once; only accepted requests are scheduled, and every one is placed or reported with a
reason.

How a schedule is made (``schedule``):

1. Meetings kept from before (published ones, unless a full re-plan is asked) are fixed.
2. A first-fit greedy places must-meets first, the requests with the fewest possible
   slots next, so there is always an answer.
3. A mixed-integer programme over "request r in session k" (HiGHS through
   ``scipy.optimize.milp``, under a time limit) maximises must-meets first, then meetings;
   slots within each session are then given by edge colouring (``_assign_slots``), and
   the result replaces the greedy's only when it is better. Tables are interchangeable,
   so only their number per slot counts; numbers are given at the end. OR-Tools CP-SAT
   can solve the same programme (``solver="cp-sat"``) for comparison; docs/benchmarks.md
   says why HiGHS is the one used.
4. A local search moves meetings between free slots to spread each participant's day (no
   long runs, every attended session used), never changing which meetings are placed.
5. A last first-fit pass fills any slot that became usable, and every request left out
   gets the reason a person reads.

``lp_bound`` is the linear-relaxation bound on the number of meetings, the yardstick of
the benchmarks. ``violations`` checks any schedule against every rule and ``check_move``
names the rule a hand-made move would break.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

import numpy as np

# A participant's meetings back to back beyond this many count as a run to break up.
MAX_RUN = 3
DEFAULT_TIME_LIMIT = 30.0


def N_(message: str) -> str:
    """Marks a message for the catalog (``pybabel extract`` reads ``N_``) and returns it as
    is: the scheduler stays free of Flask, and a page translates the sentence it shows."""
    return message


@dataclass(frozen=True, slots=True)
class Slot:
    """One meeting slot: timezone-aware start and end, and the session it belongs to."""

    start: dt.datetime
    end: dt.datetime
    session: int


def make_slots(
    sessions: Sequence[tuple[dt.datetime, dt.datetime]], minutes: int, time_zone: str
) -> list[Slot]:
    """Cut each session (naive local start and end) into back-to-back slots of ``minutes``
    from its start, dropping a last slot that would run past the end; in time order."""
    zone = ZoneInfo(time_zone)
    length = dt.timedelta(minutes=minutes)
    slots = []
    for index, (start, end) in enumerate(sessions):
        begin = start
        while begin + length <= end:
            slots.append(
                Slot(begin.replace(tzinfo=zone), (begin + length).replace(tzinfo=zone), index)
            )
            begin += length
    slots.sort(key=lambda slot: slot.start)
    return slots


@dataclass(frozen=True, slots=True)
class Attendee:
    """A participant as the scheduler sees it; ``key`` is what reasons call it."""

    key: str
    sessions: frozenset[int]
    online: bool = False
    cap: int | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """An accepted meeting request between attendees ``a`` and ``b``."""

    key: Hashable
    a: str
    b: str
    must: bool = False


@dataclass(frozen=True, slots=True)
class Placement:
    """A meeting: a request in a slot (an index into ``Problem.slots``), at a table
    numbered from 1, or online (``table`` None)."""

    request: Hashable
    slot: int
    table: int | None


@dataclass
class Problem:
    slots: list[Slot]
    tables: int
    online_allowed: bool
    attendees: dict[str, Attendee]
    requests: list[Request]  # accepted requests, in the order a first-fit reads them
    fixed: list[Placement] = field(default_factory=list)  # kept where they are

    def request_map(self) -> dict[Hashable, Request]:
        return {request.key: request for request in self.requests}

    def is_online(self, request: Request) -> bool:
        return self.attendees[request.a].online or self.attendees[request.b].online


@dataclass(frozen=True, slots=True)
class Unplaced:
    """An accepted request left out and why: ``why``, with the side its sentence names
    (``who``) and the cap that side reached (``cap``) where the sentence says them."""

    request: Hashable
    a: str
    b: str
    why: Why
    who: str = ""
    cap: int | None = None

    def values(self, names: Mapping[str, str] | None = None) -> dict[str, str | int | None]:
        """The placeholders of the reason's sentence; the sides by ``names`` (key to name)
        where it has them, else by key."""
        known = names or {}
        a, b, who = (known.get(key, key) for key in (self.a, self.b, self.who))
        return {"a": a, "b": b, "who": who, "cap": self.cap}

    @property
    def reason(self) -> str:
        """Why, in English with the sides by key: what the CLI and its JSON print."""
        return REASONS[self.why] % self.values()


@dataclass
class Stats:
    greedy: int = 0  # meetings the first-fit greedy placed (the solver's starting point)
    greedy_must: int = 0
    solver: str = "greedy"
    solver_meetings: int | None = None  # what the solver returned, before the last fill
    solver_status: str = ""
    solver_seconds: float = 0.0
    spread_moves: int = 0
    seconds: float = 0.0


@dataclass
class Schedule:
    placements: list[Placement]
    unplaced: list[Unplaced]
    stats: Stats = field(default_factory=Stats)

    def must_placed(self, problem: Problem) -> int:
        requests = problem.request_map()
        return sum(1 for p in self.placements if requests[p.request].must)


class Rule(StrEnum):
    """Every rule a schedule must respect, each with the sentence that names it (in
    English; a page shows it translated, ``portal.missions.services.violation_text``)."""

    ACCEPTED = N_("only accepted requests are scheduled")
    SLOT = N_("a meeting takes one of the event's slots")
    ONCE = N_("a pair meets at most once per event")
    ATTENDS = N_("a participant meets only in slots of the sessions it attends")
    BUSY = N_("a participant has at most one meeting per slot")
    CAP = N_("a participant has at most its cap of meetings")
    TABLE_NEEDED = N_("a meeting between two on-site participants takes a table")
    NO_TABLE_ONLINE = N_("a meeting with an online participant is online and takes no table")
    ONLINE_ALLOWED = N_("online meetings only at an event that allows them")
    TABLE_EXISTS = N_("a meeting takes one of the event's tables")
    TABLE_FREE = N_("each table holds one meeting per slot")


# What breaks each rule, in English with the sides by key: what `portal events show`
# prints; pages show it translated with names (``portal.missions.services.violation_text``).
# Placeholders: ``%(a)s`` and ``%(b)s`` a meeting's two sides, ``%(who)s`` one participant,
# ``%(when)s`` a slot's start, ``%(slot)s`` a slot number, ``%(table)s`` a table number,
# ``%(count)s`` and ``%(cap)s`` numbers of meetings, ``%(request)s`` a request's key.
MESSAGES: dict[Rule, str] = {
    Rule.ACCEPTED: N_("request %(request)s is not accepted"),
    Rule.SLOT: N_("%(a)s and %(b)s: slot %(slot)s does not exist"),
    Rule.ONCE: N_("%(a)s and %(b)s meet more than once"),
    Rule.ATTENDS: N_("%(who)s does not attend the session of %(when)s"),
    Rule.BUSY: N_("%(who)s has two meetings at %(when)s"),
    Rule.CAP: N_("%(who)s has %(count)s meetings; its cap is %(cap)s"),
    Rule.TABLE_NEEDED: N_("%(a)s and %(b)s are both on site but have no table"),
    Rule.NO_TABLE_ONLINE: N_("%(a)s and %(b)s meet online but were given a table"),
    Rule.ONLINE_ALLOWED: N_("%(a)s and %(b)s would meet online"),
    Rule.TABLE_EXISTS: N_("there is no table %(table)s"),
    Rule.TABLE_FREE: N_("table %(table)s is taken twice at %(when)s"),
}


def _when(start: dt.datetime) -> str:
    """A slot's start as the CLI prints it, in the event's time zone."""
    return start.strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken rule and what breaks it: the meeting's sides (``a``, ``b``, attendee
    keys), the participant concerned (``who``), the slot's start (``when``, in the event's
    zone), a slot or table number, a count against a cap, or a request's key."""

    rule: Rule
    a: str = ""
    b: str = ""
    who: str = ""
    when: dt.datetime | None = None
    slot: int | None = None
    table: int | None = None
    count: int | None = None
    cap: int | None = None
    request: Hashable = None

    def values(
        self,
        names: Mapping[str, str] | None = None,
        when: Callable[[dt.datetime], str] = _when,
    ) -> dict[str, object]:
        """The placeholders of the rule's message: the sides by ``names`` (key to name)
        where it has them, else by key; the slot's start written by ``when``."""
        known = names or {}
        a, b, who = (known.get(key, key) for key in (self.a, self.b, self.who))
        return {
            "a": a,
            "b": b,
            "who": who,
            "when": when(self.when) if self.when is not None else "",
            "slot": self.slot,
            "table": self.table,
            "count": self.count,
            "cap": self.cap,
            "request": repr(self.request),
        }

    @property
    def message(self) -> str:
        """What breaks the rule, in English with the sides by key."""
        return MESSAGES[self.rule] % self.values()

    def __str__(self) -> str:
        return f"{self.message} ({self.rule.value})"


# --- checking ---------------------------------------------------------------------------


def violations(problem: Problem, placements: Iterable[Placement]) -> list[Violation]:
    """Every broken rule of ``placements`` (the whole schedule, kept meetings included)."""
    found: list[Violation] = []
    accepted = problem.request_map()
    seen_requests: set[Hashable] = set()
    seen_pairs: set[frozenset[str]] = set()
    busy: dict[tuple[str, int], Hashable] = {}
    tables_taken: dict[tuple[int, int], Hashable] = {}
    counts: dict[str, int] = defaultdict(int)
    for placement in placements:
        request = accepted.get(placement.request)
        if request is None:
            found.append(Violation(Rule.ACCEPTED, request=placement.request))
            continue
        pair = frozenset((request.a, request.b))
        if placement.request in seen_requests or pair in seen_pairs:
            found.append(Violation(Rule.ONCE, request.a, request.b))
        seen_requests.add(placement.request)
        seen_pairs.add(pair)
        if not 0 <= placement.slot < len(problem.slots):
            found.append(Violation(Rule.SLOT, request.a, request.b, slot=placement.slot))
            continue
        slot = problem.slots[placement.slot]
        for key in (request.a, request.b):
            if slot.session not in problem.attendees[key].sessions:
                found.append(Violation(Rule.ATTENDS, who=key, when=slot.start))
            other = busy.get((key, placement.slot))
            if other is not None:
                found.append(Violation(Rule.BUSY, who=key, when=slot.start))
            busy[(key, placement.slot)] = placement.request
            counts[key] += 1
        found.extend(_table_violations(problem, request, placement))
        if placement.table is not None and 1 <= placement.table <= problem.tables:
            spot = (placement.slot, placement.table)
            if spot in tables_taken:
                found.append(Violation(Rule.TABLE_FREE, table=placement.table, when=slot.start))
            tables_taken[spot] = placement.request
    for key, count in counts.items():
        cap = problem.attendees[key].cap
        if cap is not None and count > cap:
            found.append(Violation(Rule.CAP, who=key, count=count, cap=cap))
    return found


def _table_violations(problem: Problem, request: Request, placement: Placement) -> list[Violation]:
    online = problem.is_online(request)
    if online and placement.table is not None:
        return [Violation(Rule.NO_TABLE_ONLINE, request.a, request.b)]
    if online and not problem.online_allowed:
        return [Violation(Rule.ONLINE_ALLOWED, request.a, request.b)]
    if not online and placement.table is None:
        return [Violation(Rule.TABLE_NEEDED, request.a, request.b)]
    if placement.table is not None and not 1 <= placement.table <= problem.tables:
        return [Violation(Rule.TABLE_EXISTS, table=placement.table)]
    return []


def check_move(
    problem: Problem,
    placements: Sequence[Placement],
    request: Hashable,
    slot: int,
    table: int | None,
) -> Violation | None:
    """The first rule broken by moving (or adding) ``request``'s meeting to ``slot`` and
    ``table``, the rest of the schedule unchanged; None when the move is allowed."""
    others = [p for p in placements if p.request != request]
    before = set(violations(problem, others))
    after = violations(problem, [*others, Placement(request, slot, table)])
    return next((v for v in after if v not in before), None)


# --- the state of a schedule being built --------------------------------------------------


class _Board:
    """Who is busy when, how many meetings each has and tables used per slot."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.busy: dict[str, set[int]] = defaultdict(set)
        self.count: dict[str, int] = defaultdict(int)
        self.on_site: list[int] = [0] * len(problem.slots)
        self.slot_of: dict[Hashable, int] = {}
        self.at: dict[tuple[str, int], Hashable] = {}  # (participant, slot) -> request
        self.fixed: set[Hashable] = set()  # kept meetings: never moved
        self.requests = problem.request_map()

    def can_place(self, request: Request, slot: int) -> bool:
        a, b = request.a, request.b
        if slot in self.busy[a] or slot in self.busy[b]:
            return False
        return self.problem.is_online(request) or self.on_site[slot] < self.problem.tables

    def cap_left(self, key: str) -> bool:
        cap = self.problem.attendees[key].cap
        return cap is None or self.count[key] < cap

    def place(self, request: Request, slot: int) -> None:
        for key in (request.a, request.b):
            self.busy[key].add(slot)
            self.count[key] += 1
            self.at[(key, slot)] = request.key
        if not self.problem.is_online(request):
            self.on_site[slot] += 1
        self.slot_of[request.key] = slot

    def remove(self, request: Request) -> int:
        slot = self.slot_of.pop(request.key)
        for key in (request.a, request.b):
            self.busy[key].discard(slot)
            self.count[key] -= 1
            del self.at[(key, slot)]
        if not self.problem.is_online(request):
            self.on_site[slot] -= 1
        return slot


def _common_slots(problem: Problem) -> dict[Hashable, list[int]]:
    """For each request, the slots both sides attend (in time order), or [] when the
    meeting cannot happen at all (online at an event without online meetings, no tables)."""
    by_session: dict[int, list[int]] = defaultdict(list)
    for index, slot in enumerate(problem.slots):
        by_session[slot.session].append(index)
    result: dict[Hashable, list[int]] = {}
    pairs: set[frozenset[str]] = set()
    for request in problem.requests:
        a, b = problem.attendees[request.a], problem.attendees[request.b]
        online = a.online or b.online
        pair = frozenset((a.key, b.key))
        repeated = pair in pairs
        pairs.add(pair)
        if (
            repeated
            or (online and not problem.online_allowed)
            or (not online and problem.tables <= 0)
        ):
            result[request.key] = []
            continue
        sessions = sorted(a.sessions & b.sessions)
        result[request.key] = sorted(s for session in sessions for s in by_session[session])
    return result


def _start_board(problem: Problem) -> tuple[_Board, list[Placement]]:
    """A board holding the kept meetings (those that still break no rule)."""
    board = _Board(problem)
    kept = []
    accepted = board.requests
    for placement in problem.fixed:
        request = accepted.get(placement.request)
        if request is None or request.key in board.slot_of:
            continue
        if violations(problem, [*kept, placement]):
            continue  # no longer valid (sessions or modes changed): planned again
        board.place(request, placement.slot)
        board.fixed.add(request.key)
        kept.append(placement)
    return board, kept


def _first_fit(board: _Board, order: Iterable[Request], common: dict[Hashable, list[int]]) -> None:
    for request in order:
        if request.key in board.slot_of:
            continue
        if not (board.cap_left(request.a) and board.cap_left(request.b)):
            continue
        for slot in common[request.key]:
            if board.can_place(request, slot):
                board.place(request, slot)
                break


def greedy(problem: Problem, order: str = "file") -> list[Placement]:
    """First-fit, must-meets first: in the requests' own order (``"file"``, the baseline
    of the benchmarks) or the requests with the fewest possible slots first (``"scarce"``,
    the scheduler's starting point). Kept meetings stay. Returns the whole schedule."""
    board, kept = _start_board(problem)
    common = _common_slots(problem)
    _first_fit(board, _ordered(problem, common, order), common)
    return kept + _new_placements(board, {p.request for p in kept})


def _ordered(problem: Problem, common: dict[Hashable, list[int]], order: str) -> list[Request]:
    position = {request.key: index for index, request in enumerate(problem.requests)}
    if order == "file":
        return sorted(problem.requests, key=lambda r: (not r.must, position[r.key]))
    # Scarce first: few common slots, and sides in demand (many requests) before others.
    demand: dict[str, int] = defaultdict(int)
    for request in problem.requests:
        demand[request.a] += 1
        demand[request.b] += 1
    return sorted(
        problem.requests,
        key=lambda r: (
            not r.must,
            len(common[r.key]),
            -max(demand[r.a], demand[r.b]),
            position[r.key],
        ),
    )


def _new_placements(board: _Board, kept: set[Hashable]) -> list[Placement]:
    """Placements of the board's meetings that were not kept, tables numbered per slot
    from the lowest free one (kept meetings keep theirs)."""
    problem = board.problem
    taken: dict[int, set[int]] = defaultdict(set)
    for placement in problem.fixed:
        if placement.request in kept and placement.table is not None:
            taken[placement.slot].add(placement.table)
    result = []
    requests = board.requests
    for key, slot in sorted(board.slot_of.items(), key=lambda item: (item[1], str(item[0]))):
        if key in kept:
            continue
        request = requests[key]
        table = None
        if not problem.is_online(request):
            table = next(t for t in range(1, problem.tables + 1) if t not in taken[slot])
            taken[slot].add(table)
        result.append(Placement(key, slot, table))
    return result


# --- the mixed-integer programme ----------------------------------------------------------
#
# Within one session every slot is alike: the same participants attend it and it has the
# same tables. So the programme chooses a session for each meeting ("request r in session
# k"), with at most as many meetings per participant and session as it has free slots
# there, and at most tables x free slots on-site meetings per session; slots are given
# afterwards by colouring each session's meetings (``_assign_slots``). Its linear
# relaxation equals that of the slot-by-slot programme (spread a session's value evenly
# over its slots), with about a tenth of the variables.


@dataclass
class _Model:
    """``x[j]`` = request ``columns[j][0]`` in session ``columns[j][1]``; rows ``A x <= b``."""

    columns: list[tuple[Request, int]]
    rows: list[int]
    cols: list[int]
    upper: list[float]


def _session_slots(problem: Problem) -> dict[int, list[int]]:
    by_session: dict[int, list[int]] = defaultdict(list)
    for index, slot in enumerate(problem.slots):
        by_session[slot.session].append(index)
    return by_session


def _build_model(problem: Problem, board: _Board, common: dict[Hashable, list[int]]) -> _Model:
    """The free part of the problem once the kept meetings are on ``board``."""
    sessions = _session_slots(problem)
    columns: list[tuple[Request, int]] = []
    by_request: dict[Hashable, list[int]] = defaultdict(list)
    by_person_session: dict[tuple[str, int], list[int]] = defaultdict(list)
    by_person: dict[str, list[int]] = defaultdict(list)
    on_site_by_session: dict[int, list[int]] = defaultdict(list)
    for request in problem.requests:
        if request.key in board.slot_of:
            continue
        online = problem.is_online(request)
        usable = {
            problem.slots[s].session for s in common[request.key] if board.can_place(request, s)
        }
        for session in sorted(usable):
            j = len(columns)
            columns.append((request, session))
            by_request[request.key].append(j)
            by_person_session[(request.a, session)].append(j)
            by_person_session[(request.b, session)].append(j)
            by_person[request.a].append(j)
            by_person[request.b].append(j)
            if not online:
                on_site_by_session[session].append(j)
    rows: list[int] = []
    cols: list[int] = []
    upper: list[float] = []

    def add(members: list[int], bound: int) -> None:
        row = len(upper)
        rows.extend([row] * len(members))
        cols.extend(members)
        upper.append(bound)

    for members in by_request.values():
        if len(members) > 1:
            add(members, 1)
    for (key, session), members in by_person_session.items():
        free = sum(1 for s in sessions[session] if s not in board.busy[key])
        if len(members) > free:
            add(members, free)
    for key, members in by_person.items():
        cap = problem.attendees[key].cap
        if cap is not None and len(members) > cap - board.count[key]:
            add(members, max(cap - board.count[key], 0))
    for session, members in on_site_by_session.items():
        room = sum(problem.tables - board.on_site[s] for s in sessions[session])
        if len(members) > room:
            add(members, room)
    return _Model(columns, rows, cols, upper)


def _matrix(model: _Model) -> object:
    from scipy.sparse import csr_array

    data = np.ones(len(model.rows))
    shape = (len(model.upper), len(model.columns))
    return csr_array((data, (model.rows, model.cols)), shape=shape)


def _weights(problem: Problem, model: _Model, must_first: bool = True) -> np.ndarray:
    """A must-meet is worth more than all normal meetings together: must-meets first
    (unless ``must_first`` is off: then every meeting counts one)."""
    normal = sum(1 for r in problem.requests if not r.must)
    must_weight = normal + 1 if must_first else 1
    return np.array([must_weight if r.must else 1 for r, _ in model.columns], dtype=float)


def _relaxation(problem: Problem, objective: np.ndarray, model: _Model, extra=None) -> float:
    from scipy.optimize import linprog

    matrix = _matrix(model)
    upper = np.array(model.upper)
    if extra is not None:
        from scipy.sparse import vstack

        row, bound = extra
        matrix = vstack([matrix, row.reshape(1, -1)])
        upper = np.append(upper, bound)
    result = linprog(-objective, A_ub=matrix, b_ub=upper, bounds=(0, 1), method="highs")
    if result.status != 0:
        raise RuntimeError(f"the linear relaxation failed: {result.message}")
    return -float(result.fun)


def lp_bound(problem: Problem, must_at_least: int | None = None) -> float:
    """The linear-relaxation bound on the number of meetings (kept meetings included).

    With ``must_at_least``: the bound among schedules placing at least that many
    must-meets (kept ones included), which is what a must-meets-first schedule can reach.
    """
    board, kept = _start_board(problem)
    model = _build_model(problem, board, _common_slots(problem))
    if not model.columns:
        return float(len(kept))
    ones = np.ones(len(model.columns))
    extra = None
    if must_at_least is not None:
        kept_must = sum(1 for key in board.slot_of if board.requests[key].must)
        must = np.array([1.0 if r.must else 0.0 for r, _ in model.columns])
        extra = (-must, -(must_at_least - kept_must))
    if not model.upper and extra is None:
        return float(len(kept) + len(model.columns))
    return len(kept) + _relaxation(problem, ones, model, extra)


def _solve_highs(
    problem: Problem, model: _Model, time_limit: float, must_first: bool = True
) -> tuple[list[int] | None, str]:
    from scipy.optimize import Bounds, LinearConstraint, milp

    weights = _weights(problem, model, must_first)
    constraints = []
    if model.upper:
        constraints.append(LinearConstraint(_matrix(model), -np.inf, np.array(model.upper)))
    result = milp(
        -weights,
        constraints=constraints,
        integrality=np.ones(len(model.columns)),
        bounds=Bounds(0, 1),
        options={"time_limit": max(time_limit, 0.1), "mip_rel_gap": 1e-9, "disp": False},
    )
    if result.x is None:
        return None, result.message
    chosen = [j for j in range(len(model.columns)) if result.x[j] > 0.5]
    return chosen, "optimal" if result.status == 0 else "time limit, best found"


def _solve_cp_sat(
    problem: Problem,
    model: _Model,
    time_limit: float,
    hint: set[int],
    must_first: bool = True,
    workers: int = 2,
) -> tuple[list[int] | None, str]:
    """The same programme with OR-Tools CP-SAT, the greedy as a hint (for comparison:
    ``ortools`` is not a dependency of the portal)."""
    from ortools.sat.python import cp_model

    cp = cp_model.CpModel()
    x = [cp.new_bool_var(f"x{j}") for j in range(len(model.columns))]
    members: dict[int, list[int]] = defaultdict(list)
    for row, col in zip(model.rows, model.cols, strict=True):
        members[row].append(col)
    for row, bound in enumerate(model.upper):
        if bound == 1:
            cp.add_at_most_one(x[j] for j in members[row])
        else:
            cp.add(sum(x[j] for j in members[row]) <= int(bound))
    weights = _weights(problem, model, must_first)
    cp.maximize(sum(int(w) * v for w, v in zip(weights, x, strict=True)))
    for j, var in enumerate(x):
        cp.add_hint(var, j in hint)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit, 0.1)
    solver.parameters.num_workers = workers
    status = solver.solve(cp)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, solver.status_name(status)
    chosen = [j for j in range(len(x)) if solver.value(x[j])]
    return chosen, "optimal" if status == cp_model.OPTIMAL else "time limit, best found"


def _assign_slots(board: _Board, chosen: list[tuple[Request, int]]) -> None:
    """Give each chosen meeting a slot of its session: an edge colouring of the session's
    meetings with its slots as colours. When no slot is free for both sides, a Kempe
    chain swap frees one (always possible between vendors and buyers, whose graph has no
    odd cycle); a meeting that still finds none is left for the last first-fit pass."""
    problem = board.problem
    sessions = _session_slots(problem)
    by_session: dict[int, list[Request]] = defaultdict(list)
    for request, session in chosen:
        by_session[session].append(request)
    for session, requests in by_session.items():
        slots = sessions[session]
        degree: dict[str, int] = defaultdict(int)
        for request in requests:
            degree[request.a] += 1
            degree[request.b] += 1
        requests.sort(key=lambda r: -max(degree[r.a], degree[r.b]))
        for request in requests:
            free = [s for s in slots if board.can_place(request, s)]
            if free:
                board.place(request, free[0])
            else:
                _kempe_place(board, request, slots)


def _kempe_place(board: _Board, request: Request, slots: list[int]) -> bool:
    problem = board.problem
    a, b = request.a, request.b
    free_a = [s for s in slots if s not in board.busy[a]]
    free_b = [s for s in slots if s not in board.busy[b]]
    for alpha in free_a:
        for beta in free_b:
            # The chain from b through its alpha meeting, then beta, alpha, ...
            path: list[Request] = []
            person, colour = b, alpha
            while True:
                key = board.at.get((person, colour))
                if key is None:
                    break
                if key in board.fixed:
                    path = []
                    break
                met = board.requests[key]
                path.append(met)
                person = met.b if met.a == person else met.a
                colour = beta if colour == alpha else alpha
                if person == a or len(path) > 4 * len(slots) + 64:
                    path = []
                    break
            if not path:
                continue
            # Swap alpha and beta along the chain, if the tables allow it.
            change = {alpha: 0, beta: 0}
            for met in path:
                if not problem.is_online(met):
                    old = board.slot_of[met.key]
                    change[old] -= 1
                    change[beta if old == alpha else alpha] += 1
            onsite = not problem.is_online(request)
            if board.on_site[alpha] + change[alpha] + onsite > problem.tables and onsite:
                continue
            if board.on_site[beta] + change[beta] > problem.tables:
                continue
            moved = [(met, board.remove(met)) for met in path]
            for met, old in moved:
                board.place(met, beta if old == alpha else alpha)
            if board.can_place(request, alpha):
                board.place(request, alpha)
                return True
            for met, _ in moved:  # cannot happen; undo to stay consistent
                board.remove(met)
            for met, old in moved:
                board.place(met, old)
    return False


# --- spreading a participant's day --------------------------------------------------------


def _person_cost(slots: set[int], problem: Problem, key: str) -> int:
    """Runs beyond MAX_RUN back-to-back meetings cost a lot; uneven use of the sessions a
    participant attends costs a little (the sum of squares of meetings per session)."""
    if not slots:
        return 0
    ordered = sorted(slots)
    cost = 0
    run = 1
    for previous, current in itertools.pairwise(ordered):
        back_to_back = (
            current == previous + 1
            and problem.slots[current].session == problem.slots[previous].session
            and problem.slots[current].start == problem.slots[previous].end
        )
        run = run + 1 if back_to_back else 1
        if run > MAX_RUN:
            cost += 100
    per_session: dict[int, int] = defaultdict(int)
    for slot in ordered:
        per_session[problem.slots[slot].session] += 1
    return cost + sum(n * n for n in per_session.values())


def _spread(
    board: _Board,
    common: dict[Hashable, list[int]],
    kept: set[Hashable],
    deadline: float,
    passes: int = 3,
) -> int:
    """Move meetings (never kept ones) to free slots where both sides' days get better."""
    problem = board.problem
    moves = 0
    for _ in range(passes):
        improved = False
        for key in list(board.slot_of):
            if key in kept:
                continue
            if time.monotonic() > deadline:
                return moves
            request = board.requests[key]
            a, b = request.a, request.b
            current = board.slot_of[key]
            base = _person_cost(board.busy[a], problem, a) + _person_cost(board.busy[b], problem, b)
            board.remove(request)
            busy_a = board.busy[a]
            busy_b = board.busy[b]
            best, best_cost = current, base
            for slot in common[key]:
                if slot == current or not board.can_place(request, slot):
                    continue
                cost = _person_cost(busy_a | {slot}, problem, a) + _person_cost(
                    busy_b | {slot}, problem, b
                )
                if cost < best_cost:
                    best, best_cost = slot, cost
            board.place(request, best)
            if best != current:
                moves += 1
                improved = True
        if not improved:
            break
    return moves


# --- reasons ------------------------------------------------------------------------------


class Why(StrEnum):
    """Why an accepted request is not placed; ``REASONS`` holds each one's sentence."""

    PAIR_ONCE = "pair-once"
    ONLINE_NOT_ALLOWED = "online-not-allowed"
    NO_TABLES = "no-tables"
    NO_COMMON_SESSION = "no-common-session"
    SESSIONS_TOO_SHORT = "sessions-too-short"
    CAP_REACHED = "cap-reached"
    BOTH_BOOKED = "both-booked"
    ONE_BOOKED = "one-booked"
    NO_COMMON_FREE_SLOT = "no-common-free-slot"
    TABLES_TAKEN = "tables-taken"


# Each reason in English, as the CLI and its JSON print it; pages show it translated
# (``portal.missions.services.unplaced_reason``). Placeholders: ``%(a)s`` and ``%(b)s`` the
# request's two sides, ``%(who)s`` one of them (attendee keys, which a page replaces by
# names), ``%(cap)s`` a number of meetings.
REASONS: dict[Why, str] = {
    Why.PAIR_ONCE: N_("%(a)s and %(b)s have another request between them; a pair meets once"),
    Why.ONLINE_NOT_ALLOWED: N_("%(who)s takes part online but the event allows no online meetings"),
    Why.NO_TABLES: N_("both are on site but the event has no tables"),
    Why.NO_COMMON_SESSION: N_("%(a)s and %(b)s attend no session in common"),
    Why.SESSIONS_TOO_SHORT: N_("the sessions both attend are too short for a meeting"),
    Why.CAP_REACHED: N_("%(who)s reached its meeting cap (%(cap)s)"),
    Why.BOTH_BOOKED: N_("both %(a)s and %(b)s are fully booked in the sessions both attend"),
    Why.ONE_BOOKED: N_("%(who)s is fully booked in the sessions both attend"),
    Why.NO_COMMON_FREE_SLOT: N_("both have no common free slot in the sessions they attend"),
    Why.TABLES_TAKEN: N_("every table is taken in the slots where both are free"),
}


def _why(
    problem: Problem,
    board: _Board,
    request: Request,
    common: list[int],
    first_of_pair: dict[frozenset[str], Hashable],
) -> tuple[Why, str, int | None]:
    """Why ``request`` is not placed on the final board: the reason, the side it names
    (``who``, or "") and the cap reached (or None)."""
    a, b = problem.attendees[request.a], problem.attendees[request.b]
    online = a.online or b.online
    if first_of_pair[frozenset((a.key, b.key))] != request.key:
        return Why.PAIR_ONCE, "", None
    if online and not problem.online_allowed:
        return Why.ONLINE_NOT_ALLOWED, a.key if a.online else b.key, None
    if not online and problem.tables <= 0:
        return Why.NO_TABLES, "", None
    if not a.sessions & b.sessions:
        return Why.NO_COMMON_SESSION, "", None
    if not common:
        return Why.SESSIONS_TOO_SHORT, "", None
    for side in (a, b):
        if side.cap is not None and board.count[side.key] >= side.cap:
            return Why.CAP_REACHED, side.key, side.cap
    a_busy = all(slot in board.busy[a.key] for slot in common)
    b_busy = all(slot in board.busy[b.key] for slot in common)
    if a_busy and b_busy:
        return Why.BOTH_BOOKED, "", None
    if a_busy or b_busy:
        return Why.ONE_BOOKED, a.key if a_busy else b.key, None
    both_free = [s for s in common if s not in board.busy[a.key] and s not in board.busy[b.key]]
    if not both_free:
        return Why.NO_COMMON_FREE_SLOT, "", None
    return Why.TABLES_TAKEN, "", None


# --- the whole run ------------------------------------------------------------------------


def schedule(
    problem: Problem,
    time_limit: float = DEFAULT_TIME_LIMIT,
    solver: str = "highs",
    spread: bool = True,
    must_first: bool = True,
) -> Schedule:
    """Place ``problem``'s accepted requests; ``problem.fixed`` meetings stay where they are.

    ``solver``: ``"highs"`` (the default), ``"cp-sat"`` (needs ``ortools``) or ``"greedy"``
    (no solver). ``time_limit`` bounds the solver; the spreading gets a tenth more.
    ``must_first`` off: the solver maximises meetings alone (for measuring what placing
    must-meets first costs; the portal always places them first).
    """
    started = time.monotonic()
    stats = Stats()
    common = _common_slots(problem)
    board, kept_list = _start_board(problem)
    kept = {p.request for p in kept_list}
    order = _ordered(problem, common, "scarce")
    _first_fit(board, order, common)
    requests = board.requests
    stats.greedy = len(board.slot_of)
    stats.greedy_must = sum(1 for key in board.slot_of if requests[key].must)

    if solver != "greedy":
        stats.solver = solver
        solved, _ = _start_board(problem)
        model = _build_model(problem, solved, common)
        if model.columns:
            solver_started = time.monotonic()
            hint = {
                j
                for j, (request, session) in enumerate(model.columns)
                if request.key in board.slot_of
                and request.key not in kept
                and problem.slots[board.slot_of[request.key]].session == session
            }
            if solver == "cp-sat":
                chosen, status = _solve_cp_sat(problem, model, time_limit, hint, must_first)
            elif solver == "highs":
                chosen, status = _solve_highs(problem, model, time_limit, must_first)
            else:
                raise ValueError(f"unknown solver {solver!r}")
            stats.solver_seconds = time.monotonic() - solver_started
            stats.solver_status = status
            if chosen is not None:
                stats.solver_meetings = len(kept) + len(chosen)
                _assign_slots(solved, [model.columns[j] for j in chosen])
                _first_fit(solved, order, common)
                if _value(solved, must_first) > _value(board, must_first):
                    board = solved

    if spread:
        deadline = time.monotonic() + max(time_limit * 0.1, 1.0)
        stats.spread_moves = _spread(board, common, kept, deadline)
        _first_fit(board, order, common)

    placements = kept_list + _new_placements(board, kept)
    first_of_pair: dict[frozenset[str], Hashable] = {}
    for r in problem.requests:
        first_of_pair.setdefault(frozenset((r.a, r.b)), r.key)
    unplaced = [
        Unplaced(r.key, r.a, r.b, *_why(problem, board, r, common[r.key], first_of_pair))
        for r in problem.requests
        if r.key not in board.slot_of
    ]
    stats.seconds = time.monotonic() - started
    return Schedule(placements, unplaced, stats)


def _value(board: _Board, must_first: bool = True) -> tuple[int, int]:
    """Must-meets first, then meetings."""
    must = sum(1 for key in board.slot_of if board.requests[key].must)
    return (must, len(board.slot_of)) if must_first else (len(board.slot_of), must)


__all__ = [
    "MESSAGES",
    "REASONS",
    "Attendee",
    "Placement",
    "Problem",
    "Request",
    "Rule",
    "Schedule",
    "Slot",
    "Stats",
    "Unplaced",
    "Violation",
    "Why",
    "check_move",
    "greedy",
    "lp_bound",
    "make_slots",
    "schedule",
    "violations",
]
