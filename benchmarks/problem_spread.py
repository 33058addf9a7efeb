"""Write the reference the ``specific`` feature reads: one direction per thesaurus concept.

    .venv/bin/python benchmarks/problem_spread.py --model-dir /tmp/models [--check]

Each concept's problem phrases (``portal/matching/concepts.toml``, the project's own text)
are embedded with the English space's encoder in float32 (the reference precision, so
that the file does not depend on the CPU it was written on), averaged and centred
(``portal.matching.spread.problem_directions``), and written to
``portal/matching/problem_spread.npz`` with the thesaurus's digest and the vector recipe.
Run it whenever the thesaurus or the encoder's tuning changes (a test says so), then
refit the calibration (``benchmarks/fit_calibration.py --write``). With ``--check`` it
writes nothing and prints how far the shipped file stands from a fresh one. No labelled
data is read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal.matching.concepts import (  # noqa: E402 - after the path is set
    concept_phrases,
    thesaurus,
)
from portal.matching.encoder import (  # noqa: E402
    PIECE_TOKENS,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    SentenceEncoder,
    model_dir,
    prepare_model,
)
from portal.matching.spread import SPREAD_FILE, ProblemSpread, problem_directions  # noqa: E402
from portal.matching.store.vectors import VECTOR_RECIPE  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True, help="where prepared models are kept")
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args()
    folder = model_dir()
    if folder is None:
        raise SystemExit("the sentence model package is not installed (make install)")
    cache = Path(args.model_dir)
    encoder = SentenceEncoder(
        prepare_model(cache, folder / WEIGHTS_FILE, "f32"),
        folder / TOKENIZER_FILE,
        max_tokens=PIECE_TOKENS,
        cache_dir=cache / "compiled",
        precision="f32",
    )
    fresh = ProblemSpread(
        problem_directions(concept_phrases("problem"), encoder.encode),
        thesaurus().digest,
        VECTOR_RECIPE,
    )
    print(f"{len(fresh.directions)} concepts with problem phrases, recipe {VECTOR_RECIPE}")
    if args.check:
        shipped = ProblemSpread.load()
        gap = float(np.abs(shipped.directions - fresh.directions).max())
        print(
            f"shipped file: thesaurus {'same' if shipped.thesaurus == fresh.thesaurus else 'OLD'}"
            f", recipe {'same' if shipped.recipe == fresh.recipe else 'OLD'}, largest"
            f" difference {gap:.4f}"
        )
        return 0
    fresh.save()
    print(f"wrote {SPREAD_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
