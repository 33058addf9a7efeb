"""The calibrated ranking: piece vectors kept and centred, cover, probabilities, the shown
flag, the value to the buyer, and a first reason naming the capability that answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from flask import Flask
from matching.feedback_factories import build_market
from matching.test_record_vectors import word_count_encode

from portal.matching.calibration import (
    FEATURES,
    GAIN_ELSEWHERE,
    GAIN_IN_MARKET,
    Calibration,
    blend,
    calibration,
    expected_value,
)
from portal.matching.concepts import thesaurus
from portal.matching.pieces import (
    TITLE_PREFERENCE,
    PieceVectors,
    best_answer,
    cover_by_vendors,
    cover_of_needs,
    pooled,
    unit_rows,
)
from portal.matching.profiles import CapabilityText, NeedProfile, VendorProfile, vendor_profiles
from portal.matching.reasons import Answer, lead_reasons
from portal.matching.services import Lead, current_model
from portal.matching.store.queue import update_vectors
from portal.matching.store.snapshot import assemble_vectors, live_snapshot, load_pieces
from portal.matching.store.vectors import embed_pieces


def _basis(*rows: list[float]) -> np.ndarray:
    vectors = np.zeros((len(rows), 384), dtype=np.float32)
    for i, row in enumerate(rows):
        vectors[i, : len(row)] = row
    return unit_rows(vectors)


def test_cover_rewards_a_vendor_that_answers_every_part_of_the_need() -> None:
    need = _basis([1, 0, 0], [0, 1, 0])  # two problems
    both = _basis([1, 0, 0], [0, 1, 0])  # a vendor with a capability for each
    one = _basis([1, 0, 0], [1, 0.1, 0])  # a vendor answering the first twice
    vendors = PieceVectors.of_records([both, one])
    covered = cover_by_vendors(need, vendors)
    assert covered[0] > covered[1]
    # the same figure from the other direction (a vendor's query over needs)
    needs = PieceVectors.of_records([need])
    assert cover_of_needs(needs, both)[0] == covered[0]
    assert cover_of_needs(needs, one)[0] == covered[1]


def test_pooling_takes_out_the_sides_shared_direction() -> None:
    shared = [0, 0, 5]  # every record of the side leans this way
    pieces = PieceVectors.of_records([_basis([1, 0, 5]), _basis([0, 1, 5])])
    raw = pooled(pieces, np.zeros(384, dtype=np.float32))
    centred_pooled = pooled(pieces, pieces.mean())
    assert float(raw[0] @ raw[1]) > 0.9  # alike only by what every record shares
    assert float(centred_pooled[0] @ centred_pooled[1]) < 0  # different once it is out
    assert float(_basis(shared)[0] @ centred_pooled[0]) < 0.1


def test_best_answer_picks_the_capability_that_answers_the_need_not_the_company_line() -> None:
    need = _basis([1, 0, 0], [0.9, 0.1, 0])
    vendor = _basis([1, 0, 0], [0, 1, 0], [0.8, 0, 0.2])  # company line, two capabilities
    piece, part, similarity = best_answer(need, vendor)
    assert piece == 2 and part == 0 and similarity > 0.9
    assert best_answer(need, vendor[:1]) == (-1, -1, 0.0)  # no capability at all


def test_the_title_is_quoted_unless_a_sentence_answers_clearly_better() -> None:
    """A description sentence that only just beats the title is as often background."""
    vendor = _basis([0, 0, 1], [1, 0, 0])  # company line, one capability
    unit = np.sqrt(1 - 0.62**2)
    close = np.vstack([_basis([0.60, unit, 0])[0], _basis([0.62, 0, unit])[0]])
    assert best_answer(close, vendor)[1] == 0  # 0.62 against the title's 0.60: the title
    clear = np.vstack([_basis([0.50, np.sqrt(0.75), 0])[0], _basis([0.62, 0, unit])[0]])
    assert best_answer(clear, vendor)[1] == 1  # 0.12 closer than the title: the sentence
    assert 0.62 - 0.60 < TITLE_PREFERENCE < 0.62 - 0.50


def test_value_multiplies_the_probability_by_the_gain_of_serving_the_country() -> None:
    value = expected_value(np.asarray([0.5, 0.5, 0.1]), np.asarray([1.0, 0.0, 1.0]))
    assert list(value) == [0.5 * GAIN_IN_MARKET, 0.5 * GAIN_ELSEWHERE, 0.1 * GAIN_IN_MARKET]
    # a vendor in the country that probably does not solve the need stays below one
    # elsewhere that probably does
    assert value[2] < value[1]


def test_the_shipped_calibration_is_a_probability_that_rises_with_the_evidence() -> None:
    shipped = Calibration.load()
    assert shipped.full.features == tuple(FEATURES)
    assert 0 < shipped.shown <= shipped.strong < 1
    weak = np.zeros((1, len(FEATURES)), dtype=np.float32)
    strong = weak.copy()
    for i, name in enumerate(FEATURES):
        strong[0, i] = {"semantic": 0.5, "cover": 0.5, "cover_gap": 0.0, "sector": 1.0}.get(
            name, 3.0
        )
    weak[0, FEATURES_INDEX["cover_gap"]] = -0.5
    p_weak, p_strong = shipped.full.probability(weak)[0], shipped.full.probability(strong)[0]
    assert 0 <= p_weak < shipped.shown <= shipped.strong <= p_strong <= 1
    assert shipped.strength(p_strong) == "strong" and shipped.strength(p_weak) == "weak"


FEATURES_INDEX = {name: i for i, name in enumerate(FEATURES)}


def test_the_multilingual_models_are_written_back_as_they_were_read(tmp_path) -> None:
    """Every model of calibration.json survives a save and load, the multilingual order
    model among them (it orders a translated need's leads by the words it keeps)."""
    shipped = Calibration.load()
    assert shipped.multilingual_order is not None
    assert "lexical" in shipped.multilingual_order.features
    assert shipped.multilingual is not None
    assert "lexical" not in shipped.multilingual.features  # what is shown reads no words
    shipped.save(tmp_path / "calibration.json")
    again = Calibration.load(tmp_path / "calibration.json")
    assert again.as_json() == shipped.as_json()


def test_a_blend_is_sure_only_as_far_as_both_views_agree() -> None:
    """What a multilingual need's page shows: where the text signal and the words agree the
    blend is theirs; where only the text signal finds a vendor, it is less sure; the shift
    moves the fit's chosen threshold onto the one ``shown``."""
    text = np.asarray([0.8, 0.8, 0.3], dtype=np.float32)
    words = np.asarray([0.8, 0.1, 0.3], dtype=np.float32)
    blended = blend(text, words)
    assert blended[0] == pytest.approx(0.8) and blended[2] == pytest.approx(0.3)
    assert words[1] < blended[1] < text[1]
    shown, chosen = 0.35, 0.30
    shift = float(np.log(shown / (1 - shown)) - np.log(chosen / (1 - chosen)))
    at_chosen = blend(np.asarray([chosen]), np.asarray([chosen]), shift)[0]
    assert at_chosen == pytest.approx(shown)


def test_the_shipped_blend_reads_words_for_translated_needs_only() -> None:
    """The blend's second model reads the words; the language-free model and the English
    models are what they were (English needs do not pass through the blend)."""
    shipped = Calibration.load()
    assert shipped.multilingual_words is not None
    assert shipped.multilingual_words_feedback is not None
    assert {"lexical", "concepts"} <= set(shipped.multilingual_words.features)
    assert shipped.multilingual is not None
    assert "lexical" not in shipped.multilingual.features
    assert shipped.multilingual_shift != 0.0


def _vendor(capabilities: list[tuple[str, str]]) -> VendorProfile:
    return VendorProfile(
        1,
        "v",
        "Harbourlight",
        "Engineering firm.",
        [],
        ["VN"],
        [CapabilityText(t, d) for t, d in capabilities],
    )


def test_the_first_reason_names_the_capability_the_vectors_chose() -> None:
    need = NeedProfile(1, "n", "Our pumps", "The pumps stop at night.", ["water"], "VN", 2, "Hue")
    vendor = _vendor([("Street lighting", "LED lamps."), ("Pump control", "Variable drives.")])
    reasons = lead_reasons(need, vendor, thesaurus(), answer=Answer(1, "The pumps stop at night."))
    assert reasons[0].startswith("“Pump control”")
    assert "Street lighting" not in reasons[0]
    assert reasons[1] == "Already serves Viet Nam, the buyer's country"


def test_stored_piece_vectors_are_each_records_pieces(app: Flask, runner) -> None:
    build_market()
    result = runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    generation, snapshot = live_snapshot()
    assert load_pieces(generation, "vendors", len(snapshot.vendors)) is None  # not yet
    update_vectors(word_count_encode)
    assert assemble_vectors(generation).complete
    stored = load_pieces(generation, "vendors", len(snapshot.vendors))
    assert stored is not None
    ids = [int(i) for i in snapshot.vendors.ids]
    profiles = vendor_profiles(ids)
    expected = embed_pieces(word_count_encode, [profiles[i].pieces for i in ids])
    np.testing.assert_array_equal(stored.offsets, expected.offsets)
    np.testing.assert_allclose(np.asarray(stored.vectors, np.float32), expected.vectors, atol=2e-3)


def test_leads_carry_a_probability_and_whether_a_page_shows_them(app: Flask, runner, tmp_path):
    build_market()
    assert runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"]).exit_code == 0
    update_vectors(word_count_encode)
    # Either model (with vectors, or lexical while changes since the snapshot wait for the
    # encoder, as on PostgreSQL here) gives every lead a probability and a shown flag.
    current_model()
    out = tmp_path / "leads.jsonl"
    result = runner.invoke(args=["leads", "export", "--for", "needs", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows
    shown_threshold = calibration().shown
    checked = {True: 0, False: 0}
    for row in rows:
        for lead in row["leads"]:
            assert 0 <= lead["probability"] <= 1
            assert lead["shown"] == (lead["probability"] >= shown_threshold)
            assert lead["strength"] in {"strong", "possible", "weak"}
            assert lead["reasons"]
            # a lead a page folds away names its closest capability without claiming it
            # answers the need; a shown one claims it
            claim = " relates to " if not lead["shown"] else " answers "
            other = " answers " if not lead["shown"] else " relates to "
            first = lead["reasons"][0]
            if first.startswith("“") and (claim in first or other in first):
                assert claim in first and other not in first, first
                checked[lead["shown"]] += 1
        values = [lead["score"] for lead in row["leads"]]
        assert values == sorted(values, reverse=True)
    assert checked[False], checked  # this small market shows none by default


def test_a_lead_is_shown_by_its_probability() -> None:
    need = NeedProfile(1, "n", "t", "d", [], "VN", 2, "Hue")
    vendor = _vendor([])
    threshold = calibration().shown
    assert Lead(vendor, need, 1.0, ["r"], threshold).shown
    assert not Lead(vendor, need, 1.0, ["r"], threshold * 0.99).shown


def test_feedback_lifts_a_candidate_like_the_first_passs_best_ones() -> None:
    from portal.matching.ranking import feedback

    vectors = _basis([1, 0, 0], [0.9, 0.1, 0], [0.95, 0, 0.05], [0, 0, 1], [0.8, 0.2, 0])
    probability = np.asarray([0.9, 0.8, 0.7, 0.3, 0.05], dtype=np.float32)
    lifted = feedback(probability, vectors, top=3)
    assert lifted[4] > lifted[3]  # like the best three, though the first pass ranked it last
    # the best ones are compared with the others of the three, never with themselves
    assert lifted[0] < 1.0 and np.isclose(
        lifted[0], float(vectors[0] @ vectors[1:3].T @ [0.8, 0.7] / 1.5)
    )
    assert not feedback(probability[:1], vectors[:1]).any()  # nothing to compare with


def test_a_concept_names_the_reason_only_when_the_capability_clearly_names_it() -> None:
    # read in English, a need in another language (a reader of its own language reads
    # the part of the need quoted: test_reason_words)
    need = NeedProfile(
        1,
        "n",
        "Dark streets",
        "The street lamps keep failing near the market.",
        [],
        "VN",
        2,
        "Hue",
        language="vi",
    )
    part = "The street lamps keep failing near the market."
    clear = _vendor([("Lighting retrofits", "We replace street lights and broken lamps.")])
    passing = _vendor(
        [("Market apps", "Mobile apps for city parking, with a map of street lights.")]
    )
    clear_reason = lead_reasons(need, clear, thesaurus(), answer=Answer(0, part))[0]
    passing_reason = lead_reasons(need, passing, thesaurus(), answer=Answer(0, part))[0]
    assert clear_reason.startswith("“Lighting retrofits” answers the need's street lighting")
    # one phrase in passing is no concept: the part of the need it answers is quoted instead
    assert passing_reason == f"“Market apps” answers “{part.rstrip('.')}”"
