"""The index follows the database through the event outbox, on both databases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from support import TEST_DB, add_verified_vendor, count_rows

from portal.db import utc_now
from portal.extensions import PortalSession, db
from portal.needs.models import Need
from portal.organizations.models import Capability, Organization, VerificationStatus
from portal.organizations.services import create_organization
from portal.outbox import IndexEvent
from portal.search.index import IndexStore, read_state
from portal.search.sync import apply_pending_events, check, rebuild


def make_vendor(name: str = "Lumen Streetlights", verified: bool = True) -> Organization:
    vendor = create_organization("vendor", name, "US", summary="LED street lighting retrofits")
    vendor.capabilities.append(
        Capability(title="Remote lamp monitoring", description="Fault alerts for every pole")
    )
    if verified:
        vendor.status = VerificationStatus.VERIFIED
        vendor.verified_at = utc_now()
    db.session.flush()
    return vendor


def make_buyer(name: str = "Cebu City Water District") -> Organization:
    buyer = create_organization("buyer", name, "PH", city="Cebu")
    buyer.status = VerificationStatus.VERIFIED
    db.session.flush()
    return buyer


def indexed_ids(kind: str | None = None) -> set[str]:
    with IndexStore.from_app().open().searcher() as searcher:
        return {
            doc["doc_id"]
            for doc in searcher.all_stored_fields()
            if doc.get("kind") != "__state__" and (kind is None or doc["kind"] == kind)
        }


def test_a_change_writes_an_event_in_its_own_transaction(app: Flask) -> None:
    vendor = make_vendor()
    events = db.session.scalars(sa.select(IndexEvent)).all()
    assert [(e.kind, e.record_id) for e in events] == [("vendor", vendor.id)]


def test_a_rolled_back_change_leaves_no_event(app: Flask) -> None:
    db.session.commit()
    make_vendor()
    db.session.rollback()
    assert count_rows(IndexEvent) == 0
    assert count_rows(Organization) == 0


def test_events_applied_after_commit_make_the_document_searchable(app: Flask) -> None:
    vendor = make_vendor()
    db.session.commit()
    report = apply_pending_events()
    assert report.updated == 1
    assert indexed_ids() == {f"vendor:{vendor.id}"}


def test_events_wait_when_the_process_dies_before_applying_them(app: Flask) -> None:
    """A crash between the commit and the index write loses nothing: the next drain
    (here a fresh store object, as a new process would make) applies the events."""
    vendor = make_vendor()
    db.session.commit()  # ... and the process "dies" here, before applying
    assert indexed_ids() == set()
    apply_pending_events(IndexStore.from_app())
    assert indexed_ids() == {f"vendor:{vendor.id}"}
    again = apply_pending_events()
    assert (again.updated == 0 and again.events == 0) or TEST_DB == "postgresql"


def test_a_locked_index_defers_events_to_the_next_drain(app: Flask) -> None:
    vendor = make_vendor()
    db.session.commit()
    ix = IndexStore.from_app().open()
    holder = ix.writer()  # another process is writing the index
    try:
        report = apply_pending_events()
        assert report.locked
    finally:
        holder.cancel()
    assert indexed_ids() == set()
    apply_pending_events()
    assert indexed_ids() == {f"vendor:{vendor.id}"}


def test_unverified_closed_and_deleted_records_leave_the_index(app: Flask) -> None:
    vendor = make_vendor()
    pending = make_vendor("Pending Co", verified=False)
    buyer = make_buyer()
    need = Need(
        ref="cebu-1",
        buyer=buyer,
        title="Water lost before it reaches customers",
        description="A third of treated water never reaches a paying customer.",
    )
    db.session.add(need)
    db.session.commit()
    apply_pending_events()
    assert indexed_ids() == {f"vendor:{vendor.id}", f"buyer:{buyer.id}", f"need:{need.id}"}
    assert f"vendor:{pending.id}" not in indexed_ids()

    need.status = "closed"
    db.session.delete(vendor)
    db.session.commit()
    apply_pending_events()
    assert indexed_ids() == {f"buyer:{buyer.id}"}


def test_unverifying_a_buyer_removes_its_needs(app: Flask) -> None:
    buyer = make_buyer()
    need = Need(ref="cebu-2", buyer=buyer, title="Flooded streets", description="Every monsoon.")
    db.session.add(need)
    db.session.commit()
    apply_pending_events()
    assert f"need:{need.id}" in indexed_ids()
    buyer.status = VerificationStatus.REJECTED
    db.session.commit()
    apply_pending_events()
    assert indexed_ids() == set()


def test_rebuild_swaps_in_a_complete_generation(app: Flask) -> None:
    vendors = [make_vendor(f"Vendor {i}") for i in range(5)]
    db.session.commit()
    store = IndexStore.from_app()
    store.open()
    before = store.current_generation()
    seen: list[int] = []
    report = rebuild(progress=seen.append)
    assert report.documents == 5 and len(seen) == 5
    assert store.current_generation() != before
    assert indexed_ids() == {f"vendor:{v.id}" for v in vendors}
    assert check().ok


def test_an_interrupted_rebuild_leaves_the_live_index_serving(app: Flask) -> None:
    vendor = make_vendor()
    db.session.commit()
    apply_pending_events()
    store = IndexStore.from_app()
    live = store.current_generation()

    def interrupt(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rebuild(progress=interrupt)
    assert store.current_generation() == live
    assert indexed_ids() == {f"vendor:{vendor.id}"}


def test_an_interrupted_rebuild_leaves_no_folder_behind(app: Flask) -> None:
    make_vendor()
    db.session.commit()
    store = IndexStore.from_app()
    store.open()

    def interrupt_the_second_build(generation: Path, state: object, progress: object) -> None:
        raise KeyboardInterrupt  # e.g. Ctrl-C while the leads snapshot is built

    with pytest.raises(KeyboardInterrupt):
        rebuild(also_build=interrupt_the_second_build)

    assert sorted(p.name.split("-")[0] for p in store.root.iterdir() if p.is_dir()) == ["gen"]


def test_a_killed_rebuilds_folder_is_never_kept_as_the_previous_generation(
    app: Flask,
) -> None:
    """Regression: a rebuild killed mid-way left a partial generation folder that the next
    rebuild kept as "previous" (the one to fall back to)."""
    make_vendor()
    db.session.commit()
    store = IndexStore.from_app()
    store.open()
    first = store.current_generation()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])  # a process that has finished
    gone.wait()
    killed = store.root / f"building-20260101T000000000000-{gone.pid}"
    killed.mkdir()
    (killed / "MAIN_WRITELOCK").touch()
    running = store.root / f"building-29990101T000000000000-{os.getpid()}"
    running.mkdir()  # a rebuild still at work in a live process: left alone

    rebuild()

    assert not killed.exists()
    assert running.exists()
    generations = sorted(p.name for p in store.root.glob("gen-*"))
    assert first is not None and generations == sorted(
        [first.name, store.current_generation().name]
    )


def test_check_reports_missing_and_stale_documents(app: Flask) -> None:
    vendor = make_vendor()
    other = make_vendor("Second Vendor")
    db.session.commit()
    apply_pending_events()
    assert check().ok
    # Change the database behind the index's back: no events, as a bulk SQL fix would.
    db.session.execute(
        sa.update(Organization).where(Organization.id == vendor.id).values(summary="changed")
    )
    db.session.execute(sa.delete(IndexEvent))
    third = make_vendor("Third Vendor")
    db.session.execute(sa.delete(IndexEvent))
    db.session.commit()
    report = check()
    assert report.stale == [f"vendor:{vendor.id}"]
    assert report.missing == [f"vendor:{third.id}"]
    assert f"vendor:{other.id}" not in report.stale


def test_cli_sync_check_and_rebuild(app: Flask, runner) -> None:
    make_vendor()
    db.session.commit()
    result = runner.invoke(args=["index", "check"])
    assert result.exit_code == 1 and "missing: 1" in result.output
    result = runner.invoke(args=["index", "sync"])
    assert result.exit_code == 0, result.output
    assert "1 document(s) updated" in result.output
    result = runner.invoke(args=["index", "check"])
    assert result.exit_code == 0 and "in step" in result.output
    result = runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"])
    assert result.exit_code == 0 and "rebuilt 1 document(s)" in result.output
    with IndexStore.from_app().open().searcher() as searcher:
        assert read_state(searcher).last_event >= 1


@pytest.mark.skipif(
    TEST_DB != "postgresql",
    reason="SQLite serialises writers with BEGIN IMMEDIATE: events cannot commit out of order",
)
def test_events_committed_out_of_id_order_are_all_applied(committing_app: Flask) -> None:
    """Transaction A takes the lower event id but commits after B: a drain between the
    two commits must not skip A's event for good (the transaction-id horizon)."""
    factory = db._make_session_factory({"class_": PortalSession})
    slow, fast = factory(), factory()
    try:
        first = add_verified_vendor(slow, "Slow Vendor")
        second = add_verified_vendor(fast, "Fast Vendor")
        fast.commit()
        apply_pending_events()
        db.session.commit()
        assert indexed_ids() == {f"vendor:{second}"}
        slow.commit()
        apply_pending_events()
        db.session.commit()
        assert indexed_ids() == {f"vendor:{first}", f"vendor:{second}"}
    finally:
        slow.close()
        fast.close()


