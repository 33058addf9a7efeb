"""A rebuild reuses the stored sentence vectors of records whose text did not change, so
only what changed is embedded again: vectors live in the database, keyed by record, with
the fingerprint of the pieces they were made from."""

from __future__ import annotations

import json

import numpy as np
from flask import Flask
from matching.feedback_factories import build_market
from matching.test_record_vectors import compute_all, word_count_encode

from portal.extensions import db
from portal.matching.pieces import pooled
from portal.matching.profiles import need_profiles, vendor_profiles
from portal.matching.store.queue import compute_vectors, feed_vector_queue, reconcile_vectors
from portal.matching.store.snapshot import (
    SNAPSHOT_FOLDER,
    assemble_vectors,
    live_snapshot,
    load_pieces,
    vectors_done,
)
from portal.matching.store.vectors import embed_pieces, pooled_vectors


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
        stored = load_pieces(generation, name, len(side))
        assert stored is not None
        ids = [int(i) for i in side.ids]
        found = profiles(ids)
        expected = pooled_vectors(word_count_encode, [found[i].pieces for i in ids])
        np.testing.assert_allclose(pooled(stored), expected, atol=2e-3)


def test_a_rebuild_embeds_only_the_records_that_changed(app: Flask, runner) -> None:
    market = build_market()
    _rebuild(runner)
    first, _ = live_snapshot()
    assert compute_all()[1].complete

    market.aquasonic.summary = "Leak detection and pressure management for water utilities."
    market.lamps.description = "The lamps along the river keep failing at night."
    db.session.commit()
    _rebuild(runner)
    second, _ = live_snapshot()
    assert second != first
    assert vectors_done(second, "vendors") == 0  # this machine's cache: not yet assembled

    encoder = CountingEncoder()
    assert compute_all(encoder)[1].complete
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
    compute_all()
    market.danang.name = "Da Nang Department of Construction"
    market.lumenark.markets = ["VN", "KH"]
    db.session.commit()
    _rebuild(runner)
    encoder = CountingEncoder()
    work, progress = compute_all(encoder)
    assert progress.complete
    assert encoder.texts == []
    assert work.claimed >= 1 and work.embedded == 0  # queued by their events, checked, kept
    _assert_vectors_match_the_database()


def test_the_cache_of_a_snapshot_is_made_only_once_every_row_has_vectors(
    app: Flask, runner
) -> None:
    build_market()
    _rebuild(runner)
    generation, snapshot = live_snapshot()
    feed_vector_queue()
    work = compute_vectors(word_count_encode, max_records=len(snapshot.needs))  # needs first
    assert {kind for kind, _ in work.records} == {"need"}
    progress = assemble_vectors(generation)
    assert progress.done == len(snapshot.needs) and not progress.complete
    assert vectors_done(generation, "needs") == len(snapshot.needs)
    assert load_pieces(generation, "vendors", len(snapshot.vendors)) is None
    compute_all()
    _assert_vectors_match_the_database()


def test_a_cache_of_another_recipe_is_never_used(app: Flask, runner) -> None:
    build_market()
    _rebuild(runner)
    generation, snapshot = live_snapshot()
    compute_all()
    done_file = generation / SNAPSHOT_FOLDER / "vendors.vectors.done"
    done_file.write_text(json.dumps(len(snapshot.vendors)))  # an older version's marker
    assert vectors_done(generation, "vendors") == 0
    assert load_pieces(generation, "vendors", len(snapshot.vendors)) is None
    encoder = CountingEncoder()
    assert compute_all(encoder)[1].complete  # assembled again from the database
    assert encoder.texts == []
    _assert_vectors_match_the_database()


def test_vectors_an_earlier_version_kept_in_snapshot_files_are_taken_into_the_database(
    app: Flask, runner
) -> None:
    """An upgrade from the files-only store: the live snapshot's vectors are stored in the
    database once, not embedded again."""
    build_market()
    _rebuild(runner)
    generation, snapshot = live_snapshot()
    folder = generation / SNAPSHOT_FOLDER
    for name, side, profiles in (
        ("vendors", snapshot.vendors, vendor_profiles),
        ("needs", snapshot.needs, need_profiles),
    ):
        ids = [int(i) for i in side.ids]
        found = profiles(ids)
        embedded = embed_pieces(word_count_encode, [found[i].pieces for i in ids])
        np.save(folder / f"{name}.pieces.npy", embedded.vectors.astype(np.float16))
        np.save(folder / f"{name}.vectors.keys.npy", np.load(folder / f"{name}.fingerprints.npy"))
        (folder / f"{name}.vectors.done").write_text(str(len(ids)))  # the old marker
    # seeded, so queued only for their analyses, which the files never held
    candidates = len(snapshot.vendors) + len(snapshot.needs)
    assert reconcile_vectors() == (candidates, 0)
    encoder = CountingEncoder()
    work, progress = compute_all(encoder)
    assert progress.complete and work.embedded == 0 and len(work.analysed) == candidates
    assert encoder.texts == []
    _assert_vectors_match_the_database()
