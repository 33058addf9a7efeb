"""Sentence vectors of each record's pieces, and the two semantic signals read from them.

A record is embedded piece by piece: a vendor's company line and each capability, a
need's title and each sentence. Two things are read from those vectors:

- ``pooled``: one vector per record, the mean of its pieces, after taking away the
  *mean piece of its side*. Needs are written in problem language and vendors in
  solution language; every need shares a direction ("we", "our city", "residents") and
  every vendor another ("our platform", "we deliver"). Left in, those shared directions
  make a need look a little like every need-shaped text; taken out, what remains is what
  the record is about. The means come from the portal's own records, never from labels.
- ``cover``: how well a vendor's best piece answers each part of a need, averaged over
  the need's pieces. A need that lists three problems is answered by a vendor whose
  capabilities cover all three, not by one that matches the first very well.

On the development sets (docs/ranking.md) both lift the ranking on needs written in
problem language, where a single whole-text vector did not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DIMENSIONS = 384
_CHUNK = 65_536  # pieces converted to float32 at a time when pooling a whole side


def offsets_of(counts: Sequence[int] | np.ndarray) -> np.ndarray:
    """Where each record's pieces begin, and the end: ``counts`` pieces per record."""
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


@dataclass
class PieceVectors:
    """Unit piece vectors of several records, flat, with each record's range of rows:
    record ``r``'s pieces are ``vectors[offsets[r]:offsets[r + 1]]``."""

    vectors: np.ndarray  # (pieces, DIMENSIONS); float16 on disk, float32 in memory
    offsets: np.ndarray  # (records + 1,) int64

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def of(self, row: int) -> np.ndarray:
        return np.asarray(self.vectors[self.offsets[row] : self.offsets[row + 1]], np.float32)

    def take(self, rows: np.ndarray) -> PieceVectors:
        """The pieces of ``rows`` only, in that order."""
        offsets = offsets_of(self.offsets[rows + 1] - self.offsets[rows])
        if not len(rows):
            return PieceVectors(np.zeros((0, DIMENSIONS), np.float32), offsets)
        index = np.concatenate(
            [np.arange(self.offsets[r], self.offsets[r + 1]) for r in rows.tolist()]
        )
        return PieceVectors(np.asarray(self.vectors[index], np.float32), offsets)

    def mean(self) -> np.ndarray:
        """The side's mean piece: the direction every record of the side shares."""
        total = np.zeros(DIMENSIONS, dtype=np.float64)
        for start in range(0, len(self.vectors), _CHUNK):
            total += np.asarray(self.vectors[start : start + _CHUNK], np.float32).sum(axis=0)
        return (total / max(len(self.vectors), 1)).astype(np.float32)

    @classmethod
    def of_records(cls, records: list[np.ndarray]) -> PieceVectors:
        """From one (pieces, DIMENSIONS) array per record."""
        offsets = offsets_of([len(r) for r in records])
        vectors = (
            np.concatenate(records).astype(np.float32)
            if records
            else np.zeros((0, DIMENSIONS), np.float32)
        )
        return cls(vectors, offsets)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def centred(vectors: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Piece vectors with their side's shared direction taken out, back to unit length."""
    return unit_rows(np.asarray(vectors, np.float32) - mean)


def pooled(pieces: PieceVectors, mean: np.ndarray | None = None) -> np.ndarray:
    """One unit vector per record: the mean of its pieces, centred on ``mean`` when given
    (records x DIMENSIONS).

    A record's pieces are consecutive rows, so each chunk is summed per record with one
    ``reduceat`` (``np.add.at``, row by row, took a quarter of a second at 20,000 vendors).
    """
    out = np.zeros((len(pieces), DIMENSIONS), dtype=np.float32)
    owners = np.repeat(np.arange(len(pieces)), np.diff(pieces.offsets))
    for start in range(0, len(pieces.vectors), _CHUNK):
        block = np.asarray(pieces.vectors[start : start + _CHUNK], np.float32)
        if mean is not None:
            block = centred(block, mean)
        chunk_owners = owners[start : start + len(block)]
        # where a new record begins inside the chunk; owners are distinct between them
        begins = np.flatnonzero(np.r_[True, chunk_owners[1:] != chunk_owners[:-1]])
        out[chunk_owners[begins]] += np.add.reduceat(block, begins, axis=0)
    return unit_rows(out)


def cover_of_needs(need_pieces: PieceVectors, vendor: np.ndarray) -> np.ndarray:
    """For each need (its centred pieces in ``need_pieces``), the mean over its pieces of
    the best match among the vendor's centred pieces ``vendor``."""
    if not len(need_pieces) or not len(vendor):
        return np.zeros(len(need_pieces), dtype=np.float32)
    best = (np.asarray(need_pieces.vectors, np.float32) @ vendor.T).max(axis=1)
    sums = np.add.reduceat(best, need_pieces.offsets[:-1]) if len(best) else best
    return (sums / np.maximum(np.diff(need_pieces.offsets), 1)).astype(np.float32)


def cover_by_vendors(need: np.ndarray, vendor_pieces: PieceVectors) -> np.ndarray:
    """For each vendor (its centred pieces in ``vendor_pieces``), the mean over the need's
    centred pieces ``need`` of the vendor's best matching piece."""
    if not len(vendor_pieces) or not len(need):
        return np.zeros(len(vendor_pieces), dtype=np.float32)
    similarity = need @ np.asarray(vendor_pieces.vectors, np.float32).T  # need x pieces
    best = np.maximum.reduceat(similarity, vendor_pieces.offsets[:-1], axis=1)
    return best.mean(axis=0).astype(np.float32)


# The need's most probable vendors that a capability is compared with (see Consensus).
CONSENSUS_LEADS = 3


@dataclass
class Consensus:
    """The pooled centred vectors of a need's most probable vendors, with their
    probabilities: what the vendors that most likely solve the need offer."""

    vectors: dict[int, tuple[np.ndarray, float]]  # vendor id -> (unit vector, probability)

    def without(self, vendor_id: int) -> np.ndarray | None:
        """The probability-weighted mean of their vectors, leaving out ``vendor_id`` (a vendor is
        never its own evidence), from at most ``CONSENSUS_LEADS`` of them."""
        others = [pair for key, pair in self.vectors.items() if key != vendor_id]
        others = others[:CONSENSUS_LEADS]
        if not others:
            return None
        weights = np.asarray([probability for _, probability in others], np.float32)
        direction = (np.stack([vector for vector, _ in others]) * weights[:, None]).sum(axis=0)
        # their weighted mean, not rescaled: vendors that agree make a longer vector
        return direction / max(float(weights.sum()), 1e-9)


# How much the resemblance to the need's other best vendors counts when choosing which
# capability answers the need, beside the capability's own match (best_answer).
CONSENSUS_WEIGHT = 1.0

# How much closer than the need's title a sentence of its description must be to the
# capability to be quoted instead: the title states what the city asks for, and a
# description sentence that only just beats it is as often background ("About 3,600
# poles are in the municipality"). Judged blind in pairs (docs/ranking.md, "Reasons
# judged by a reader"): preferred 6 to 3 on dev and 10 to 3 on dev-b, the rest alike.
TITLE_PREFERENCE = 0.05

# How much closer to the capability than the sentence in which the city states its ask
# (portal.matching.asks) another piece of the need must be to be quoted instead. Judged
# blind in pairs (docs/ranking.md, "Which part of the need: the ask"): 0.2 against the
# title-first rule alone, then 0.3 against 0.2 and 0.45 against 0.3, each preferred on
# both development sets. Read absolutely by the same readers, 0.45 quotes the whole ask
# for capabilities that answer only a part of it, and whether the quoted capability
# answers fell on dev (0.786 at 0.3, 0.671 at 0.45, on the leads that change); 0.3 keeps
# it where 0.2 had it and names the right part more often.
ASK_PREFERENCE = 0.3


def best_answer(
    need: np.ndarray,
    vendor: np.ndarray,
    first: int = 1,
    consensus: np.ndarray | None = None,
    asks: Sequence[bool] | None = None,
) -> tuple[int, int, float]:
    """Which of the vendor's pieces (from ``first``: piece 0 is the company line, not a
    capability) best answers which of the need's pieces (piece 0 its title, preferred by
    ``TITLE_PREFERENCE``; the pieces ``asks`` marks, by ``ASK_PREFERENCE``), both centred:
    (vendor piece, need piece, similarity); (-1, -1, 0.0) when the vendor has no such piece.

    ``consensus``, when given, is the mean vector of what the need's other most probable
    vendors offer (their pooled centred vectors, weighted by probability). A city's
    background sentence ("a few houses have panels on the roof") can pull the choice to
    a side line of a vendor; the capability that resembles what the other good vendors
    sell is the one that answers the need's core. Judged by hand on leads of both
    development sets (docs/ranking.md), it chose the right capability more often on both.
    """
    if len(vendor) <= first or not len(need):
        return -1, -1, 0.0
    capabilities = vendor[first:]
    similarity = need @ capabilities.T  # need pieces x capabilities
    # Judged by its best match and by how much of the whole need it answers, so that one
    # sentence of background shared with a side line does not outweigh the need's core.
    judged = similarity.max(axis=0) + similarity.mean(axis=0)
    if consensus is not None:
        judged = judged + CONSENSUS_WEIGHT * (unit_rows(capabilities) @ consensus)
    capability = int(judged.argmax())
    part = similarity[:, capability].copy()
    part[0] += TITLE_PREFERENCE  # a need's piece 0 is its title (NeedProfile.pieces)
    if asks is not None:
        marked = np.zeros(len(part), dtype=bool)
        marked[: min(len(asks), len(part))] = list(asks)[: len(part)]
        part[marked] += ASK_PREFERENCE
    sentence = int(part.argmax())
    return capability + first, sentence, float(similarity[sentence, capability])