@pytest.mark.skipif(
    TEST_DB != "postgresql", reason="only PostgreSQL positions have a transaction-id horizon"
)
def test_a_rebuild_behind_an_open_transaction_catches_up_only_what_it_missed(
    committing_app: Flask,
) -> None:
    """A transaction left open anywhere on the server holds the horizon back, so the
    catch-up after a rebuild reads again every event committed since; those the new
    documents show are passed over, and one committed while they were read is applied."""
    factory = db._make_session_factory({"class_": PortalSession})
    holder, late = factory(), factory()
    try:
        holder.execute(sa.text("SELECT pg_current_xact_id()"))  # an older transaction, open
        shown = add_verified_vendor(db.session, "Shown Vendor")
        db.session.commit()
        added: list[int] = []

        def commit_one_more(done: int) -> None:
            if not added:  # while the documents are read: after their snapshot
                added.append(add_verified_vendor(late, "Late Vendor"))
                late.commit()

        report = rebuild(progress=commit_one_more)
        db.session.commit()
        assert report.documents == 1
        assert (report.caught_up.events, report.caught_up.updated) == (1, 1)
        assert indexed_ids() == {f"vendor:{shown}", f"vendor:{added[0]}"}
    finally:
        holder.close()
        late.close()


def test_the_cached_searcher_sees_updates_once(app: Flask) -> None:
    """Regression: Whoosh's Searcher.refresh() showed an updated document twice."""
    from portal.search.queries import search

    vendor = make_vendor()
    db.session.commit()
    apply_pending_events()
    assert len(search("streetlights").hits) == 1
    for summary in ("LED street lighting v2", "LED street lighting v3"):
        vendor.summary = summary
        db.session.commit()
        apply_pending_events()
        results = search("streetlights")
        assert results.total == 1 and len(results.hits) == 1
