"""Sentence vectors computed while ``portal index rebuild`` replaces the generation."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from flask import Flask
from matching.feedback_factories import build_market

from portal.matching.store import VECTOR_DIM, complete_vectors, vectors_done
from portal.search.index import IndexStore


def _rebuild(runner) -> None:
    result = runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"])
    assert result.exit_code == 0, result.output


def test_a_generation_removed_mid_pass_ends_the_pass_without_an_error(app: Flask, runner) -> None:
    """Regression: the worker died with FileNotFoundError when a rebuild swapped in a new
    generation and removed the one it was writing vectors into (found by the load test)."""
    build_market()
    _rebuild(runner)
    generation = IndexStore.from_app().current_generation()
    assert generation is not None

    def encode_while_a_rebuild_removes_the_generation(texts: list[str]) -> np.ndarray:
        shutil.rmtree(generation)  # what remove_stale_generations does after a swap
        return np.zeros((len(texts), VECTOR_DIM), dtype=np.float32)

    progress = complete_vectors(generation, encode_while_a_rebuild_removes_the_generation)
    assert progress.done == 0
    assert not generation.exists()


def test_a_missing_file_in_a_live_generation_is_still_an_error(app: Flask, runner) -> None:
    build_market()
    _rebuild(runner)
    generation = IndexStore.from_app().current_generation()
    assert generation is not None

    def encode_while_the_snapshot_folder_is_lost(texts: list[str]) -> np.ndarray:
        shutil.rmtree(generation / "leads")
        return np.zeros((len(texts), VECTOR_DIM), dtype=np.float32)

    with pytest.raises(FileNotFoundError):
        complete_vectors(generation, encode_while_the_snapshot_folder_is_lost)
    assert vectors_done(generation, "needs") == 0
