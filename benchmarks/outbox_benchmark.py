"""What the outbox costs on PostgreSQL: writing an import's events, and following them while
a transaction stays open elsewhere on the server.

    .venv/bin/python benchmarks/outbox_benchmark.py --corpus corpus.jsonl

In one process, on a fresh database (created and dropped on the server of --pg-url /
$PORTAL_BENCH_PG_URL): a second connection opens a transaction (with a transaction id, as
an idle session that wrote something would) and keeps it open to the end; the corpus is
imported and committed, then the index is rebuilt with its leads snapshot, as ``portal
import`` does. Printed, each with its wall time and the CPU of this process and of its
PostgreSQL server process: the import's check and write phases (and the time spent in
``record_events`` and in the SQL statements that took longest), queueing the sentence
vectors, then two index drains, two vector-queue feeds and two leads catch-ups (what a
serving process reads when it starts), each with the events or records it took. Those
followers read behind the open transaction: the second of each should find nothing new.

Run it on another checkout by putting that tree first on ``PYTHONPATH``: only functions
that every version has are called, so before/after runs can be interleaved.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from machine import cpu_model_and_flags

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")


def _server_cpu(pid: int) -> float:
    """User and system seconds of a local PostgreSQL backend (0 if it is not local)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(corpus: Path, database_url: str, folder: Path) -> list[str]:
    os.environ.update(
        {
            "PORTAL_DATABASE_URL": database_url.replace(
                "postgresql://", "postgresql+psycopg://", 1
            ),
            "PORTAL_SECRET_KEY": "benchmark-only",
            "PORTAL_INDEX_DIR": str(folder / "index"),
            "PORTAL_MODEL_DIR": str(folder / "models"),
        }
    )
    import flask_migrate
    import sqlalchemy as sa

    import portal
    from portal import create_app
    from portal.exchange import importer
    from portal.extensions import db
    from portal.matching.concepts import thesaurus
    from portal.matching.live import LiveModel
    from portal.matching.store import queue, snapshot
    from portal.search.sync import apply_pending_events, rebuild

    app = create_app()
    inside: dict[str, float] = {}

    def timed_inside(module: Any, name: str) -> None:
        original = getattr(module, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                inside[name] = inside.get(name, 0.0) + time.perf_counter() - started

        setattr(module, name, wrapper)

    timed_inside(importer, "validate_file")
    timed_inside(importer, "record_events")
    timed_inside(queue, "enqueue_vector_work")
    statements: dict[str, tuple[float, int]] = {}
    lines = [f"code: {Path(portal.__file__).parent}"]
    holder = psycopg.connect(database_url)
    with app.app_context():
        with contextlib.redirect_stderr(io.StringIO()):  # Alembic's log of each migration
            flask_migrate.upgrade(directory=str(Path(portal.__file__).parent.parent / "migrations"))
        holder.execute("SELECT pg_current_xact_id()")  # open until the end

        @sa.event.listens_for(db.engine, "before_cursor_execute")
        def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            conn.info["started"] = time.perf_counter()

        @sa.event.listens_for(db.engine, "after_cursor_execute")
        def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            key = re.sub(r"\s+", " ", statement)[:72]
            seconds, count = statements.get(key, (0.0, 0))
            statements[key] = (seconds + time.perf_counter() - conn.info["started"], count + 1)

        def step(name: str, call: Callable[[], Any], says: Callable[[Any], str]) -> Any:
            # the connection the session holds until the step commits (the pool may hand
            # out another one for the next step)
            pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            wall, cpu, server = time.perf_counter(), time.process_time(), _server_cpu(pid)
            result = call()
            db.session.commit()
            lines.append(
                f"  {name:<22} wall {time.perf_counter() - wall:7.2f} s"
                f"  CPU {time.process_time() - cpu:6.2f} s"
                f"  server {_server_cpu(pid) - server:5.2f} s  {says(result)}"
            )
            return result

        report = step("import", lambda: importer.import_file(corpus), lambda r: r.summary())
        lines.append(f"    of which checking the file {inside['validate_file']:.2f} s wall")
        lines.append(f"    of which record_events {inside['record_events']:.2f} s wall")
        for key, (seconds, count) in sorted(statements.items(), key=lambda kv: -kv[1][0])[:6]:
            lines.append(f"    SQL {seconds:5.2f} s {count:5}x  {key}")
        assert report.organizations
        statements.clear()
        step("queue the vectors", queue.feed_vector_queue, lambda n: f"queued {n}")
        lines.append(
            f"    of which enqueue_vector_work {inside.get('enqueue_vector_work', 0):.2f} s wall"
        )
        step(
            "rebuild",
            lambda: rebuild(procs=2, also_build=snapshot.build_snapshot),
            lambda r: f"{r.documents} documents, catch-up applied {r.caught_up.events} events",
        )
        lines.append("  behind the open transaction:")
        for number in (1, 2):
            step(
                f"index drain {number}",
                apply_pending_events,
                lambda r: f"applied {r.events} events ({r.updated} documents updated)",
            )
        for number in (1, 2):
            step(
                f"vector queue feed {number}",
                queue.feed_vector_queue,
                lambda n: f"queued {n}",
            )
        _, built = snapshot.live_snapshot()
        thes = thesaurus()

        def catch_up() -> int:
            live = LiveModel.read(built, thes)
            return len(live.vendors.changed) + len(live.needs.changed)

        for number in (1, 2):
            step(f"leads catch-up {number}", catch_up, lambda n: f"{n} records read again")
        db.session.remove()
        db.engine.dispose()
    holder.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="an exchange file")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("PORTAL_BENCH_PG_URL", DEFAULT_PG_URL),
        help="an admin connection used to create and drop the benchmark database",
    )
    args = parser.parse_args()
    model, flags = cpu_model_and_flags()
    print(f"CPU: {model}, {os.cpu_count()} cores, {' '.join(f for f in FLAGS if f in flags)}")
    print("load average before: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    name = f"portal_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base, _, _ = args.pg_url.rpartition("/")
        with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
            print("\n".join(run(args.corpus, f"{base}/{name}", Path(tmp))))
    finally:
        with psycopg.connect(args.pg_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print("load average after: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
