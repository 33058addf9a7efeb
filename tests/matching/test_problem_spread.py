"""The ``specific`` feature: a pair's semantic score in units of the vendor's spread across
the thesaurus's problems (portal/matching/spread.py)."""

from __future__ import annotations

import numpy as np
from flask import Flask
from matching.feedback_factories import build_market
from matching.test_record_vectors import word_count_encode

from portal.matching.calibration import calibration
from portal.matching.concepts import thesaurus
from portal.matching.pieces import unit_rows
from portal.matching.profiles import need_profiles, vendor_profiles
from portal.matching.ranking import features
from portal.matching.services import current_model
from portal.matching.spread import (
    SPREAD_FLOOR,
    ProblemSpread,
    problem_directions,
    problem_spread,
)
from portal.matching.store.queue import update_vectors
from portal.matching.store.vectors import VECTOR_RECIPE


def test_the_shipped_reference_was_made_from_this_thesaurus_and_this_encoder() -> None:
    """Editing concepts.toml or the encoder's tuning moves the problems' directions: the
    reference must be written again and the calibration refitted on it."""
    shipped = problem_spread()
    advice = "run benchmarks/problem_spread.py, then benchmarks/fit_calibration.py --write"
    assert shipped.thesaurus == thesaurus().digest, advice
    assert shipped.recipe == VECTOR_RECIPE, advice
    assert shipped.directions.shape == (len(thesaurus().concepts), 384)
    assert np.allclose(shipped.directions.mean(axis=0), 0, atol=1e-3)  # centred


def test_a_vendor_like_one_problem_spreads_more_than_one_like_all_alike() -> None:
    """Three problems: a vendor aligned with one of them varies across them; a vendor
    equally like all three does not, and its cosine of 0.3 says less."""
    problems = [("a",), ("b",), ("c",)]
    axes = {"a": [1, 0, 0, 0], "b": [0, 1, 0, 0], "c": [0, 0, 1, 0]}

    def encode(texts: list[str]) -> np.ndarray:
        rows = np.zeros((len(texts), 384), dtype=np.float32)
        for i, text in enumerate(texts):
            rows[i, :4] = axes[text]
        return rows

    reference = ProblemSpread(problem_directions(problems, encode), "t", "r")
    specialist = unit_rows(np.asarray([[1, 0, 0, 1] + [0] * 380], dtype=np.float32))
    generalist = unit_rows(np.asarray([[1, 1, 1, 1] + [0] * 380], dtype=np.float32))
    unrelated = unit_rows(np.asarray([[0, 0, 0, 1] + [0] * 380], dtype=np.float32))
    spread = reference.of(np.vstack([specialist, generalist, unrelated]))
    assert spread[0] > 0.3
    assert spread[1] == spread[2] == SPREAD_FLOOR  # no variation across the problems


def test_the_reference_survives_a_save_and_load(tmp_path) -> None:
    shipped = problem_spread()
    shipped.save(tmp_path / "spread.npz")
    again = ProblemSpread.load(tmp_path / "spread.npz")
    assert (again.thesaurus, again.recipe) == (shipped.thesaurus, shipped.recipe)
    assert np.allclose(again.directions, shipped.directions, atol=1e-3)


def test_a_pair_is_as_specific_from_the_need_as_from_the_vendor(app: Flask, runner) -> None:
    """A need's leads and a vendor's needs read the same ``specific`` value for a pair: the
    vendor's spread, from the pool's vectors or from the query's own."""
    market = build_market()
    assert runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"]).exit_code == 0
    update_vectors(word_count_encode)
    model = current_model()
    need = need_profiles([market.lamps.id])[market.lamps.id]
    vendor = vendor_profiles([market.lumenark.id])[market.lumenark.id]
    from_need = features(model.vendors, model.query_for_need(need), model.thesaurus)
    from_vendor = features(model.needs, model.query_for_vendor(vendor), model.thesaurus)
    assert from_need.has_vectors and from_vendor.has_vectors
    vendor_row = list(model.vendors.ids[from_need.pool]).index(market.lumenark.id)
    need_row = list(model.needs.ids[from_vendor.pool]).index(market.lamps.id)
    a, b = from_need.columns, from_vendor.columns
    assert np.isclose(a["semantic"][vendor_row], b["semantic"][need_row], atol=1e-5)
    assert np.isclose(a["specific"][vendor_row], b["specific"][need_row], atol=1e-4)
    spread = problem_spread().of(from_need.vectors[vendor_row])[0]
    assert np.isclose(a["specific"][vendor_row], a["semantic"][vendor_row] / spread, atol=1e-5)
    assert "specific" in calibration().full.features
