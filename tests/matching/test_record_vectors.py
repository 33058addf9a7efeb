"""A record's sentence vector: the mean of its pieces (a vendor's capabilities, a need's
sentences), so that nothing past the encoder's 128 word pieces is lost."""

from __future__ import annotations

import hashlib

import numpy as np
from flask import Flask
from matching.feedback_factories import build_market

from portal.matching.pieces import pooled
from portal.matching.profiles import CapabilityText, NeedProfile, VendorProfile, vendor_profiles
from portal.matching.store.queue import VectorWork, update_vectors
from portal.matching.store.snapshot import (
    VectorProgress,
    assemble_vectors,
    live_snapshot,
    load_pieces,
)
from portal.matching.store.vectors import VECTOR_DIM, Encode, pooled_vectors
from portal.search.index import IndexStore

MAX_WORDS = 128  # like the sentence encoder, which reads at most 128 word pieces


def word_count_encode(texts: list[str]) -> np.ndarray:
    """A small real encoder: each of the first 128 words adds to one of 384 dimensions (by
    its hash), and the text's vector is normalised. Enough to check what is pooled."""
    vectors = np.zeros((len(texts), VECTOR_DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.lower().split()[:MAX_WORDS] or [""]:
            digest = hashlib.sha256(word.encode()).digest()
            vectors[row, int.from_bytes(digest[:4], "big") % VECTOR_DIM] += 1
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def compute_all(encode: Encode = word_count_encode) -> tuple[VectorWork, VectorProgress]:
    """What a worker does until the queue is empty, then this machine's cache of the live
    snapshot's vectors assembled from the database."""
    work = update_vectors(encode)
    generation, _ = live_snapshot()
    return work, assemble_vectors(generation)


def _vendor(summary: str, capabilities: list[tuple[str, str]]) -> VendorProfile:
    return VendorProfile(
        id=1,
        ref="v",
        name="Lumenark",
        summary=summary,
        sectors=[],
        markets=[],
        capabilities=[CapabilityText(title, description) for title, description in capabilities],
    )


def _need(title: str, description: str) -> NeedProfile:
    return NeedProfile(
        id=1,
        ref="n",
        title=title,
        description=description,
        sectors=[],
        country="VN",
        buyer_id=2,
        buyer_name="Da Nang",
    )


def test_a_vendor_is_read_as_its_company_line_and_each_capability() -> None:
    vendor = _vendor(
        "Street lighting for cities.",
        [("LED retrofit", "Dimmable luminaires."), ("Fault reporting", "Alerts per lamp.")],
    )
    assert vendor.pieces == [
        "Lumenark. Street lighting for cities.",
        "LED retrofit. Dimmable luminaires.",
        "Fault reporting. Alerts per lamp.",
    ]
    assert _vendor("", []).pieces == ["Lumenark"]


def test_a_need_is_read_as_its_title_and_each_sentence_that_says_something() -> None:
    need = _need(
        "Riverside lamps",
        "The lamps along the river keep failing at night. Budget approved. Residents "
        "complain that the bill keeps rising every year!",
    )
    assert need.pieces == [
        "Riverside lamps",
        "The lamps along the river keep failing at night.",
        "Residents complain that the bill keeps rising every year!",
    ]
    # nothing long enough to stand alone: the description is kept whole
    assert _need("Lamps", "Too dark. Fix it.").pieces == ["Lamps", "Too dark. Fix it."]


def test_pooled_vectors_are_the_normalised_mean_of_each_records_pieces() -> None:
    records = [["street lamps failing", "energy bill"], [], ["leak detection"]]
    pooled = pooled_vectors(word_count_encode, records)
    assert pooled.shape == (3, VECTOR_DIM)
    np.testing.assert_allclose(np.linalg.norm(pooled, axis=1), 1.0, atol=1e-6)
    first = word_count_encode(records[0]).sum(axis=0)
    np.testing.assert_allclose(pooled[0], first / np.linalg.norm(first), atol=1e-6)
    np.testing.assert_allclose(pooled[1], word_count_encode([""])[0], atol=1e-6)
    np.testing.assert_allclose(pooled[2], word_count_encode(["leak detection"])[0], atol=1e-6)
    assert pooled_vectors(word_count_encode, []).shape == (0, VECTOR_DIM)


def test_a_late_capability_still_counts_in_the_vendors_vector() -> None:
    """The whole profile as one text would be cut after 128 word pieces; pooled, the
    fourth capability weighs as much as the first."""
    filler = [(f"Service {i}", "consulting " * 60) for i in range(3)]
    vendor = _vendor("Engineering firm. " + "design " * 150, [*filler, ("Leak", "detection")])
    leaks = word_count_encode(["leak. detection"])[0]
    pooled = pooled_vectors(word_count_encode, [vendor.pieces])[0]
    whole = word_count_encode([vendor.text])[0]
    assert float(whole @ leaks) < 0.01  # cut off
    assert float(pooled @ leaks) > 0.2


def test_stored_vectors_are_pooled_from_the_records_pieces(app: Flask, runner) -> None:
    build_market()
    result = runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    generation, snapshot = live_snapshot()
    _, progress = compute_all()
    assert progress.complete
    stored = load_pieces(generation, "vendors", len(snapshot.vendors))
    assert stored is not None
    ids = [int(i) for i in snapshot.vendors.ids]
    profiles = vendor_profiles(ids)
    expected = pooled_vectors(word_count_encode, [profiles[i].pieces for i in ids])
    np.testing.assert_allclose(pooled(stored), expected, atol=2e-3)  # stored as float16
    assert IndexStore.from_app().current_generation() == generation


def test_status_and_healthz_show_how_many_vectors_are_ready(app: Flask, runner, client) -> None:
    build_market()
    result = runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    _, snapshot = live_snapshot()
    total = len(snapshot.vendors) + len(snapshot.needs)

    status = runner.invoke(args=["index", "status"])
    assert f"sentence vectors: 0 of {total} records (leads rank without" in status.output
    vectors = client.get("/healthz").get_json()["checks"]["index"]["sentence_vectors"]
    assert vectors == {"done": 0, "total": total}

    compute_all()
    status = runner.invoke(args=["index", "status"])
    assert f"sentence vectors: {total} of {total} records\n" in status.output
    vectors = client.get("/healthz").get_json()["checks"]["index"]["sentence_vectors"]
    assert vectors == {"done": total, "total": total}
