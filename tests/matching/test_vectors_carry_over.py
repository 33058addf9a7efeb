"""A rebuild carries over the sentence vectors of records whose text did not change, so
only what changed is embedded again."""

from __future__ import annotations

import json

import numpy as np
from flask import Flask
from matching.feedback_factories import build_market
from matching.test_record_vectors import word_count_encode

from portal.extensions import db
from portal.matching.profiles import need_profiles, vendor_profiles
from portal.matching.store import (
    SNAPSHOT_FOLDER,
    complete_vectors,
    live_snapshot,
    load_vectors,
    pooled_vectors,
    vectors_done,
)
from portal.search.index import IndexStore


class CountingEncoder:
    """The word-count encoder, remembering every text it was asked to embed."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return word_count_encode(texts)


def _rebuild(runner) -> None:
    result = runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"])
    assert result.exit_code == 0, result.output


def _assert_vectors_match_the_database() -> None:
    generation, snapshot = live_snapshot()
    for name, side, profiles in (
        ("vendors", snapshot.vendors, vendor_profiles),
        ("needs", snapshot.needs, need_profiles),
    ):
        stored = load_vectors(generation, name, len(side))
        assert stored is not None
        ids = [int(i) for i in side.ids]
        found = profiles(ids)
        expected = pooled_vectors(word_count_encode, [found[i].pieces for i in ids])
        np.testing.assert_allclose(np.asarray(stored), expected, atol=1e-6)


def test_a_rebuild_embeds_only_the_records_that_changed(app: Flask, runner) -> None:
    market = build_market()
    _rebuild(runner)
    first, _ = live_snapshot()
    assert complete_vectors(first, word_count_encode).complete

    market.aquasonic.summary = "Leak detection and pressure management for water utilities."
    market.lamps.description = "The lamps along the river keep failing at night."
    db.session.commit()
    _rebuild(runner)
    second, _ = live_snapshot()
    assert second != first

    encoder = CountingEncoder()
    assert complete_vectors(second, encoder).complete
    # only the two changed records' pieces were embedded
    assert sorted(encoder.texts) == sorted(
        vendor_profiles([market.aquasonic.id])[market.aquasonic.id].pieces
        + need_profiles([market.lamps.id])[market.lamps.id].pieces
    )
    _assert_vectors_match_the_database()


def test_a_change_that_leaves_the_text_alone_keeps_the_vector(app: Flask, runner) -> None:
    """Vectors follow the text only: a new market or a buyer's new name changes
    ranking signals that are computed at query time, not the vectors."""
    market = build_market()
    _rebuild(runner)
    first, _ = live_snapshot()
    complete_vectors(first, word_count_encode)
    market.danang.name = "Da Nang Department of Construction"
    market.lumenark.markets = ["VN", "KH"]
    db.session.commit()
    _rebuild(runner)
    second, _ = live_snapshot()
    encoder = CountingEncoder()
    assert complete_vectors(second, encoder).complete
    assert encoder.texts == []
    _assert_vectors_match_the_database()


def test_only_finished_vectors_are_carried(app: Flask, runner) -> None:
    build_market()
    _rebuild(runner)
    first, snapshot = live_snapshot()
    complete_vectors(first, word_count_encode, max_rows=len(snapshot.needs))  # needs only
    assert vectors_done(first, "vendors") == 0
    _rebuild(runner)
    second, snapshot = live_snapshot()
    encoder = CountingEncoder()
    complete_vectors(second, encoder)
    ids = [int(i) for i in snapshot.vendors.ids]
    vendors = vendor_profiles(ids)
    assert sorted(encoder.texts) == sorted(p for i in ids for p in vendors[i].pieces)
    _assert_vectors_match_the_database()


def test_vectors_of_another_recipe_are_never_carried(app: Flask, runner) -> None:
    build_market()
    _rebuild(runner)
    first, snapshot = live_snapshot()
    complete_vectors(first, word_count_encode)
    meta_file = first / SNAPSHOT_FOLDER / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta["vector_recipe"] = "an older model"
    meta_file.write_text(json.dumps(meta))
    _rebuild(runner)
    second, _ = live_snapshot()
    encoder = CountingEncoder()
    complete_vectors(second, encoder)
    assert len(encoder.texts) == sum(
        len(p.pieces) for p in vendor_profiles([int(i) for i in snapshot.vendors.ids]).values()
    ) + sum(len(p.pieces) for p in need_profiles([int(i) for i in snapshot.needs.ids]).values())
    assert IndexStore.from_app().current_generation() == second
