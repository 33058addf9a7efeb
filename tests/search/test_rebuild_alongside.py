"""A rebuild with several writer processes builds the leads snapshot alongside them, in a
thread with its own session; a failure in either leaves the live index as it was, and a
session shared by every context (the tests' own fixture) falls back to building after."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask import Flask
from matching.feedback_factories import build_market

from portal.matching.store.snapshot import build_snapshot, load_snapshot
from portal.outbox import Position
from portal.search import sync
from portal.search.index import IndexStore
from portal.search.queries import SearchFilters, search
from portal.search.sync import rebuild


def test_the_snapshot_is_built_alongside_the_writers(committing_app: Flask) -> None:
    market = build_market()
    threads: list[str] = []

    def snapshot(folder: Path, state: Position, progress) -> None:
        threads.append(threading.current_thread().name)
        build_snapshot(folder, state, progress)

    report = rebuild(procs=2, also_build=snapshot)
    assert threads == ["rebuild-alongside"]
    generation = IndexStore.from_app().current_generation()
    assert generation is not None and generation.name == report.generation
    built = load_snapshot(generation)
    assert built is not None
    # the verified vendors and the open needs, as a rebuild in one process finds them
    assert len(built.vendors) == 3
    assert len(built.needs) == 4
    found = search("Brightpath", SearchFilters())
    assert [hit.record.ref for hit in found.hits] == [market.brightpath.ref]


def test_a_failed_snapshot_leaves_the_live_index_alone(committing_app: Flask) -> None:
    build_market()
    before = rebuild(procs=2, also_build=build_snapshot)
    store = IndexStore.from_app()

    def broken(folder: Path, state: Position, progress) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        rebuild(procs=2, also_build=broken)
    generation = store.current_generation()
    assert generation is not None and generation.name == before.generation
    assert load_snapshot(generation) is not None
    assert not [p.name for p in generation.parent.iterdir() if p.name.startswith("building")]


def test_a_session_shared_by_every_context_builds_after_the_writers(app: Flask) -> None:
    build_market()
    threads: list[str] = []

    def snapshot(folder: Path, state: Position, progress) -> None:
        threads.append(threading.current_thread().name)
        build_snapshot(folder, state, progress)

    rebuild(procs=2, also_build=snapshot)
    assert threads == [threading.current_thread().name]
    generation = IndexStore.from_app().current_generation()
    assert generation is not None and load_snapshot(generation) is not None


def test_ctrl_c_stops_the_alongside_build_before_its_folder_goes(
    committing_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_market()
    store = IndexStore.from_app()
    store.open()
    started, stopped = threading.Event(), threading.Event()

    def endless(folder: Path, state: Position, progress) -> None:
        started.set()
        try:
            while True:  # a snapshot of very many vendors; it stops at its next record
                progress(1)
        finally:
            stopped.set()

    def interrupted_documents():
        assert started.wait(timeout=30)
        raise KeyboardInterrupt

    monkeypatch.setattr(sync, "all_documents", interrupted_documents)
    with pytest.raises(KeyboardInterrupt):
        rebuild(procs=2, also_build=endless)
    assert stopped.is_set()
    assert not [p.name for p in store.root.iterdir() if p.name.startswith("building")]
