"""This machine's cache of the sentence vectors, assembled while ``portal index rebuild``
replaces the generation."""

from __future__ import annotations

import shutil

import pytest
from flask import Flask
from matching.feedback_factories import build_market
from matching.test_record_vectors import word_count_encode

from portal.matching.store import snapshot
from portal.matching.store.queue import update_vectors
from portal.matching.store.snapshot import assemble_vectors, vectors_done
from portal.search.index import IndexStore


def _rebuild(runner) -> None:
    result = runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"])
    assert result.exit_code == 0, result.output


def test_a_generation_removed_mid_assembly_ends_it_without_an_error(
    app: Flask, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the worker died with FileNotFoundError when a rebuild swapped in a new
    generation and removed the one it was writing vectors into (found by the load test)."""
    build_market()
    _rebuild(runner)
    generation = IndexStore.from_app().current_generation()
    assert generation is not None
    update_vectors(word_count_encode)
    check = snapshot._check_side

    def check_while_a_rebuild_removes_the_generation(*args, **kwargs):
        found = check(*args, **kwargs)
        shutil.rmtree(generation)  # what remove_stale_generations does after a swap
        return found

    monkeypatch.setattr(snapshot, "_check_side", check_while_a_rebuild_removes_the_generation)
    progress = assemble_vectors(generation)
    assert progress.done == 0
    assert not generation.exists()


def test_a_missing_file_in_a_live_generation_is_still_an_error(
    app: Flask, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_market()
    _rebuild(runner)
    generation = IndexStore.from_app().current_generation()
    assert generation is not None
    update_vectors(word_count_encode)
    check = snapshot._check_side

    def check_while_the_snapshot_folder_is_lost(*args, **kwargs):
        found = check(*args, **kwargs)
        shutil.rmtree(generation / "leads")
        return found

    monkeypatch.setattr(snapshot, "_check_side", check_while_the_snapshot_folder_is_lost)
    with pytest.raises(FileNotFoundError):
        assemble_vectors(generation)
    assert vectors_done(generation, "needs") == 0
