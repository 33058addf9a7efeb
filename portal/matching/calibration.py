"""How likely a vendor is to solve a need, from the ranking's signals, and what a lead is
worth to the buyer.

The probability is a logistic regression over a few signals of the pair, fitted on
labelled sets (``benchmarks/fit_calibration.py``: fitted on one set, measured on the
other, then fitted on both; the labelled data never ships, the coefficients do, in
``calibration.json``). Because the score means a probability, it can decide what a page
shows: leads at or above ``shown`` by default, the rest behind "show more".

The value of a lead to the buyer is the probability times what a solving vendor is worth:
more when it already serves the buyer's country (our labels' grade 3 against grade 2, as
nDCG counts them, 2^3 - 1 against 2^2 - 1). Serving the country multiplies the chance
that the vendor solves the need; it never makes a vendor that does not solve it a lead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")

# What each feature of a (need, vendor) pair is; the order of a feature matrix's columns.
FEATURES: dict[str, str] = {
    "lexical": "BM25 of the query's words, standard score over the candidate pool",
    "concepts": "thesaurus concepts both name, standard score over the candidate pool",
    "sector": "1 when need and vendor share a sector code",
    "semantic": "cosine of the centred mean piece vectors (portal/matching/pieces.py)",
    "cover": "the need's pieces' best match among the vendor's pieces, averaged",
    "cover_gap": "cover minus the best cover among the candidates: how far behind the best",
    "specific": "semantic over the vendor's spread across the thesaurus's problems (spread.py)",
}
# Without sentence vectors (while they are being computed) only these are known.
LEXICAL_FEATURES = ("lexical", "concepts", "sector")
# A need's second pass adds the first pass's best candidates as evidence (ranking.feedback).
FEEDBACK_FEATURES = (*FEATURES, "feedback")

# The multilingual space's models, each optional in calibration.json (see Calibration).
MULTILINGUAL_MODELS = (
    "multilingual",
    "multilingual_feedback",
    "multilingual_order",
    "multilingual_order_feedback",
    "multilingual_words",
    "multilingual_words_feedback",
)

GAIN_IN_MARKET = 7.0  # solves the need and already serves the buyer's country
GAIN_ELSEWHERE = 3.0  # solves the need, not yet in that country


@dataclass(frozen=True)
class Model:
    """A fitted logistic regression over ``features`` (standardised with mean and scale)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coefficients: np.ndarray
    intercept: float

    def probability(self, matrix: np.ndarray) -> np.ndarray:
        """P(the vendor solves the need) for each row of ``matrix`` (columns: features)."""
        z = ((matrix - self.mean) / self.scale) @ self.coefficients + self.intercept
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def as_json(self) -> dict[str, object]:
        return {
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coefficients": self.coefficients.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> Model:
        return cls(
            tuple(raw["features"]),  # type: ignore[arg-type]
            np.asarray(raw["mean"], dtype=np.float32),
            np.asarray(raw["scale"], dtype=np.float32),
            np.asarray(raw["coefficients"], dtype=np.float32),
            float(raw["intercept"]),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class Calibration:
    full: Model  # with sentence vectors
    feedback: Model  # a need's second pass: full, plus resemblance to the first pass's best
    lexical: Model  # before the vectors are complete
    shown: float  # a lead at or above this probability is shown by default
    strong: float  # ... and called a strong match at or above this one
    # Needs ranked in the multilingual space (portal/matching/crosslingual.py): their
    # semantic features come from e5, on another scale than MiniLM's. None: not fitted
    # yet, the English space's models are used.
    multilingual: Model | None = None
    multilingual_feedback: Model | None = None
    # The order of a multilingual need's leads: the same features plus the words it shares
    # with a vendor. A need in Thai or Khmer keeps English's acronyms, product and place
    # names ("SCADA", "LoRaWAN", "GIS"), which find the vendors that use them; but most of
    # its words are not English, so this model's probabilities run low and only order the
    # leads. What a page shows and how strong a lead is stay with ``multilingual`` (fitted
    # on the features every language has). docs/languages.md, "Ordered with the words".
    multilingual_order: Model | None = None
    multilingual_order_feedback: Model | None = None
    # What a multilingual need's page shows: ``blend`` of ``multilingual`` and of this model
    # (the same features plus the words and thesaurus concepts need and vendor share), its
    # log-odds moved by ``multilingual_shift`` so that the one ``shown`` threshold falls where
    # the fit chose it for the blend. Where e5 reads a language weakly, it carries a need
    # to vendors whose words and concepts do not follow, and the blend is less sure than
    # the text signal alone. docs/languages.md, "Shown leads across languages".
    multilingual_words: Model | None = None
    multilingual_words_feedback: Model | None = None
    multilingual_shift: float = 0.0

    def shows(self, probability: float) -> bool:
        """Whether a page shows a lead of this probability first (the rest are behind
        "show more", are not mailed, and only relate to the need in their reasons)."""
        return probability >= self.shown

    def strength(self, probability: float) -> str:
        if probability >= self.strong:
            return "strong"
        if self.shows(probability):
            return "possible"
        return "weak"

    def as_json(self) -> dict[str, object]:
        found: dict[str, object] = {
            "full": self.full.as_json(),
            "feedback": self.feedback.as_json(),
            "lexical": self.lexical.as_json(),
            "shown": self.shown,
            "strong": self.strong,
        }
        for name in MULTILINGUAL_MODELS:
            model = getattr(self, name)
            if model is not None:
                found[name] = model.as_json()
        if self.multilingual_words is not None:
            found["multilingual_shift"] = self.multilingual_shift
        return found

    def save(self, path: Path = CALIBRATION_FILE) -> None:
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> Calibration:
        raw = json.loads(path.read_text())
        optional = {name: Model.from_json(raw[name]) for name in MULTILINGUAL_MODELS if name in raw}
        return cls(
            Model.from_json(raw["full"]),
            Model.from_json(raw["feedback"]),
            Model.from_json(raw["lexical"]),
            float(raw["shown"]),
            float(raw["strong"]),
            **optional,
            multilingual_shift=float(raw.get("multilingual_shift", 0.0)),
        )


@cache
def calibration() -> Calibration:
    """The shipped calibration, loaded once per process."""
    return Calibration.load()


def blend(language_free: np.ndarray, with_words: np.ndarray, shift: float = 0.0) -> np.ndarray:
    """The mean log-odds of two probabilities of the same leads, moved by ``shift``: a lead
    is likely only as far as both views agree. The language-free model trusts e5's reading
    of the need; the words-and-concepts model asks the vendor's English to share what a
    translation keeps (acronyms, names, a concept's phrases), which is little, so alone it
    shows few leads; averaged, a lead that only the text signal finds is shown less surely."""
    a, b = (np.clip(np.asarray(p, np.float64), 1e-9, 1 - 1e-9) for p in (language_free, with_words))
    z = (np.log(a / (1.0 - a)) + np.log(b / (1.0 - b))) / 2 + shift
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def expected_value(probability: np.ndarray, in_market: np.ndarray) -> np.ndarray:
    """What each lead is worth to the buyer: the chance it solves the need times the gain."""
    return probability * np.where(in_market > 0, GAIN_IN_MARKET, GAIN_ELSEWHERE)
