"""The scheduler's bars: two generated events, imported and scheduled by the real commands.

    .venv/bin/python benchmarks/schedule_bench.py \\
        --tools ../shared/tools --orgs ../shared/data/dev.jsonl [--solvers highs,cp-sat]

(a) ``make_event.py --orgs ORGS --participants 120 --requests 900 --seed 3`` over the
organizations of --orgs; (b) 1,000 participants and 8,000 requests (``--tables 120
--days 3 --seed 4``) over a ``make_corpus.py --vendors 2000 --needs 200 --buyers 300
--seed 5`` corpus. For each, in a fresh SQLite database in a temporary folder (or a
fresh PostgreSQL database with --pg-url): ``portal import`` of the organizations, then
the timed whole command, ``portal import EVENT`` + ``portal events schedule ev-1 --json``.
Then, in process, on the same database: the linear-relaxation bound on the number of
meetings (and the bound among schedules with at least the greedy's must-meets), the
first-fit greedy in file order (must-meets first), every rule checked on the command's
JSON, and every accepted request found placed or reported. With --solvers, the scheduler
is also run in process with each solver named (cp-sat needs ``ortools``, which the portal
does not depend on), for the comparison in docs/benchmarks.md.

Nothing from the data files is copied into the project: they are read where they are.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from machine import cpu_model_and_flags

ROOT = Path(__file__).resolve().parent.parent
# The portal command beside this interpreter, else the project's (an interpreter with extra
# solvers installed may run this script).
PORTAL = next(
    (
        p
        for p in (Path(sys.executable).parent / "portal", ROOT / ".venv" / "bin" / "portal")
        if p.exists()
    ),
    Path("portal"),
)
SIZES = {
    "a": ["--participants", "120", "--requests", "900", "--seed", "3"],
    "b": [
        "--participants",
        "1000",
        "--requests",
        "8000",
        "--tables",
        "120",
        "--days",
        "3",
        "--seed",
        "4",
    ],
}
CORPUS_B = ["--vendors", "2000", "--needs", "200", "--buyers", "300", "--seed", "5"]


def cpu_description() -> str:
    model, flags = cpu_model_and_flags()
    shown = [f for f in ("avx2", "avx512f", "fma", "bmi2") if f in flags]
    return f"{model}, {os.cpu_count()} logical CPUs, flags: {' '.join(shown) or '-'}"


def _write(command: list[str], path: Path) -> Path:
    with open(path, "wb") as handle:
        subprocess.run(command, stdout=handle, stderr=subprocess.DEVNULL, check=True)  # noqa: S603
    return path


def _run(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)  # noqa: S603
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command[1:3])} failed:\n{result.stdout}\n{result.stderr[-3000:]}")
    return seconds, result.stdout


def _database(folder: Path, pg_url: str | None) -> tuple[str, Any]:
    if not pg_url:
        return f"sqlite:///{folder / 'bench.sqlite'}", None
    import psycopg

    name = f"portal_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    base = pg_url.rpartition("/")[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}", drop


def longest_runs(problem: Any, placements: list[Any]) -> tuple[int, int, float]:
    """The longest run of back-to-back meetings anyone has, how many participants have more
    than MAX_RUN in a row, and the mean share of attended sessions they meet in."""
    from portal.missions.scheduler import MAX_RUN

    requests = problem.request_map()
    slots_of: dict[str, list[int]] = {}
    for p in placements:
        request = requests[p.request]
        for key in (request.a, request.b):
            slots_of.setdefault(key, []).append(p.slot)
    longest, too_long, shares = 0, 0, []
    for key, taken in slots_of.items():
        taken.sort()
        run = best = 1
        for before, after in itertools.pairwise(taken):
            adjacent = problem.slots[after].start == problem.slots[before].end
            run = run + 1 if adjacent else 1
            best = max(best, run)
        longest = max(longest, best)
        too_long += best > MAX_RUN
        used = {problem.slots[s].session for s in taken}
        attended = problem.attendees[key].sessions
        shares.append(len(used) / min(len(attended), len(taken)) if attended else 1.0)
    return longest, too_long, sum(shares) / max(len(shares), 1)


def check(url: str, output: dict[str, Any], solvers: list[str], time_limit: float) -> None:
    """The bars' figures, computed on the database the command wrote."""
    from portal import create_app
    from portal.missions import scheduler
    from portal.missions.services import event_problem, find_event

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        event = find_event("ev-1")
        assert event is not None
        problem = event_problem(event, replan=True).problem
    requests = problem.request_map()
    by_pair = {frozenset((r.a, r.b)): r for r in problem.requests}
    slot_of = {slot.start: i for i, slot in enumerate(problem.slots)}
    placements = []
    for m in output["meetings"]:
        request = by_pair[frozenset((m["a"], m["b"]))]
        start = dt.datetime.fromisoformat(m["start"])
        placements.append(scheduler.Placement(request.key, slot_of[start], m["table"]))
    broken = scheduler.violations(problem, placements)
    placed = {p.request for p in placements}
    reported = {frozenset((u["a"], u["b"])) for u in output["unplaced"]}
    missing = [
        r for r in problem.requests if r.key not in placed and frozenset((r.a, r.b)) not in reported
    ]
    must = sum(1 for p in placements if requests[p.request].must)

    started = time.perf_counter()
    baseline = scheduler.greedy(problem, "file")
    greedy_seconds = time.perf_counter() - started
    greedy_must = sum(1 for p in baseline if requests[p.request].must)
    started = time.perf_counter()
    bound = scheduler.lp_bound(problem)
    must_bound = scheduler.lp_bound(problem, must_at_least=greedy_must)
    bound_seconds = time.perf_counter() - started

    musts = sum(r.must for r in problem.requests)
    print(f"  accepted requests: {len(problem.requests)} ({musts} must)")
    print(f"  rules broken by the command's schedule: {len(broken)}")
    print(f"  accepted requests neither placed nor reported: {len(missing)}")
    print(
        f"  LP bound on meetings: {bound:.1f}; with >= {greedy_must} must-meets: {must_bound:.1f}"
    )
    print(f"    (both bounds in {bound_seconds:.1f} s)")
    print(
        f"  greedy, file order, must first: {len(baseline)} meetings ({greedy_must} must), "
        f"{len(baseline) / bound:.2%} of the bound, {len(baseline) / must_bound:.2%} of the "
        f"must-first bound ({greedy_seconds:.2f} s)"
    )
    print(
        f"  scheduler (the command): {len(placements)} meetings ({must} must), "
        f"{len(placements) / bound:.2%} of the bound, "
        f"{len(placements) / must_bound:.2%} of the must-first bound"
    )
    for label, chosen in (("greedy", baseline), ("scheduler", placements)):
        longest, too_long, share = longest_runs(problem, chosen)
        print(
            f"  days, {label}: longest run {longest} back to back, {too_long} participants with "
            f"more than 3 in a row, {share:.0%} of the sessions they could meet in used"
        )
    free = scheduler.schedule(problem, time_limit=time_limit, must_first=False)
    print(
        f"  what must-meets first costs: without it, {len(free.placements)} meetings "
        f"({free.must_placed(problem)} must), {len(free.placements) / bound:.2%} of the bound"
    )
    for solver in solvers:
        try:
            result = scheduler.schedule(problem, time_limit=time_limit, solver=solver)
        except ImportError as exc:
            print(f"  {solver}: not installed ({exc})")
            continue
        s = result.stats
        print(
            f"  in process, {solver}: {len(result.placements)} meetings "
            f"({result.must_placed(problem)} must), solver {s.solver_seconds:.2f} s "
            f"({s.solver_status}; it returned {s.solver_meetings}), whole run {s.seconds:.2f} s, "
            f"rules broken {len(scheduler.violations(problem, result.placements))}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=Path, required=True, help="folder of make_event.py")
    parser.add_argument("--orgs", type=Path, required=True, help="organizations for size (a)")
    parser.add_argument("--sizes", default="a,b")
    parser.add_argument("--solvers", default="", help="e.g. highs,cp-sat (in process)")
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--pg-url", default=None, help="a PostgreSQL server instead of SQLite")
    args = parser.parse_args()
    solvers = [s for s in args.solvers.split(",") if s]
    print(f"CPU: {cpu_description()}")
    print(
        f"Python {platform.python_version()}; database: {'PostgreSQL' if args.pg_url else 'SQLite'}"
    )
    for size in args.sizes.split(","):
        with tempfile.TemporaryDirectory() as temp:
            folder = Path(temp)
            if size == "b":
                orgs = _write(
                    [sys.executable, str(args.tools / "make_corpus.py"), *CORPUS_B],
                    folder / "corpus.jsonl",
                )
            else:
                orgs = args.orgs.resolve()
            event_file = _write(
                [
                    sys.executable,
                    str(args.tools / "make_event.py"),
                    "--orgs",
                    str(orgs),
                    *SIZES[size],
                ],
                folder / "event.jsonl",
            )
            url, drop = _database(folder, args.pg_url)
            env = {
                **os.environ,
                "PORTAL_DATABASE_URL": url,
                "PORTAL_INDEX_DIR": str(folder / "index"),
                "PORTAL_MODEL_DIR": str(folder / "model"),  # no model: no sentence vectors
            }
            try:
                _run([str(PORTAL), "db", "upgrade"], env)
                _run([str(PORTAL), "import", str(orgs)], env)
                event_seconds, _ = _run([str(PORTAL), "import", str(event_file)], env)
                schedule_seconds, output = _run(
                    [
                        str(PORTAL),
                        "events",
                        "schedule",
                        "ev-1",
                        "--json",
                        "--time-limit",
                        str(args.time_limit),
                    ],
                    env,
                )
                print(f"\n({size}) make_event.py {' '.join(SIZES[size])}")
                print(
                    f"  whole command: import of the event {event_seconds:.1f} s + "
                    f"schedule {schedule_seconds:.1f} s = {event_seconds + schedule_seconds:.1f} s"
                )
                check(url, json.loads(output), solvers, args.time_limit)
            finally:
                if drop is not None:
                    drop()


if __name__ == "__main__":
    main()
