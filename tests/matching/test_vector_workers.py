"""Several worker processes share one database's vector queue: each claims its own chunks
(PostgreSQL ``FOR UPDATE SKIP LOCKED``), every record gets its vectors and none is embedded
twice (issue: vector work shareable by workers on several machines)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from flask import Flask
from matching.feedback_factories import need, organization
from matching.test_record_vectors import word_count_encode
from support import TEST_DB

from portal.extensions import db
from portal.matching.models import LeadVector
from portal.matching.profiles import need_profiles, vendor_profiles
from portal.matching.store.queue import feed_vector_queue, pending_vectors
from portal.matching.store.vectors import embed_pieces, stored_pieces
from portal.organizations.models import OrganizationKind

WORKER = Path(__file__).with_name("vector_worker_process.py")
TESTS = Path(__file__).parent.parent


def _corpus(vendors: int, needs: int) -> set[tuple[str, int]]:
    """Records whose pieces are all different, so a text names the record it came from."""
    made: set[tuple[str, int]] = set()
    for i in range(vendors):
        vendor = organization(
            OrganizationKind.VENDOR,
            f"Vendor {i}",
            country="US",
            capabilities=[(f"Service {i}", f"Sensors of kind {i} for streets and parks.")],
            commit=False,
        )
        made.add(("vendor", vendor.id))
    buyer = organization(OrganizationKind.BUYER, "Harbour City", country="VN", commit=False)
    for i in range(needs):
        made.add(("need", need(buyer, f"Need {i}", f"Problem number {i} of the city.").id))
    db.session.commit()
    return made


def _start(database_url: str, index_dir: Path, chunk: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.getcwd()])}
    return subprocess.Popen(  # noqa: S603 (our own script, run with this interpreter)
        [sys.executable, str(WORKER), database_url, str(index_dir), str(chunk)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.skipif(TEST_DB != "postgresql", reason="shared work needs PostgreSQL's row locks")
@pytest.mark.real_commits
def test_two_worker_processes_embed_every_record_once(
    committing_app: Flask, tmp_path: Path
) -> None:
    records = _corpus(vendors=36, needs=12)
    feed_vector_queue()
    assert pending_vectors() >= len(records)
    url = committing_app.config["SQLALCHEMY_DATABASE_URI"]
    if not isinstance(url, str):
        url = url.render_as_string(hide_password=False)
    workers = [_start(url, tmp_path / "index", chunk=5) for _ in range(2)]
    try:
        # Both hold a chunk at once before either goes on: they work side by side.
        assert [worker.stdout.readline().strip() for worker in workers] == ["holding"] * 2
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert [worker.returncode for worker in workers] == [0, 0]
    reports = [json.loads(output.strip().splitlines()[-1]) for output in outputs]

    embedded = Counter(tuple(record) for report in reports for record in report["records"])
    assert set(embedded) == records
    assert max(embedded.values()) == 1  # no record embedded twice
    assert all(report["records"] for report in reports)  # both did a share
    texts = Counter(text for report in reports for text in report["texts"])
    vendors = vendor_profiles([i for kind, i in records if kind == "vendor"])
    needs = need_profiles([i for kind, i in records if kind == "need"])
    pieces = [p for v in vendors.values() for p in v.pieces]
    pieces += [p for n in needs.values() for p in n.pieces]
    assert texts == Counter(pieces)  # every piece of every record, once

    db.session.rollback()
    assert pending_vectors() == 0
    stored = set(db.session.execute(sa.select(LeadVector.kind, LeadVector.record_id)))
    assert stored == records


@pytest.mark.skipif(TEST_DB != "sqlite", reason="what SQLite does with two workers")
@pytest.mark.real_commits
def test_two_worker_processes_on_sqlite_at_worst_repeat_work_never_store_wrong_vectors(
    committing_app: Flask, tmp_path: Path
) -> None:
    """SQLite has no row locks and one writer at a time; a chunk's claim is committed before
    its encoder runs, so a second worker may take the same records (here: both first chunks
    are the same, by construction). The vectors are still every record's own, once each in
    the table, and the queue ends empty."""
    records = _corpus(vendors=12, needs=4)
    feed_vector_queue()
    url = str(committing_app.config["SQLALCHEMY_DATABASE_URI"])
    workers = [_start(url, tmp_path / "index", chunk=5) for _ in range(2)]
    try:
        assert [worker.stdout.readline().strip() for worker in workers] == ["holding"] * 2
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert [worker.returncode for worker in workers] == [0, 0]
    reports = [json.loads(output.strip().splitlines()[-1]) for output in outputs]
    embedded = Counter(tuple(record) for report in reports for record in report["records"])
    assert set(embedded) == records  # some twice: duplicated work, allowed on SQLite

    db.session.rollback()
    assert pending_vectors() == 0
    for kind, load in (("vendor", vendor_profiles), ("need", need_profiles)):
        profiles = load([i for k, i in records if k == kind])
        found = stored_pieces(kind, list(profiles.values()))
        assert set(found) == set(profiles)
        for record_id, profile in profiles.items():
            expected = embed_pieces(word_count_encode, [profile.pieces]).vectors
            np.testing.assert_allclose(found[record_id], expected, atol=2e-3)
