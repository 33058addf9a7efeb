"""Each record's analysed terms and concept strengths are derived data in the database,
made once per text by the worker that claims the record and read by every process that
meets it changed or builds a snapshot (issue 10, item 5: a page never analyses what a
worker already did, and a thesaurus change invalidates what was stored)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from flask import Flask
from matching.feedback_factories import Market, build_market
from matching.test_record_vectors import compute_all, word_count_encode

from portal.extensions import db
from portal.matching import analysis
from portal.matching.analysis import (
    Analysis,
    analysis_recipe,
    decode,
    encode_concepts,
    encode_terms,
    stored_analyses,
)
from portal.matching.concepts import CONCEPTS_FILE, Thesaurus, thesaurus
from portal.matching.live import LiveModel
from portal.matching.models import LeadAnalysis, LeadVectorWork
from portal.matching.profiles import NeedProfile, vendor_profiles
from portal.matching.ranking import Candidates
from portal.matching.services import LeadsModel
from portal.matching.store import queue, vectors
from portal.matching.store.queue import (
    feed_vector_queue,
    pending_vectors,
    reconcile_vectors,
    update_vectors,
)
from portal.matching.store.snapshot import attach_vectors, live_snapshot
from portal.needs.models import Need
from portal.organizations.services import add_capability


class Analyses:
    """Every text analysed from here on, whoever analysed it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.texts: list[str] = []
        real = analysis.analyse

        def counted(text: str, thes: Thesaurus) -> Analysis:
            self.texts.append(text)
            return real(text, thes)

        monkeypatch.setattr(analysis, "analyse", counted)


