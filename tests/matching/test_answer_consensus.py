"""Which capability of a lead answers the need: its own match, and what the need's other
most probable vendors offer (``Consensus``)."""

from __future__ import annotations

import numpy as np

from portal.matching.pieces import Consensus, best_answer, unit_rows


def _basis(*rows: list[float]) -> np.ndarray:
    vectors = np.zeros((len(rows), 384), dtype=np.float32)
    for i, row in enumerate(rows):
        vectors[i, : len(row)] = row
    return unit_rows(vectors)


# Three directions: the need's core problem (0), a background sentence of the need (1),
# and something else (2).
# The ask answers the core capability clearly better than the title (by more than
# pieces.TITLE_PREFERENCE), so it, not the title, is the part quoted.
NEED = _basis([0.6, 0, 0.8], [0, 1, 0], [0.8, 0, 0.6])  # title, background, ask
# company line, a side line that echoes the background, the capability for the core
VENDOR = _basis([0, 0, 1], [0, 1, 0], [1, 0, 0])


def test_without_a_consensus_a_background_sentence_can_pull_the_choice() -> None:
    piece, part, _ = best_answer(NEED, VENDOR)
    assert (piece, part) == (1, 1)  # the side line, answering the background sentence


def test_what_the_other_good_vendors_offer_chooses_the_capability_for_the_core() -> None:
    others = Consensus(
        {
            7: (_basis([1, 0, 0.1])[0], 0.9),
            8: (_basis([1, 0, 0.2])[0], 0.8),
        }
    )
    piece, part, similarity = best_answer(NEED, VENDOR, consensus=others.without(1))
    assert piece == 2
    assert part == 2  # the part of the need it answers is still read from the vectors
    assert similarity == float(NEED[2] @ VENDOR[2])


def test_a_vendor_is_never_its_own_evidence() -> None:
    alone = Consensus({1: (_basis([1, 0, 0])[0], 0.9)})
    assert alone.without(1) is None
    assert best_answer(NEED, VENDOR, consensus=alone.without(1)) == best_answer(NEED, VENDOR)


def test_the_consensus_weighs_the_more_probable_vendors_more_and_keeps_three() -> None:
    found = Consensus(
        {
            1: (_basis([1, 0, 0])[0], 0.9),
            2: (_basis([0, 1, 0])[0], 0.6),
            3: (_basis([0, 0, 1])[0], 0.3),
            4: (_basis([0, 0, 0, 1])[0], 0.2),
        }
    )
    direction = found.without(99)
    assert direction is not None
    assert direction[0] > direction[1] > direction[2] > 0
    assert direction[3] == 0  # the fourth is beyond the three compared with
    # a weighted mean of unit vectors that disagree is shorter than one
    assert float(np.linalg.norm(direction)) < 1
    # leaving one out brings in the next
    assert found.without(1)[3] > 0  # type: ignore[index]
