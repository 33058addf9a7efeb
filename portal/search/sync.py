"""Keep the index in step with the database: drain the event table, rebuild, check.

The drain reads events past the index's state, loads each affected record's current
state from the database, and updates or deletes its document; the documents and the new
state are committed to the index together, so a crash at any point leaves events to be
applied again (which is harmless: applying an event is idempotent).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from whoosh.index import LockError

from portal.db import READ_ONLY
from portal.extensions import db
from portal.needs.models import Need
from portal.outbox import EVENTS_WRITTEN, Position, events_since
from portal.search.index import IndexStore, read_state, write_state
from portal.search.schema import (
    STATE_DOC_ID,
    all_documents,
    count_searchable,
    is_searchable_need,
    is_searchable_organization,
    load_needs,
    load_organizations,
    need_document,
    organization_document,
)

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
# How many megabytes of postings (Whoosh's own estimate) a rebuild's writer keeps in
# memory before it sorts them into a run on disk. Past it, every posting is pickled to a
# run and read back through a merge: at 60,500 documents a writer holds about 3.2
# million postings, and spilling them cost a third of the writers' CPU (96-106 s against
# 62-76 s with room for all, interleaved runs). 1,536 holds the 6.4 million postings of
# each of two writers at 100,000 vendors of the synthetic corpus (about 1.6 GB resident
# each, for the minutes of the build); the memory is taken only as postings come in.
WRITER_POOL_MB = 1536
# Built beside a new generation from the same event position (the leads snapshot): the
# generation's folder, that position, and a progress callback it calls per record.
AlsoBuild = Callable[[Path, Position, Progress | None], None]


@dataclass
class SyncReport:
    events: int = 0
    updated: int = 0
    deleted: int = 0
    locked: bool = False
    state: Position = field(default_factory=Position)
    # the live index has another schema version (``IndexStore.schema_version``): nothing
    # was applied, the events wait for the rebuild
    outdated: int | None = None


def documents_for(events: Iterable[tuple[int, str, int]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The documents to write and the doc ids to delete for a set of events."""
    org_ids: set[int] = set()
    need_ids: set[int] = set()
    buyer_ids: set[int] = set()
    for _, kind, record_id in events:
        if kind == "need":
            need_ids.add(record_id)
        else:
            org_ids.add(record_id)
            if kind == "buyer":
                buyer_ids.add(record_id)
    if buyer_ids:
        # A buyer's verification or country changes what its needs' documents say.
        need_ids.update(db.session.scalars(sa.select(Need.id).where(Need.buyer_id.in_(buyer_ids))))
    updates: list[dict[str, Any]] = []
    deletes: list[str] = []
    organizations = load_organizations(sorted(org_ids)) if org_ids else {}
    for kind, record_id in {(k, r) for _, k, r in events if k != "need"}:
        org = organizations.get(record_id)
        if org is not None and is_searchable_organization(org):
            updates.append(organization_document(org))
        else:
            deletes.append(f"{kind}:{record_id}")
    needs = load_needs(sorted(need_ids)) if need_ids else {}
    for need_id in need_ids:
        need = needs.get(need_id)
        if need is not None and is_searchable_need(need):
            updates.append(need_document(need))
        else:
            deletes.append(f"need:{need_id}")
    return updates, deletes


def apply_pending_events(store: IndexStore | None = None, *, wait: float = 0.0) -> SyncReport:
    """Apply every pending event to the live index; skip quietly if another process
    holds the index's write lock (it is draining the same events), or if the index has
    another schema version (``report.outdated``: it needs a rebuild, which applies them).
    """
    store = store or IndexStore.from_app()
    ix = store.open()
    with ix.searcher() as searcher:
        state = read_state(searcher)
    outdated = store.outdated_version()
    if outdated is not None:
        return SyncReport(state=state, outdated=outdated)
    events, new_state = events_since(state)
    report = SyncReport(events=len(events), state=state)
    if not events:
        # Nothing to apply: the position stays where it is (on PostgreSQL its snapshot
        # moves with every commit on the server; the one stored still passes over every
        # event applied so far), and no Whoosh commit is made for it.
        return report
    updates, deletes = documents_for(events)
    try:
        writer = ix.writer(timeout=wait)
    except LockError:
        report.locked = True
        return report
    try:
        write_state(writer, new_state)
        for doc_id in deletes:
            writer.delete_by_term("doc_id", doc_id)
        for document in updates:
            writer.update_document(**document)
    except BaseException:
        writer.cancel()
        raise
    writer.commit()
    report.updated, report.deleted, report.state = len(updates), len(deletes), new_state
    return report


