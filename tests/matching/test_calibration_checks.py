"""What benchmarks/fit_calibration.py measures beside its fits: a need whose solvers the
catalogue lacks (every labelled need has some, so a model may learn that the best
candidate is likely one), and crowding, tried for the multilingual model and not shipped."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from portal.matching.calibration import Model

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "fit_calibration.py"


@pytest.fixture(scope="module")
def fit_calibration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fit_calibration", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fit_calibration"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _need(fit_calibration: ModuleType) -> object:
    cover = np.asarray([0.6, 0.5, 0.4, 0.1], dtype=np.float32)
    return fit_calibration.Need(
        "n-1",
        ["solver", "near-miss", "second-solver", "unrelated"],
        {"cover": cover, "cover_gap": cover - cover.max()},
        np.zeros(4, dtype=np.float32),
        np.asarray([3, 1, 2, 0]),
        {"solver": 3, "near-miss": 1, "second-solver": 2},
        np.eye(4, dtype=np.float32),
        "vi",
    )


def test_without_solvers_the_best_left_leads_the_pool(fit_calibration: ModuleType) -> None:
    need = _need(fit_calibration).without_solvers()
    assert need.refs == ["near-miss", "unrelated"]
    assert need.labels == {"near-miss": 1}
    assert need.columns["cover_gap"].tolist() == pytest.approx([0.0, -0.4])
    assert len(need.vectors) == len(need.market) == len(need.grades) == 2


def test_a_model_that_trusts_the_gap_to_the_best_shows_a_wrong_lead(
    fit_calibration: ModuleType,
) -> None:
    """The best candidate left always has a gap of 0: a model reading only the gap calls
    it likely however poor its match, and so shows a lead that solves nothing."""
    by_gap = Model(("cover_gap",), np.zeros(1), np.ones(1), np.asarray([10.0]), 1.0)
    by_cover = Model(("cover",), np.zeros(1), np.ones(1), np.asarray([10.0]), -6.0)
    needs = [_need(fit_calibration)]
    shown = fit_calibration.shown_without_solvers
    assert shown(fit_calibration.Stages(by_gap), needs, 0.35) == (1.0, 1.0)
    assert shown(fit_calibration.Stages(by_cover), needs, 0.35) == (0.0, 0.0)


def test_crowding_counts_the_likely_vendors_at_the_top_and_not_the_tail(
    fit_calibration: ModuleType,
) -> None:
    """One value per need; more likely vendors at the top raise it, a longer tail of
    unlikely ones (a bigger catalogue) does not."""
    crowding = fit_calibration.crowding
    clear = np.asarray([0.9, 0.1, 0.05, 0.01], dtype=np.float32)
    crowded = np.asarray([0.9, 0.8, 0.8, 0.7], dtype=np.float32)
    assert len(set(crowding(clear).tolist())) == 1
    assert crowding(crowded)[0] > crowding(clear)[0]
    tail = np.concatenate([clear, np.zeros(5000, dtype=np.float32)])
    assert crowding(tail)[0] == crowding(clear)[0] and len(crowding(tail)) == len(tail)
