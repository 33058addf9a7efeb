"""The sentence-vector work queue: fed from the index events, claimed in chunks, and what
edits, deletes, verification changes and closing dates do to it (issue: vector work
shared by any number of workers through the database)."""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np
import pytest
import sqlalchemy as sa
from flask import Flask
from matching.feedback_factories import Market, build_market
from matching.test_record_vectors import word_count_encode
from support import TEST_DB

from portal.db import utc_today
from portal.extensions import db
from portal.matching.models import LeadVector, LeadVectorWork
from portal.matching.profiles import need_profiles, vendor_profiles
from portal.matching.store import snapshot as snapshot_store
from portal.matching.store import vectors
from portal.matching.store.queue import (
    claim_vector_work,
    compute_vectors,
    enqueue_vector_work,
    feed_vector_queue,
    pending_vectors,
    reconcile_vectors,
    run_vector_chunk,
    update_vectors,
)
from portal.matching.store.snapshot import attach_vectors, live_snapshot
from portal.matching.store.vectors import embed_pieces, stored_pieces
from portal.organizations.models import VerificationStatus


class RecordingEncoder:
    """The word-count encoder, remembering every text it embedded."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return word_count_encode(texts)


def _queued() -> set[tuple[str, int]]:
    return set(db.session.execute(sa.select(LeadVectorWork.kind, LeadVectorWork.record_id)))


def _stored() -> set[tuple[str, int]]:
    return set(db.session.execute(sa.select(LeadVector.kind, LeadVector.record_id)))


def _candidates(market: Market) -> set[tuple[str, int]]:
    vendors = {("vendor", o.id) for o in (market.lumenark, market.brightpath, market.aquasonic)}
    needs = {("need", n.id) for n in (market.lamps, market.old_quarter, market.water)}
    return vendors | needs | {("need", market.cebu_lamps.id)}


@pytest.fixture
def market(app: Flask) -> Market:
    built = build_market()
    update_vectors(word_count_encode)  # every candidate's vectors, the queue empty
    assert pending_vectors() == 0
    return built


def test_the_outbox_feeds_the_queue_and_a_pass_embeds_every_candidate_once(app: Flask) -> None:
    market = build_market()
    feed_vector_queue()
    queued = _queued()
    assert _candidates(market) <= queued  # and others its events named: the chunk skips them
    encoder = RecordingEncoder()
    work = compute_vectors(encoder)
    assert sorted(work.records) == sorted(_candidates(market))
    assert work.claimed == len(queued) and pending_vectors() == 0
    assert _stored() == _candidates(market)
    vendors = vendor_profiles([i for kind, i in work.records if kind == "vendor"])
    needs = need_profiles([i for kind, i in work.records if kind == "need"])
    pieces = [p for v in vendors.values() for p in v.pieces]
    pieces += [p for n in needs.values() for p in n.pieces]
    assert sorted(encoder.texts) == sorted(pieces)  # each record's pieces once
    assert update_vectors(encoder).embedded == 0  # nothing new: nothing embedded


def test_claims_take_chunks_in_key_order_and_a_chunk_takes_its_rows_off(market: Market) -> None:
    enqueue_vector_work([("vendor", market.aquasonic.id), ("need", market.water.id)])
    enqueue_vector_work([("vendor", market.lumenark.id)])
    db.session.commit()
    claimed = claim_vector_work(2)
    assert [(kind, record) for kind, record, _ in claimed] == sorted(
        [("need", market.water.id), ("vendor", min(market.aquasonic.id, market.lumenark.id))]
    )
    db.session.rollback()  # a claim is only held by its transaction
    work = run_vector_chunk(word_count_encode, limit=2)
    assert work.claimed == 2 and work.embedded == 0  # their vectors are current already
    assert pending_vectors() == 1


def test_an_edit_is_embedded_again_and_a_change_that_leaves_the_text_alone_is_not(
    market: Market,
) -> None:
    market.lumenark.summary = "Smart poles with air quality sensors."
    market.aquasonic.markets = ["PH", "VN"]  # not in its pieces
    market.lamps.title = "Dark riverside streets at night"
    db.session.commit()
    work = update_vectors(word_count_encode)
    edited = [("vendor", market.lumenark.id), ("need", market.lamps.id)]
    assert sorted(work.records) == sorted(edited)
    assert work.claimed >= 3 and pending_vectors() == 0
    profile = vendor_profiles([market.lumenark.id])[market.lumenark.id]
    expected = embed_pieces(word_count_encode, [profile.pieces]).vectors
    stored = stored_pieces("vendor", [profile])[market.lumenark.id]
    np.testing.assert_allclose(stored, expected, atol=2e-3)


def test_a_deleted_need_loses_its_vectors(market: Market) -> None:
    need_id = market.water.id
    db.session.delete(market.water)
    db.session.commit()
    work = update_vectors(word_count_encode)
    assert work.removed == 1 and work.embedded == 0
    assert ("need", need_id) not in _stored() and pending_vectors() == 0


def test_verification_decides_who_has_vectors(market: Market) -> None:
    market.aquasonic.status = VerificationStatus.REJECTED
    market.pending.status = VerificationStatus.VERIFIED
    market.cebu.status = VerificationStatus.REJECTED  # its need stops being a candidate
    db.session.commit()
    work = update_vectors(word_count_encode)
    assert work.records == [("vendor", market.pending.id)]
    assert work.removed == 2
    stored = _stored()
    assert ("vendor", market.aquasonic.id) not in stored
    assert ("need", market.cebu_lamps.id) not in stored
    assert ("vendor", market.pending.id) in stored

    market.cebu.status = VerificationStatus.VERIFIED  # back: its need is embedded again
    db.session.commit()
    assert update_vectors(word_count_encode).records == [("need", market.cebu_lamps.id)]


def test_a_need_past_its_closing_date_needs_no_vectors(
    market: Market, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ("need", market.expired.id) not in _stored()  # closed before it was ever queued
    result = runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    generation, snapshot = live_snapshot()
    assert attach_vectors(generation, snapshot) == (True, True)
    # a day later the lamps need has closed, with no event: the next reconcile removes its
    # vectors
    market.lamps.closes_on = utc_today()
    db.session.commit()
    update_vectors(word_count_encode)
    tomorrow = utc_today() + dt.timedelta(days=1)
    monkeypatch.setattr(snapshot_store, "utc_today", lambda: tomorrow)
    monkeypatch.setattr("portal.needs.models.utc_today", lambda: tomorrow)
    queued, removed = reconcile_vectors()
    assert queued == 0 and removed == 1
    assert ("need", market.lamps.id) not in _stored()


def test_a_record_queued_again_while_its_chunk_runs_stays_queued(market: Market) -> None:
    """An edit fed to the queue while a chunk embeds the record's older text: the chunk must
    not take the newer row off, or the edit would never be embedded."""
    enqueue_vector_work([("vendor", market.lumenark.id)])
    market.lumenark.summary = "Now with solar street lamps."
    db.session.commit()

    def encode_while_the_record_is_queued_again(texts: list[str]) -> np.ndarray:
        enqueue_vector_work([("vendor", market.lumenark.id)])
        return word_count_encode(texts)

    work = run_vector_chunk(encode_while_the_record_is_queued_again)
    assert work.records == [("vendor", market.lumenark.id)]
    assert _queued() == {("vendor", market.lumenark.id)}


def test_a_chunk_that_fails_stores_nothing_and_leaves_its_rows_queued(market: Market) -> None:
    market.lumenark.summary = "Now with solar street lamps."
    db.session.commit()
    feed_vector_queue()
    queued = _queued()

    def broken(texts: list[str]) -> np.ndarray:
        raise RuntimeError("the encoder died")

    profile = vendor_profiles([market.lumenark.id])[market.lumenark.id]
    with pytest.raises(RuntimeError):
        run_vector_chunk(broken)
    db.session.rollback()  # what the worker does with a pass that raised
    assert _queued() == queued
    assert stored_pieces("vendor", [profile]) == {}
    assert compute_vectors(word_count_encode).records == [("vendor", market.lumenark.id)]


def test_a_budget_stops_between_chunks(market: Market) -> None:
    enqueue_vector_work([("need", i) for i in range(1000, 1010)])  # gone records: cheap
    work = compute_vectors(word_count_encode, max_records=4, chunk=3)
    assert work.claimed == 4 and pending_vectors() == 6


def test_a_new_recipe_queues_and_embeds_every_candidate_again(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in (vectors, snapshot_store):  # where the recipe is read: the rows, the snapshot
        monkeypatch.setattr(module, "VECTOR_RECIPE", "another model")
    profile = vendor_profiles([market.lumenark.id])[market.lumenark.id]
    assert stored_pieces("vendor", [profile]) == {}  # the old recipe's are never used
    work = update_vectors(word_count_encode)
    assert sorted(work.records) == sorted(_candidates(market))
    recipes = set(db.session.scalars(sa.select(LeadVector.recipe)))
    assert recipes == {"another model"}


@pytest.mark.skipif(TEST_DB != "postgresql", reason="row locks: PostgreSQL")
@pytest.mark.real_commits
def test_two_claimers_get_disjoint_chunks_and_a_rolled_back_claim_frees_its_rows(
    committing_app: Flask,
) -> None:
    with committing_app.app_context():
        enqueue_vector_work([("vendor", i) for i in range(1, 7)])
        db.session.commit()
    held = threading.Event()
    release = threading.Event()
    first: list[list[tuple[str, int]]] = []

    def hold_a_chunk() -> None:
        with committing_app.app_context():
            first.append([(k, r) for k, r, _ in claim_vector_work(4)])
            held.set()
            release.wait()
            db.session.rollback()  # as a crashed worker's connection does

    thread = threading.Thread(target=hold_a_chunk)
    thread.start()
    try:
        assert held.wait(timeout=60)
        with committing_app.app_context():
            second = [(k, r) for k, r, _ in claim_vector_work(4)]
            db.session.rollback()
    finally:
        release.set()
        thread.join()
    assert first[0] == [("vendor", i) for i in range(1, 5)]
    assert second == [("vendor", 5), ("vendor", 6)]  # disjoint: the held rows are skipped
    with committing_app.app_context():
        assert len(claim_vector_work(10)) == 6  # the rolled-back claim freed its rows
        db.session.rollback()
