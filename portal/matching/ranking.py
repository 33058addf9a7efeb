"""Scoring one side (vendors, or needs) against a query from the other side.

Signals, each cheap over 100,000 candidates with numpy:
- lexical: BM25 of the query's terms over the candidates' texts;
- concepts: the thesaurus concepts both texts name (a city's "lamps failing" and a
  vendor's "LED retrofit" both name street lighting), weighted by how rare the concept
  is among candidates, with a weaker bonus for related concepts;
- semantic and cover: the sentence vectors of both records' pieces
  (portal/matching/pieces.py); cover is computed for the pool of candidates only;
- sector: the two share a sector code;
- market: the vendor already serves the buyer's country.

They become a probability that the vendor solves the need (portal/matching/calibration.py)
and leads are ranked by their value to the buyer: that probability times what a solving
vendor is worth, more when it already serves the buyer's country.

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
from portal.matching import analysis
from portal.matching.analysis import Analysis
from portal.matching.calibration import Model, blend, calibration, expected_value
from portal.matching.concepts import ConceptMatch, Thesaurus
from portal.matching.lexical import Bm25
from portal.matching.pieces import (
    PieceVectors,
    centred,
    cover_by_vendors,
    cover_of_needs,
    pooled,
)
from portal.matching.spread import problem_spread
from portal.vocab import ASEAN_COUNTRIES, SECTORS

SECTOR_BITS = {code: 1 << i for i, code in enumerate(SECTORS)}
COUNTRY_BITS = {code: 1 << i for i, code in enumerate(ASEAN_COUNTRIES)}
NEVER = 2**62  # closes: no closing date


def bits(codes: Sequence[str], table: dict[str, int]) -> int:
    value = 0
    for code in codes:
        value |= table.get(code, 0)
    return value


@dataclass
class Query:
    terms: list[str]
    concepts: ConceptMatch
    sector_bits: int
    market_bits: int
    is_need: bool  # a need's query ranks vendors; a vendor's ranks needs
    # the query record's piece vectors, centred on its own side's mean, and their pooled
    # vector (portal/matching/pieces.py), when available
    pieces: np.ndarray | None = None
    vector: np.ndarray | None = None
    # "english" (MiniLM's vectors) or "multilingual" (a need not in English: e5's vectors
    # mapped into MiniLM's, portal/matching/crosslingual.py); each has its own calibrated
    # model
    space: str = "english"


@dataclass(frozen=True)
class CandidateRow:
    """What the ranking reads of one vendor or need."""

    id: int
    text: str
    sectors: Sequence[str]
    markets: Sequence[str]  # vendors: markets served; needs: the buyer's country
    closes: int = NEVER  # the day (ordinal) after which it stops being a candidate
    # its text's analysis, when already made (stored in the database): else analysed here
    analysis: Analysis | None = None


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
    # Each record's piece vectors in row order, once computed (they come after the rest).
    pieces: PieceVectors | None = None
    # Derived from ``pieces`` by ``CandidateSet.prepare``: the mean piece of the side, and
    # each row's pooled vector of centred pieces (what the semantic signal reads).
    piece_mean: np.ndarray | None = None
    semantic: np.ndarray | None = None

    @classmethod
    def build(
        cls, rows: Iterable[CandidateRow], thesaurus: Thesaurus, base: Candidates | None = None
    ) -> Candidates:
        """Analyse ``rows`` (read once: a generator streams 100,000 profiles without
        holding them); with ``base``, on its scale (vocabulary, idf). A row that carries
        its analysis (stored, ``portal.matching.analysis``) is not analysed again."""
        ids, closes = array("q"), array("q")
        sector_bits, market_bits = array("q"), array("q")
        concept_rows, concept_cols, concept_data = array("i"), array("i"), array("f")

        def documents() -> Iterator[list[str]]:
            for row, candidate in enumerate(rows):
                ids.append(candidate.id)
                closes.append(candidate.closes)
                sector_bits.append(bits(candidate.sectors, SECTOR_BITS))
                market_bits.append(bits(candidate.markets, COUNTRY_BITS))
                found = candidate.analysis
                if found is None:
                    found = analysis.analyse(candidate.text, thesaurus)
                for concept, strength in found.concepts.items():
                    concept_rows.append(row)
                    concept_cols.append(concept)
                    concept_data.append(strength)
                yield found.terms

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

    def rows(self, keep: np.ndarray) -> Candidates:
        """Only the rows where ``keep`` is true, on the same scale. Piece vectors are not
        carried: whoever keeps them sets them again (``portal.matching.live``)."""
        index = np.flatnonzero(keep)
        bm25 = self.bm25
        return Candidates(
            ids=self.ids[index],
            bm25=Bm25(bm25.vocabulary, bm25.idf, bm25.weights[index].tocsc(), bm25.average_length),
            concepts=self.concepts[index],
            concept_idf=self.concept_idf,
            sector_bits=self.sector_bits[index],
            market_bits=self.market_bits[index],
            closes=self.closes[index],
        )

    def stacked(self, other: Candidates) -> Candidates:
        """These rows, then ``other``'s: both analysed on the same base (its vocabulary,
        idf and average length), as the changes since a snapshot are."""
        bm25 = self.bm25
        weights = sp.vstack([bm25.weights, other.bm25.weights], format="csc")
        return Candidates(
            ids=np.concatenate([self.ids, other.ids]),
            bm25=Bm25(bm25.vocabulary, bm25.idf, weights, bm25.average_length),
            concepts=sp.vstack([self.concepts, other.concepts], format="csr"),
            concept_idf=self.concept_idf,
            sector_bits=np.concatenate([self.sector_bits, other.sector_bits]),
            market_bits=np.concatenate([self.market_bits, other.market_bits]),
            closes=np.concatenate([self.closes, other.closes]),
        )

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
        self.prepare()

    def prepare(self) -> None:
        """Derive what the semantic signals read from the piece vectors, once each: the
        snapshot's (kept with it for the process) and the changes' (on the snapshot's
        mean, so that both score on one scale)."""
        snapshot = self.snapshot
        if snapshot.pieces is None:
            return
        if snapshot.piece_mean is None:
            snapshot.piece_mean = snapshot.pieces.mean()
        if snapshot.semantic is None:
            snapshot.semantic = pooled(snapshot.pieces, snapshot.piece_mean)
        changes = self.changes
        if changes is not None and changes.pieces is not None and changes.semantic is None:
            changes.semantic = pooled(changes.pieces, snapshot.piece_mean)

    @property
    def has_pieces(self) -> bool:
        return all(part.pieces is not None for part in self.parts)

    @property
    def mean(self) -> np.ndarray:
        assert self.snapshot.piece_mean is not None
        return self.snapshot.piece_mean

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

    def pieces_of(self, record_id: int) -> np.ndarray | None:
        """The stored piece vectors of one record, if this set holds its current state."""
        if self.changes is not None and self.changes.pieces is not None:
            rows = np.flatnonzero(self.changes.ids == record_id)
            if rows.size:
                return self.changes.pieces.of(int(rows[0]))
        if self.snapshot.pieces is not None:
            rows = np.flatnonzero((self.snapshot.ids == record_id) & self.alive)
            if rows.size:
                return self.snapshot.pieces.of(int(rows[0]))
        return None


POOL_PER_SIGNAL = 200


@dataclass
class Scored:
    """A query's candidates, scored: the pool worth ranking, each pool row's probability
    of solving the need and its value to the buyer (``expected_value``; -inf off the pool).
    """

    pool: np.ndarray  # bool over the candidate rows
    probability: np.ndarray  # float32 over the candidate rows (0 off the pool)
    value: np.ndarray  # float32 over the candidate rows


def _best(values: np.ndarray, active: np.ndarray, count: int) -> np.ndarray:
    masked = np.where(active, values, -np.inf)
    if count >= len(values):
        return active & np.isfinite(masked)
    chosen = np.zeros(len(values), dtype=bool)
    chosen[np.argpartition(-masked, count - 1)[:count]] = True
    return chosen & active & (values > 0)


def _z(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Standard scores over the pool: comparable across signals and queries. Over the
    pool, not everyone: a long tail of unrelated records at 100,000 would shrink the
    spread, and the same evidence would weigh differently at 160 records and 100,000."""
    if not pool.any():
        return values
    sample = values[pool]
    spread = float(sample.std())
    if spread <= 1e-9:
        return np.zeros_like(values)
    return (values - float(sample.mean())) / spread