def _rebuild(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"])
    assert result.exit_code == 0, result.output


def _ready(runner) -> Market:  # type: ignore[no-untyped-def]
    """A market indexed, every vector and analysis stored, the snapshot's vectors attached."""
    market = build_market()
    _rebuild(runner)
    generation, snapshot = live_snapshot()
    assert compute_all()[1].complete
    assert attach_vectors(generation, snapshot) == (True, True)
    assert pending_vectors() == 0
    return market


def _stored_keys() -> set[tuple[str, int]]:
    return set(db.session.execute(sa.select(LeadAnalysis.kind, LeadAnalysis.record_id)))


def _same_rows(a: Candidates, b: Candidates) -> None:
    """The same records, terms and concepts, on the same scale (rows in any order: on
    PostgreSQL a process may meet an event twice, and its record's row moves last)."""
    in_a, in_b = np.argsort(a.ids), np.argsort(b.ids)
    np.testing.assert_array_equal(a.ids[in_a], b.ids[in_b])
    assert a.bm25.vocabulary == b.bm25.vocabulary
    assert (a.bm25.weights.tocsr()[in_a] != b.bm25.weights.tocsr()[in_b]).nnz == 0
    np.testing.assert_array_equal(a.bm25.idf, b.bm25.idf)
    assert a.bm25.average_length == b.bm25.average_length
    assert (a.concepts[in_a] != b.concepts[in_b]).nnz == 0
    np.testing.assert_array_equal(a.concept_idf, b.concept_idf)


def _leads(model: LeadsModel, market: Market) -> list[list[tuple[int, float]]]:
    return [
        [(lead.vendor.id, round(lead.score, 6)) for lead in model.vendors_for(NeedProfile.of(n))]
        for n in (market.lamps, market.old_quarter, market.water)
    ]


def test_an_analysis_round_trips_through_its_row(app: Flask) -> None:
    text = "The street lamps along the river keep failing at night; LED retrofit wanted."
    made = analysis.analyse(text, thesaurus())
    assert made.terms and made.concepts
    assert decode(encode_terms(made.terms), encode_concepts(made.concepts)) == made
    assert decode("", encode_concepts({})) == Analysis([], {})


def test_an_edit_is_analysed_once_by_a_worker_and_every_process_reads_it(
    app: Flask, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    market = _ready(runner)
    _, snapshot = live_snapshot()
    # two processes following the same outbox (on PostgreSQL the market's own events may
    # come once more: read them first)
    first, second = LiveModel.of(snapshot), LiveModel.of(snapshot)
    for live in (first, second):
        live.follow(thesaurus())
    calls = Analyses(monkeypatch)

    add_capability(market.lumenark, title="Flood sensors", description="River level gauges.")
    db.session.commit()
    work = update_vectors(word_count_encode)  # the worker: one record's analysis, once
    assert work.analysed == [("vendor", market.lumenark.id)]
    profile = vendor_profiles([market.lumenark.id])[market.lumenark.id]
    assert calls.texts == [profile.text]
    assert update_vectors(word_count_encode).analysed == []  # nothing left to analyse

    for live in (first, second):
        assert live.follow(thesaurus())
        assert market.lumenark.id in live.vendors.changes.ids
    assert calls.texts == [profile.text]  # both processes read the stored analysis

    # the same rows as a process that analyses the record itself
    db.session.execute(sa.delete(LeadAnalysis.__table__))
    itself = LiveModel.of(snapshot)
    itself.follow(thesaurus())
    assert calls.texts.count(profile.text) == 2
    _same_rows(first.vendors.changes, itself.vendors.changes)
    for live in (first, second, itself):
        live.read_vectors()
    leads = [_leads(LeadsModel.from_live(live, thesaurus()), market) for live in (first, itself)]
    _same_leads(leads[0], leads[1])


def _same_leads(a: list[list[tuple[int, float]]], b: list[list[tuple[int, float]]]) -> None:
    """The same vendors in the same order, with the same scores to float32's precision:
    on PostgreSQL the two processes hold the changed rows in another order, and a float32
    sum taken in another order can end a unit in the last place apart (a score at
    1.4589505 then rounds to 1.45895 in one process and 1.458951 in the other)."""
    assert [[vendor for vendor, _ in need] for need in a] == [
        [vendor for vendor, _ in need] for need in b
    ]
    for need_a, need_b in zip(a, b, strict=True):
        assert [score for _, score in need_a] == pytest.approx(
            [score for _, score in need_b], rel=1e-5, abs=1e-6
        )


def test_a_process_that_meets_an_edit_before_the_worker_analyses_it_itself(
    app: Flask, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    market = _ready(runner)
    _, snapshot = live_snapshot()
    early = LiveModel.of(snapshot)
    early.follow(thesaurus())
    calls = Analyses(monkeypatch)
    market.lamps.title = "Dark riverside streets at night"
    db.session.commit()

    assert early.follow(thesaurus())  # nothing stored yet: analysed here, and not stored
    assert len(calls.texts) == 1
    assert stored_analyses("need", {market.lamps.id: calls.texts[0]}, thesaurus()) == {}
    assert update_vectors(word_count_encode).analysed == [("need", market.lamps.id)]
    late = LiveModel.of(snapshot)
    late.follow(thesaurus())
    assert len(calls.texts) == 2  # the worker's; the late process read it
    _same_rows(early.needs.changes, late.needs.changes)


def test_leads_are_the_same_with_and_without_stored_analysis(
    app: Flask, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    market = _ready(runner)
    candidates = len(_stored_keys())
    assert candidates == 7  # three vendors, four open needs: each analysed by the worker
    calls = Analyses(monkeypatch)

    _rebuild(runner)  # reads every stored analysis: none made again
    assert calls.texts == []
    _, reused = live_snapshot()
    with_stored = LeadsModel.from_snapshot(reused, thesaurus())

    db.session.execute(sa.delete(LeadAnalysis.__table__))
    db.session.commit()
    _rebuild(runner)  # nothing stored: every candidate analysed
    assert len(calls.texts) == candidates
    _, fresh = live_snapshot()
    without = LeadsModel.from_snapshot(fresh, thesaurus())

    _same_rows(reused.vendors, fresh.vendors)
    _same_rows(reused.needs, fresh.needs)
    assert _leads(with_stored, market) == _leads(without, market)


def test_a_new_thesaurus_invalidates_every_stored_analysis(
    app: Flask, runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    market = _ready(runner)
    old = thesaurus()
    texts = {v: vendor_profiles([v])[v].text for v in (market.lumenark.id,)}
    assert stored_analyses("vendor", texts, old)

    edited = tmp_path / "concepts.toml"
    edited.write_text(CONCEPTS_FILE.read_text() + "\n# one more comment line\n")
    new = Thesaurus.load(edited)
    assert analysis_recipe(new) != analysis_recipe(old)
    assert stored_analyses("vendor", texts, new) == {}  # never read for the new one

    for module in (vectors, queue):  # the queue's recipe, and what chunks analyse
        monkeypatch.setattr(module, "thesaurus", lambda: new)
    feed_vector_queue()
    queued = set(db.session.execute(sa.select(LeadVectorWork.kind, LeadVectorWork.record_id)))
    assert _stored_keys() <= queued  # every candidate queued again
    work = update_vectors(word_count_encode)
    assert len(work.analysed) == len(_stored_keys()) and work.embedded == 0
    assert stored_analyses("vendor", texts, new)
    recipes = set(db.session.scalars(sa.select(LeadAnalysis.recipe)))
    assert recipes == {analysis_recipe(new)}


def test_reconcile_removes_analyses_nobody_reads(app: Flask, runner) -> None:
    market = _ready(runner)
    gone_need = market.water.id
    # deleted without an event (as a need past its date stops being a candidate): only a
    # reconcile finds it
    db.session.execute(sa.delete(Need.__table__).where(Need.id == gone_need))
    stray = {
        "record_id": market.lumenark.id,
        "fingerprint": 0,
        "terms": "",
        "concepts": b"",
        "computed_at": market.lumenark.created_at,
    }
    db.session.execute(
        sa.insert(LeadAnalysis.__table__),
        [
            {**stray, "kind": "old", "recipe": analysis_recipe(thesaurus())},
            {**stray, "kind": "need", "record_id": 10**9, "recipe": "analysis-0/older"},
        ],
    )
    db.session.commit()
    assert ("need", gone_need) in _stored_keys()

    reconcile_vectors()
    stored = _stored_keys()
    assert ("need", gone_need) not in stored
    assert ("old", market.lumenark.id) not in stored and ("need", 10**9) not in stored
    assert ("vendor", market.lumenark.id) in stored


def test_a_record_that_stops_being_a_candidate_loses_its_analysis(app: Flask, runner) -> None:
    market = _ready(runner)
    need_id = market.water.id
    db.session.delete(market.water)  # an event names it: the chunk that claims it removes
    db.session.commit()
    update_vectors(word_count_encode)
    assert ("need", need_id) not in _stored_keys()
