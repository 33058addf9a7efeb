"""Scoring one side (vendors, or needs) against a query from the other side.

Four signals, each cheap over 100,000 candidates with numpy:
- lexical: BM25 of the query's terms over the candidates' texts;
- concepts: the thesaurus concepts both texts name (a city's "lamps failing" and a
  vendor's "LED retrofit" both name street lighting), weighted by how rare the concept
  is among candidates, with a weaker bonus for related concepts;
- sector: the two share a sector code;
- market: the vendor already serves the buyer's country, which is worth more to a city
  than an equally good vendor that has never worked there.

A side is a ``CandidateSet``: the snapshot built at the last rebuild, plus the records
changed since, scored on the snapshot's scale; snapshot rows that changed are masked.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from portal.db import utc_today
from portal.matching.concepts import ConceptMatch, Thesaurus
from portal.matching.lexical import Bm25
from portal.matching.text import both_terms
from portal.vocab import ASEAN_COUNTRIES, SECTORS

SECTOR_BITS = {code: 1 << i for i, code in enumerate(SECTORS)}
COUNTRY_BITS = {code: 1 << i for i, code in enumerate(ASEAN_COUNTRIES)}
NEVER = 2**62  # closes: no closing date


def bits(codes: Sequence[str], table: dict[str, int]) -> int:
    value = 0
    for code in codes:
        value |= table.get(code, 0)
    return value


@dataclass(frozen=True)
class Weights:
    """How much each signal counts. Lexical, concept and semantic scores are z-scores over
    the candidates (how far above the usual a candidate stands); sector and market are 0
    or 1."""

    lexical: float = 0.5
    concepts: float = 0.5
    semantic: float = 1.0
    sector: float = 1.0
    market: float = 1.0


DEFAULT_WEIGHTS = Weights()


@dataclass
class Query:
    terms: list[str]
    concepts: ConceptMatch
    sector_bits: int
    market_bits: int
    vector: np.ndarray | None = None  # the query's sentence embedding, when available


@dataclass(frozen=True)
class CandidateRow:
    """What the ranking reads of one vendor or need."""

    id: int
    text: str
    sectors: Sequence[str]
    markets: Sequence[str]  # vendors: markets served; needs: the buyer's country
    closes: int = NEVER  # the day (ordinal) after which it stops being a candidate


@dataclass
class Candidates:
    """Records of one side in row order, with each signal's matrix."""

    ids: np.ndarray
    bm25: Bm25
    concepts: sp.csr_matrix
    concept_idf: np.ndarray
    sector_bits: np.ndarray
    market_bits: np.ndarray
    # The day (proleptic ordinal) after which a row stops being a candidate: needs close
    # on their date with no job running, so the ranking checks it at query time.
    closes: np.ndarray
    # Unit sentence embeddings in row order, once computed (they come after the rest).
    vectors: np.ndarray | None = None

    @classmethod
    def build(
        cls, rows: Iterable[CandidateRow], thesaurus: Thesaurus, base: Candidates | None = None
    ) -> Candidates:
        """Analyse ``rows`` (read once: a generator streams 100,000 profiles without
        holding them); with ``base``, on its scale (vocabulary, idf)."""
        ids, closes = array("q"), array("q")
        sector_bits, market_bits = array("q"), array("q")
        concept_rows, concept_cols, concept_data = array("i"), array("i"), array("f")

        def documents() -> Iterator[list[str]]:
            for row, candidate in enumerate(rows):
                ids.append(candidate.id)
                closes.append(candidate.closes)
                sector_bits.append(bits(candidate.sectors, SECTOR_BITS))
                market_bits.append(bits(candidate.markets, COUNTRY_BITS))
                ranking_terms, phrase_list = both_terms(candidate.text)
                for concept, strength in thesaurus.match(phrase_list).strengths.items():
                    concept_rows.append(row)
                    concept_cols.append(concept)
                    concept_data.append(strength)
                yield ranking_terms

        bm25 = Bm25.build(documents(), base.bm25 if base is not None else None)
        concepts = sp.csr_matrix(
            (
                np.frombuffer(concept_data, dtype=np.float32),
                (
                    np.frombuffer(concept_rows, dtype=np.int32),
                    np.frombuffer(concept_cols, dtype=np.int32),
                ),
            ),
            shape=(len(ids), len(thesaurus.concepts)),
        )
        if base is not None:
            concept_idf = base.concept_idf
        else:
            df = np.asarray((concepts > 0).sum(axis=0)).ravel()
            n = max(len(ids), 1)
            concept_idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        return cls(
            ids=np.frombuffer(ids, dtype=np.int64).copy(),
            bm25=bm25,
            concepts=concepts,
            concept_idf=concept_idf,
            sector_bits=np.frombuffer(sector_bits, dtype=np.int64).copy(),
            market_bits=np.frombuffer(market_bits, dtype=np.int64).copy(),
            closes=np.frombuffer(closes, dtype=np.int64).copy(),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def save(self, folder: Path, name: str) -> None:
        self.bm25.save(folder, name)
        np.savez(
            folder / f"{name}.rows.npz",
            ids=self.ids,
            concept_data=self.concepts.data,
            concept_indices=self.concepts.indices,
            concept_indptr=self.concepts.indptr,
            concept_shape=np.asarray(self.concepts.shape),
            concept_idf=self.concept_idf,
            sector_bits=self.sector_bits,
            market_bits=self.market_bits,
            closes=self.closes,
        )

    @classmethod
    def load(cls, folder: Path, name: str) -> Candidates:
        with np.load(folder / f"{name}.rows.npz") as arrays:
            concepts = sp.csr_matrix(
                (arrays["concept_data"], arrays["concept_indices"], arrays["concept_indptr"]),
                shape=tuple(arrays["concept_shape"]),
            )
            return cls(
                ids=arrays["ids"],
                bm25=Bm25.load(folder, name),
                concepts=concepts,
                concept_idf=arrays["concept_idf"],
                sector_bits=arrays["sector_bits"],
                market_bits=arrays["market_bits"],
                closes=arrays["closes"],
            )


@dataclass
class CandidateSet:
    """A snapshot plus the records changed since; ``alive`` masks snapshot rows that
    changed (their new state is in ``changes``) or stopped being candidates."""

    snapshot: Candidates
    changes: Candidates | None = None
    alive: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        if len(self.alive) != len(self.snapshot):
            self.alive = np.ones(len(self.snapshot), dtype=bool)

    @property
    def parts(self) -> list[Candidates]:
        return [self.snapshot] + ([self.changes] if self.changes is not None else [])

    @property
    def ids(self) -> np.ndarray:
        return np.concatenate([part.ids for part in self.parts])

    @property
    def active(self) -> np.ndarray:
        """Rows that are candidates today: not superseded, and not past a closing date."""
        today = utc_today().toordinal()
        masks = [self.alive & (self.snapshot.closes >= today)]
        if self.changes is not None:
            masks.append(self.changes.closes >= today)
        return np.concatenate(masks)

    def __len__(self) -> int:
        return int(self.active.sum())

    def vector_of(self, record_id: int) -> np.ndarray | None:
        """The stored embedding of one record, if this set holds its current state."""
        if self.changes is not None and self.changes.vectors is not None:
            rows = np.flatnonzero(self.changes.ids == record_id)
            if rows.size:
                return self.changes.vectors[rows[0]]
        if self.snapshot.vectors is not None:
            rows = np.flatnonzero((self.snapshot.ids == record_id) & self.alive)
            if rows.size:
                return np.asarray(self.snapshot.vectors[rows[0]])
        return None


POOL_PER_SIGNAL = 200


@dataclass
class Signals:
    lexical: np.ndarray
    concepts: np.ndarray
    semantic: np.ndarray | None
    sector: np.ndarray
    market: np.ndarray
    # The candidates worth ranking: the best few hundred by any text signal. Scores are
    # standardised over this pool, so that the sector and market boosts weigh the same
    # against 160 vendors or 100,000 (over everyone, a huge tail of unrelated vendors
    # would shrink the spread and make every text score dwarf the boosts).
    pool: np.ndarray


def _best(values: np.ndarray, active: np.ndarray, count: int) -> np.ndarray:
    masked = np.where(active, values, -np.inf)
    if count >= len(values):
        return active & np.isfinite(masked)
    chosen = np.zeros(len(values), dtype=bool)
    chosen[np.argpartition(-masked, count - 1)[:count]] = True
    return chosen & active & (values > 0)


def _z(values: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Standard scores over the pool: comparable across signals and queries."""
    if not active.any():
        return values
    sample = values[active]
    spread = float(sample.std())
    if spread <= 1e-9:
        return np.zeros_like(values)
    return (values - float(sample.mean())) / spread


def _raw(part: Candidates, query: Query, spread: np.ndarray | None) -> tuple[np.ndarray, ...]:
    lexical = part.bm25.scores(query.terms)
    if query.vector is not None and part.vectors is not None:
        semantic = part.vectors @ query.vector
    else:
        semantic = np.zeros(len(part), dtype=np.float32)
    if spread is not None:
        concepts = np.asarray(part.concepts @ spread).ravel().astype(np.float32)
    else:
        concepts = np.zeros(len(part), dtype=np.float32)
    sector = ((part.sector_bits & query.sector_bits) != 0).astype(np.float32)
    market = ((part.market_bits & query.market_bits) != 0).astype(np.float32)
    return lexical, concepts, semantic, sector, market


def signals(candidates: CandidateSet, query: Query, thesaurus: Thesaurus) -> Signals:
    spread = None
    if query.concepts.strengths:
        q = np.zeros(len(thesaurus.concepts), dtype=np.float32)
        for concept, strength in query.concepts.strengths.items():
            q[concept] = strength
        spread = thesaurus.related @ (q * candidates.snapshot.concept_idf)
    parts = [_raw(part, query, spread) for part in candidates.parts]
    lexical, concepts, semantic, sector, market = (
        np.concatenate(arrays) for arrays in zip(*parts, strict=True)
    )
    active = candidates.active
    # Semantic scores only count when every candidate has a vector: until then (while
    # vectors are being computed) the ranking is the lexical one, never a mix.
    has_vectors = query.vector is not None and all(p.vectors is not None for p in candidates.parts)
    pool = _best(lexical, active, POOL_PER_SIGNAL) | _best(concepts, active, POOL_PER_SIGNAL)
    if has_vectors:
        pool |= _best(semantic, active, POOL_PER_SIGNAL)
    if not pool.any():
        pool = active
    return Signals(
        _z(lexical, pool),
        _z(concepts, pool),
        _z(semantic, pool) if has_vectors else None,
        sector,
        market,
        pool,
    )


def combine(s: Signals, weights: Weights = DEFAULT_WEIGHTS) -> np.ndarray:
    scores = (
        weights.lexical * s.lexical
        + weights.concepts * s.concepts
        + weights.sector * s.sector
        + weights.market * s.market
    )
    if s.semantic is not None:
        scores = scores + weights.semantic * s.semantic
    return scores


def top(scores: np.ndarray, limit: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Row indices of the ``limit`` best scores, best first (only ``allowed`` rows)."""
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    limit = min(limit, len(scores))
    if limit <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, limit - 1)[:limit]
    order = part[np.argsort(-scores[part], kind="stable")]
    return order[np.isfinite(scores[order])]