def _raw(part: Candidates, query: Query, spread: np.ndarray | None) -> tuple[np.ndarray, ...]:
    lexical = part.bm25.scores(query.terms)
    if query.vector is not None and part.semantic is not None:
        semantic = part.semantic @ query.vector
    else:
        semantic = np.zeros(len(part), dtype=np.float32)
    if spread is not None:
        concepts = np.asarray(part.concepts @ spread).ravel().astype(np.float32)
    else:
        concepts = np.zeros(len(part), dtype=np.float32)
    sector = ((part.sector_bits & query.sector_bits) != 0).astype(np.float32)
    market = ((part.market_bits & query.market_bits) != 0).astype(np.float32)
    return lexical, concepts, semantic, sector, market


def _cover(candidates: CandidateSet, query: Query, pool: np.ndarray) -> np.ndarray:
    """``cover`` of every pool row (in row order) against the query's pieces."""
    assert query.pieces is not None
    found: list[np.ndarray] = []
    for start, part in zip(_starts(candidates), candidates.parts, strict=True):
        assert part.pieces is not None
        rows = np.flatnonzero(pool[start : start + len(part)])
        chosen = part.pieces.take(rows)
        chosen.vectors = centred(chosen.vectors, candidates.mean)
        if query.is_need:
            found.append(cover_by_vendors(query.pieces, chosen))
        else:
            found.append(cover_of_needs(chosen, query.pieces))
    return np.concatenate(found) if found else np.zeros(0, dtype=np.float32)


