"""Vectors of records changed since the leads snapshot, stored once in the database and
read by every process, so that an edit costs one record's embedding, once, outside any
page (issue: a leads engine that stays fast as the portal is used)."""

from __future__ import annotations

import numpy as np
from flask import Flask
from matching.feedback_factories import build_market
from matching.test_record_vectors import compute_all, word_count_encode

from portal.extensions import db
from portal.matching.concepts import thesaurus
from portal.matching.models import LeadVector
from portal.matching.profiles import vendor_profiles
from portal.matching.services import LeadsModel
from portal.matching.store.queue import update_vectors
from portal.matching.store.snapshot import Snapshot, attach_vectors, live_snapshot
from portal.matching.store.vectors import embed_pieces, stored_pieces
from portal.organizations.models import Organization
from portal.organizations.services import add_capability


def _ready(runner) -> Snapshot:
    """A market indexed, with every snapshot vector computed and attached."""
    build_market()
    result = runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    generation, snapshot = live_snapshot()
    assert compute_all()[1].complete
    assert attach_vectors(generation, snapshot) == (True, True)
    return snapshot


def test_an_edited_vendors_vectors_are_stored_once_and_read_without_an_encoder(
    app: Flask, runner
) -> None:
    snapshot = _ready(runner)
    vendor_id = int(snapshot.vendors.ids[0])
    before = db.session.get(LeadVector, ("vendor", vendor_id))
    assert before is not None
    old_print = before.fingerprint

    organization = db.session.get(Organization, vendor_id)
    add_capability(organization, title="Flood sensors", description="River level gauges.")
    db.session.commit()

    assert update_vectors(word_count_encode).records == [("vendor", vendor_id)]
    assert update_vectors(word_count_encode).embedded == 0  # once: the next pass has nothing
    profile = vendor_profiles([vendor_id])[vendor_id]
    stored = stored_pieces("vendor", [profile])[vendor_id]
    expected = embed_pieces(word_count_encode, [profile.pieces]).vectors
    np.testing.assert_allclose(stored, expected, atol=2e-3)
    db.session.expire_all()
    assert db.session.get(LeadVector, ("vendor", vendor_id)).fingerprint != old_print

    # A process that meets the change reads the stored vectors: no encoder at all.
    model = LeadsModel.from_snapshot(snapshot, thesaurus())
    assert model.vendors.changes is not None and model.vendors.has_pieces
    np.testing.assert_allclose(model.vendors.pieces_of(vendor_id), expected, atol=2e-3)


def test_vectors_of_an_older_text_are_never_used(app: Flask, runner) -> None:
    snapshot = _ready(runner)
    vendor_id = int(snapshot.vendors.ids[0])
    organization = db.session.get(Organization, vendor_id)
    add_capability(organization, title="Flood sensors", description="River level gauges.")
    db.session.commit()
    update_vectors(word_count_encode)
    add_capability(organization, title="Air sensors", description="Particulate monitors.")
    db.session.commit()

    profile = vendor_profiles([vendor_id])[vendor_id]
    assert stored_pieces("vendor", [profile]) == {}  # stored for the text before
    # Until the workers store vectors of its current text, the vendor gets one neutral
    # piece (its semantic signals are 0): never the older text's vectors, and the other
    # vendors keep theirs, so the side's ranking does not turn lexical.
    model = LeadsModel.from_snapshot(snapshot, thesaurus())
    assert model.vendors.has_pieces
    neutral = model.vendors.pieces_of(vendor_id)
    assert neutral is not None and len(neutral) == 1
    np.testing.assert_allclose(neutral[0], model.vendors.mean, atol=1e-6)
    others = [int(i) for i in snapshot.vendors.ids if int(i) != vendor_id]
    assert all(len(model.vendors.pieces_of(i)) > 1 for i in others)
    assert update_vectors(word_count_encode).records == [("vendor", vendor_id)]  # replaced
    assert vendor_id in stored_pieces("vendor", [profile])
    rows = db.session.query(LeadVector).filter_by(kind="vendor", record_id=vendor_id).count()
    assert rows == 1
