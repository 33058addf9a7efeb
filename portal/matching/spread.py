"""How specifically a vendor answers a need: the semantic score in units of how far the
vendor's similarity varies across the problems cities name.

Some vendors lean the same way towards every problem in a field: a general health IT
firm is a little like a need about dengue, about paper index cards and about remote
patients, and none of those is its business. Others are like one kind of problem and
unlike the rest. A cosine of 0.35 says more about the second kind than the first. The
reference is the thesaurus's problems (``concepts.toml``, the project's own text): each
concept's problem phrases embedded and averaged, one direction per concept, centred. A
vendor's *spread* is the standard deviation of its cosine over those directions, and the
``specific`` feature is ``semantic / spread`` (calibration.FEATURES).

The reference depends only on the thesaurus and the encoder's recipe, so it ships,
written by ``benchmarks/problem_spread.py`` (like the encoder's tuning), and needs no
portal data: a portal with three needs reads it as one with 20,000 does. It carries the
digest of the thesaurus and the recipe it was made from; a test fails when either moved
without it (docs/ranking.md, "How specifically a vendor answers").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

SPREAD_FILE = Path(__file__).with_name("problem_spread.npz")
# A vector nearly orthogonal to every problem direction (an empty or placeholder profile)
# would divide by almost nothing; real vendors' spreads lie well above this (0.082 the
# least, 0.126 the median, over the 17,280 candidate pairs of the two development sets).
SPREAD_FLOOR = 0.02


@dataclass(frozen=True)
class ProblemSpread:
    """One centred direction per thesaurus concept (concepts x dimensions)."""

    directions: np.ndarray
    thesaurus: str  # the digest of the thesaurus it was made from (``Thesaurus.digest``)
    recipe: str  # the English space's vector recipe (store.vectors.VECTOR_RECIPE) it was made with

    def of(self, vectors: np.ndarray) -> np.ndarray:
        """Each row's standard deviation of cosine over the concepts' problems, floored."""
        rows = np.atleast_2d(np.asarray(vectors, np.float32))
        projections = rows @ self.directions.T
        spread = np.sqrt((projections**2).mean(axis=1))
        return np.maximum(spread, SPREAD_FLOOR).astype(np.float32)

    def save(self, path: Path = SPREAD_FILE) -> None:
        np.savez_compressed(
            path,
            directions=self.directions.astype(np.float16),
            thesaurus=np.array(self.thesaurus),
            recipe=np.array(self.recipe),
        )

    @classmethod
    def load(cls, path: Path = SPREAD_FILE) -> ProblemSpread:
        with np.load(path) as stored:
            return cls(
                stored["directions"].astype(np.float32),
                str(stored["thesaurus"]),
                str(stored["recipe"]),
            )


def problem_directions(
    problems: Sequence[Sequence[str]], encode: Callable[[list[str]], np.ndarray]
) -> np.ndarray:
    """Each concept's problem phrases embedded and averaged (one unit row per concept that
    has any), then centred on their mean: what varies between problems, not what every
    problem shares. A vector's mean squared projection on these rows is its variance of
    cosine over the concepts."""
    flat = [phrase for phrases in problems for phrase in phrases]
    vectors = np.asarray(encode(flat), np.float32)
    rows, start = [], 0
    for phrases in problems:
        if phrases:
            mean = vectors[start : start + len(phrases)].mean(axis=0)
            rows.append(mean / (np.linalg.norm(mean) or 1.0))
        start += len(phrases)
    concepts = np.asarray(rows, np.float32)
    return concepts - concepts.mean(axis=0)


@cache
def problem_spread() -> ProblemSpread:
    """The shipped reference, loaded once per process."""
    return ProblemSpread.load()