def _documents_position(position: Position) -> Position:
    """``position`` as of a snapshot of the transactions committed by now, taken before a
    rebuild reads its documents (each of its queries sees at least those): the catch-up
    and every later drain pass over their events, which the documents show. SQLite's
    positions are exact already."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return position
    shown = connection.execute(sa.text("SELECT pg_current_snapshot()::text")).scalar_one()
    return replace(position, seen=str(shown))


@dataclass
class RebuildReport:
    documents: int
    generation: str
    caught_up: SyncReport


class _Stopped(Exception):
    """Raised inside an alongside build that was asked to stop."""


class AlongsideBuild:
    """Run ``also_build`` in a thread while the writer processes index.

    With two writer processes, the main process only reads and hands out documents, so a
    build that needs one core (the leads snapshot: about a minute at 100,000 vendors on
    an AMD EPYC) no longer waits for Whoosh to finish. It has its own app context, hence
    its own session and connection (read-only: on SQLite it reads beside the writer's
    transaction instead of waiting for it), reading from the same event position.
    """

    def __init__(self, build: AlsoBuild, folder: Path, state: Position) -> None:
        self._stop = threading.Event()
        self._error: BaseException | None = None
        app = current_app._get_current_object()  # type: ignore[attr-defined]

        def run() -> None:
            try:
                with app.app_context():
                    db.session.connection(execution_options={READ_ONLY: True})
                    build(folder, state, self._check)
            except BaseException as exc:  # handed to the caller by result()
                self._error = exc

        self._thread = threading.Thread(target=run, name="rebuild-alongside", daemon=True)
        self._thread.start()

    def _check(self, done: int) -> None:
        if self._stop.is_set():
            raise _Stopped

    def stop(self) -> None:
        """Ask the build to stop at its next record, and wait for it."""
        self._stop.set()
        self._thread.join()

    def result(self) -> None:
        """Wait for the build; raise what it raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error


def _session_per_context() -> bool:
    """Whether another app context gets a session of its own, as in every process of the
    portal; the tests' transaction-per-test fixture shares one session (and connection)
    everywhere, which two threads must not use at once."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    mine = db.session()
    with app.app_context():
        theirs = db.session()
        if theirs is mine:
            return False
        db.session.remove()
    return True


def rebuild(
    store: IndexStore | None = None,
    *,
    progress: Progress | None = None,
    procs: int = 1,
    also_build: AlsoBuild | None = None,
) -> RebuildReport:
    """Build a fresh generation from the database beside the live one, then swap it in.

    The state recorded is the event position read BEFORE the documents, so anything
    committed while the rebuild runs is applied by the catch-up drain after the swap.
    ``also_build`` is built into the same generation, from the same position: alongside
    the writers when there are several (``AlongsideBuild``), after them otherwise.
    An exception or Ctrl-C leaves the live index untouched.
    """
    store = store or IndexStore.from_app()
    ix = store.open()
    with ix.searcher() as searcher:
        start_state = read_state(searcher)
    _, start_state = events_since(start_state)
    db.session.rollback()  # a fresh snapshot for the documents, taken after the position
    # On PostgreSQL the position's horizon stays behind any transaction still open
    # anywhere on the server; the events the documents show are passed over by the
    # snapshot they are read after (at 20,000 vendors the catch-up otherwise applied the
    # whole import's events again: 71 s), by the catch-up and by every drain after it.
    start_state = _documents_position(start_state)
    building, new_ix = store.new_generation(start_state)
    writer_options: dict[str, Any] = {"limitmb": WRITER_POOL_MB}
    if procs > 1:
        writer_options.update(procs=procs, multisegment=True)
    writer = new_ix.writer(**writer_options)
    alongside = (
        AlongsideBuild(also_build, building, start_state)
        if also_build is not None and procs > 1 and _session_per_context()
        else None
    )
    count = 0
    try:
        try:
            for document in all_documents():
                writer.add_document(**document)
                count += 1
                if progress is not None:
                    progress(1)
            write_state(writer, start_state)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        if alongside is not None:
            alongside.result()
        elif also_build is not None:
            also_build(building, start_state, None)  # e.g. the leads snapshot
        generation = store.finish_generation(building)
    except BaseException:
        if alongside is not None:
            alongside.stop()  # before its folder goes
        store.discard(building)  # never left behind to be taken for a generation
        raise
    store.make_live(generation)
    caught_up = apply_pending_events(store, wait=10.0)
    store.remove_stale_generations()
    return RebuildReport(count, generation.name, caught_up)


@dataclass
class CheckReport:
    expected: int
    indexed: int
    missing: list[str]
    stale: list[str]
    extra: list[str]
    state: Position
    outdated: int | None = None  # the live index's schema version, when not this portal's

    @property
    def ok(self) -> bool:
        return not (self.missing or self.stale or self.extra or self.outdated is not None)


def check(store: IndexStore | None = None) -> CheckReport:
    """Compare the live index with the database: missing, stale and extra documents."""
    store = store or IndexStore.from_app()
    ix = store.open()
    expected = {doc["doc_id"]: doc["fingerprint"] for doc in all_documents()}
    indexed: dict[str, str] = {}
    with ix.searcher() as searcher:
        state = read_state(searcher)
        for stored in searcher.all_stored_fields():
            doc_id = stored.get("doc_id")
            if doc_id and doc_id != STATE_DOC_ID:
                indexed[doc_id] = stored.get("fingerprint", "")
    missing = sorted(set(expected) - set(indexed))
    extra = sorted(set(indexed) - set(expected))
    stale = sorted(d for d in set(expected) & set(indexed) if expected[d] != indexed[d])
    return CheckReport(
        len(expected), len(indexed), missing, stale, extra, state, store.outdated_version()
    )


def expected_count() -> int:
    return count_searchable()


def register_sync(app: Flask) -> None:
    """Apply index events right after a request whose commit wrote some."""

    @app.teardown_request
    def sync_after_request(error: BaseException | None) -> None:
        if not EVENTS_WRITTEN.take(db.session()) or error is not None:
            return
        try:
            apply_pending_events()
        except Exception:  # the events wait for the next drain; never fail the page
            log.exception("index sync after request failed")
            db.session.rollback()
