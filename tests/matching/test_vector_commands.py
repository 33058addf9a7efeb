"""``portal leads vectors``, ``portal import`` and the worker's vectors pass, with the
word-count encoder standing in for the model."""

from __future__ import annotations

import functools
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import sqlalchemy as sa
from exchange.exchange_factories import buyer, need, vendor, write_file
from flask import Flask
from matching.feedback_factories import build_market
from matching.test_record_vectors import word_count_encode

from portal import worker
from portal.exchange import cli as exchange_cli
from portal.extensions import db
from portal.matching import cli as leads_cli
from portal.matching.models import LeadVector
from portal.matching.pieces import pooled
from portal.matching.store import queue
from portal.matching.store.queue import compute_vectors, pending_vectors
from portal.matching.store.snapshot import (
    SNAPSHOT_FOLDER,
    live_snapshot,
    load_pieces,
    load_semantic,
    vectors_done,
)
from portal.organizations.models import Organization

ENCODER = SimpleNamespace(encode=word_count_encode)


def _stored() -> set[tuple[str, int]]:
    return set(db.session.execute(sa.select(LeadVector.kind, LeadVector.record_id)))


def _rebuild(runner) -> None:
    result = runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"])
    assert result.exit_code == 0, result.output


def test_leads_vectors_computes_what_is_missing_and_assembles_this_machines_cache(
    app: Flask, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_market()
    _rebuild(runner)
    monkeypatch.setattr(leads_cli, "sentence_encoder", lambda prepare=False: ENCODER)
    result = runner.invoke(args=["leads", "vectors", "--no-progress"])
    assert result.exit_code == 0, result.output
    generation, snapshot = live_snapshot()
    total = len(snapshot.vendors) + len(snapshot.needs)
    assert f"sentence vectors: {total} of {total} records ready ({total} embedded now" in (
        result.output
    )
    assert vectors_done(generation, "vendors") == len(snapshot.vendors)
    assert pending_vectors() == 0
    again = runner.invoke(args=["leads", "vectors", "--no-progress"])
    assert "(0 embedded now" in again.output


def test_the_assembled_cache_keeps_each_sides_pooled_vectors_for_every_process(
    app: Flask, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pooled centred vectors are derived once, beside the pieces, and a process that
    starts reads the same values it would have computed (at 100,000 vendors computing
    them took about 2.5 s of every process's start)."""
    build_market()
    _rebuild(runner)
    monkeypatch.setattr(leads_cli, "sentence_encoder", lambda prepare=False: ENCODER)
    assert runner.invoke(args=["leads", "vectors", "--no-progress"]).exit_code == 0
    generation, snapshot = live_snapshot()
    folder = generation / SNAPSHOT_FOLDER
    for name in ("vendors", "needs"):
        assert (folder / f"{name}.semantic.npy").exists()
        pieces = load_pieces(generation, name, len(getattr(snapshot, name)))
        assert pieces is not None
        mean, semantic = load_semantic(generation, name, pieces)
        assert isinstance(semantic, np.memmap)  # shared through the page cache
        np.testing.assert_allclose(mean, pieces.mean(), atol=1e-6)
        np.testing.assert_allclose(semantic, pooled(pieces, pieces.mean()), atol=1e-6)

    # a cache assembled before these files existed gets them from the first process
    (folder / "vendors.semantic.npy").unlink()
    pieces = load_pieces(generation, "vendors", len(snapshot.vendors))
    assert pieces is not None
    _, semantic = load_semantic(generation, "vendors", pieces)
    assert (folder / "vendors.semantic.npy").exists()
    np.testing.assert_allclose(semantic, pooled(pieces, pieces.mean()), atol=1e-6)


def test_ctrl_c_keeps_the_chunks_already_committed(
    app: Flask, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_market()
    _rebuild(runner)
    calls = []

    def interrupted_on_the_second_chunk(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return word_count_encode(texts)

    encoder = SimpleNamespace(encode=interrupted_on_the_second_chunk)
    monkeypatch.setattr(leads_cli, "sentence_encoder", lambda prepare=False: encoder)
    monkeypatch.setattr(leads_cli, "compute_vectors", functools.partial(compute_vectors, chunk=2))
    result = runner.invoke(args=["leads", "vectors", "--no-progress"])
    assert result.exit_code == 130
    assert "interrupted: the 2 queued record(s) done so far are kept" in result.output
    assert _stored()  # the first chunk's
    assert pending_vectors() > 0

    monkeypatch.setattr(leads_cli, "sentence_encoder", lambda prepare=False: ENCODER)
    result = runner.invoke(args=["leads", "vectors", "--no-progress"])  # resumes
    assert result.exit_code == 0, result.output
    assert pending_vectors() == 0
    _, snapshot = live_snapshot()
    assert len(_stored()) == len(snapshot.vendors) + len(snapshot.needs)


def test_the_worker_pass_works_through_the_queue_and_assembles_the_cache(
    app: Flask, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_market()
    _rebuild(runner)
    monkeypatch.setattr(worker, "sentence_encoder", lambda prepare=False: ENCODER)
    monkeypatch.setattr(worker._Started, "reconciled", False)
    assert worker.vectors_pass() > 0
    generation, snapshot = live_snapshot()
    assert pending_vectors() == 0
    assert vectors_done(generation, "vendors") == len(snapshot.vendors)
    assert vectors_done(generation, "needs") == len(snapshot.needs)
    assert snapshot.vendors.pieces is not None  # this process's matrices too
    assert worker.vectors_pass() == 0  # nothing left


def test_an_import_leaves_its_records_vectors_stored(
    app: Flask, runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "sentence_encoder", lambda prepare=False: ENCODER)
    path = write_file(
        tmp_path / "small.jsonl", buyer("city"), vendor("acme"), need("n1", buyer="city")
    )
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "stored the sentence vectors of 2 changed record(s) for leads" in result.output
    acme = db.session.scalar(sa.select(Organization).where(Organization.ref == "acme"))
    assert ("vendor", acme.id) in _stored()
    assert pending_vectors() == 0


def test_a_large_import_leaves_its_records_queued_for_the_workers(
    app: Flask, runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "sentence_encoder", lambda prepare=False: ENCODER)
    monkeypatch.setattr(exchange_cli, "PROGRESS_THRESHOLD", 2)  # "large": indexed by a rebuild
    path = write_file(
        tmp_path / "large.jsonl", buyer("city"), vendor("acme"), need("n1", buyer="city")
    )
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "queued for sentence vectors" in result.output
    assert _stored() == set() and pending_vectors() >= 2
    monkeypatch.setattr(worker, "sentence_encoder", lambda prepare=False: ENCODER)
    assert worker.vectors_pass() == 2  # a worker, here or on another machine, does them
    assert pending_vectors() == 0