@dataclass
class Features:
    """The calibration's features (``calibration.FEATURES``) of every pool row."""

    pool: np.ndarray  # bool over the candidate rows
    columns: dict[str, np.ndarray]  # feature name -> values of the pool rows, in row order
    market: np.ndarray  # float32 over the candidate rows: serves the buyer's country
    has_vectors: bool
    # the pool rows' pooled vectors of centred pieces, when the candidates have them
    vectors: np.ndarray | None = None

    def matrix(self, names: tuple[str, ...]) -> np.ndarray:
        return np.stack([self.columns[name] for name in names], axis=1)


def features(candidates: CandidateSet, query: Query, thesaurus: Thesaurus) -> Features:
    """The signals of the query against the pool of the best few hundred candidates by
    any text signal (the rest are not leads), as the calibration reads them."""
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
    # Semantic signals only count when every candidate has its vectors: until then (while
    # vectors are being computed) the ranking is the lexical one, never a mix.
    has_vectors = query.pieces is not None and candidates.has_pieces
    pool = _best(lexical, active, POOL_PER_SIGNAL) | _best(concepts, active, POOL_PER_SIGNAL)
    if has_vectors:
        pool |= _best(semantic, active, POOL_PER_SIGNAL)
    if not pool.any():
        pool = active
    columns = {
        "lexical": _z(lexical, pool)[pool],
        "concepts": _z(concepts, pool)[pool],
        "sector": sector[pool],
    }
    if has_vectors:
        cover = _cover(candidates, query, pool)
        columns["semantic"] = semantic[pool]
        columns["cover"] = cover
        columns["cover_gap"] = cover - (cover.max() if len(cover) else 0.0)
        vectors = np.concatenate(
            [
                part.semantic[pool[start : start + len(part)]]  # type: ignore[index]
                for start, part in zip(_starts(candidates), candidates.parts, strict=True)
            ]
        )
        # the vendor's spread across the thesaurus's problems: the pool's vendors for a
        # need, the query's own for a vendor's list of needs (portal/matching/spread.py)
        assert query.vector is not None
        spread = problem_spread().of(vectors if query.is_need else query.vector)
        columns["specific"] = columns["semantic"] / spread
        return Features(pool, columns, market, True, vectors)
    return Features(pool, columns, market, False)


def _starts(candidates: CandidateSet) -> list[int]:
    """Where each part's rows begin in the candidates' row order."""
    lengths = [len(part) for part in candidates.parts]
    return [sum(lengths[:i]) for i in range(len(lengths))]


FEEDBACK_TOP = 3  # the first pass's best candidates that the feedback signal compares with


def feedback(probability: np.ndarray, vectors: np.ndarray, top: int = FEEDBACK_TOP) -> np.ndarray:
    """Pseudo-relevance feedback: how much each candidate resembles the first pass's most
    probable ones (weighted by their probability; a candidate is not compared with itself).
    Vendors that solve the same need tend to resemble each other more than the need's
    wording resembles any of them, so this finds the ones whose profile the need's
    problem words missed."""
    count = min(top, len(probability))
    if count < 2:
        return np.zeros(len(probability), dtype=np.float32)
    best = np.argsort(-probability, kind="stable")[:count]
    weights = np.broadcast_to(probability[best].astype(np.float32), (len(probability), count))
    weights = weights.copy()
    weights[best, np.arange(count)] = 0.0  # not with itself
    similarity = vectors @ vectors[best].T  # pool rows x best
    total = np.maximum(weights.sum(axis=1), 1e-9)
    return ((similarity * weights).sum(axis=1) / total).astype(np.float32)


def score(candidates: CandidateSet, query: Query, thesaurus: Thesaurus) -> Scored:
    """Every candidate's probability of solving the need (or, for a vendor's query, of
    being solved by it) and value to the buyer; only pool rows can be leads."""
    found = features(candidates, query, thesaurus)
    shipped = calibration()
    full, second = shipped.full, shipped.feedback
    if query.space == "multilingual":
        full, second = shipped.multilingual or full, shipped.multilingual_feedback or second
    model = full if found.has_vectors else shipped.lexical
    pool = found.pool
    probability = np.zeros(len(pool), dtype=np.float32)
    probability[pool] = _two_passes(found, query, model, second)
    # One translated need's leads: what is shown blends the text signal's view with the
    # words' (calibration.blend), and they are ordered by a model that reads shared words;
    # a vendor's needs keep the language-free model's value.
    with_words = ordered = None
    if query.space == "multilingual" and query.is_need and found.has_vectors:
        with_words = _fitted_passes(
            found, query, shipped.multilingual_words, shipped.multilingual_words_feedback
        )
        ordered = _fitted_passes(
            found, query, shipped.multilingual_order, shipped.multilingual_order_feedback
        )
    if with_words is not None:
        probability[pool] = blend(probability[pool], with_words, shipped.multilingual_shift)
    value = np.full(len(pool), -np.inf, dtype=np.float32)
    order = probability[pool] if ordered is None else ordered
    value[pool] = expected_value(order, found.market[pool])
    return Scored(pool, probability, value)


def _fitted_passes(
    found: Features, query: Query, first_model: Model | None, second: Model | None
) -> np.ndarray | None:
    """``_two_passes`` by an optional pair of calibration.json's models; None when the pair
    is not fitted (an older calibration file)."""
    if first_model is None or second is None:
        return None
    return _two_passes(found, query, first_model, second)


def _two_passes(found: Features, query: Query, first_model: Model, second: Model) -> np.ndarray:
    """The pool's probabilities by ``first_model``; for a need with vectors, then by
    ``second`` with the first pass's best vendors as evidence (fitted on needs' leads
    only: a vendor's needs keep the first pass)."""
    first = first_model.probability(found.matrix(first_model.features))
    if found.vectors is None or not query.is_need:
        return first
    found.columns["feedback"] = feedback(first, found.vectors)
    return second.probability(found.matrix(second.features))


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
