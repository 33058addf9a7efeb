"""Each process keeps its leads matrices up to date in place from the outbox: an edit costs
the records it names, vectors arrive without an encoder in the page, and several
processes following the same events agree with a model read afresh."""

from __future__ import annotations

import numpy as np
from flask import Flask
from matching.feedback_factories import build_market
from matching.test_record_vectors import compute_all, word_count_encode

from portal.extensions import db
from portal.matching.concepts import thesaurus
from portal.matching.live import LiveModel
from portal.matching.profiles import NeedProfile
from portal.matching.services import LeadsModel, current_model
from portal.matching.store.queue import update_vectors
from portal.matching.store.snapshot import attach_vectors, live_snapshot
from portal.organizations.models import Organization, VerificationStatus
from portal.organizations.services import add_capability


def _ready(runner) -> object:
    market = build_market()
    result = runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    generation, snapshot = live_snapshot()
    assert compute_all()[1].complete
    assert attach_vectors(generation, snapshot) == (True, True)
    return market


def _counting(live: LiveModel) -> list[int]:
    """Record how many profiles each analysis of the vendors' side reads."""
    sizes: list[int] = []
    analyse = live.vendors.analyse

    def counted(profiles, thes, base):  # type: ignore[no-untyped-def]
        sizes.append(len(profiles))
        return analyse(profiles, thes, base)

    live.vendors.analyse = counted
    return sizes


def test_each_new_edit_costs_the_record_it_names_not_every_change_before(
    app: Flask, runner
) -> None:
    market = _ready(runner)
    _, snapshot = live_snapshot()
    live = LiveModel.of(snapshot)
    # On PostgreSQL the events of the market's own writes may come once more (they are
    # above the horizon the snapshot recorded): read them first.
    live.follow(thesaurus())
    sizes = _counting(live)
    for i, vendor in enumerate((market.lumenark, market.brightpath, market.aquasonic)):
        add_capability(vendor, title=f"Service {i}", description="Pole inspection rounds.")
        db.session.commit()
        assert live.follow(thesaurus())
    assert sizes == [1, 1, 1]  # one record each time, though three changed in all
    assert not live.follow(thesaurus())  # nothing new: nothing read

    # the same rows as a model that reads every change afresh
    followed = LeadsModel.from_live(live, thesaurus())
    fresh = LeadsModel.from_snapshot(snapshot, thesaurus())
    assert sorted(followed.vendors.ids) == sorted(fresh.vendors.ids)
    need = NeedProfile.of(market.lamps)
    assert [lead.vendor.id for lead in followed.vendors_for(need)] == [
        lead.vendor.id for lead in fresh.vendors_for(need)
    ]


def test_an_edit_waits_with_a_neutral_piece_then_reads_the_stored_vectors(
    app: Flask, runner
) -> None:
    market = _ready(runner)
    vendor_id = market.lumenark.id
    add_capability(market.lumenark, title="Flood sensors", description="River level gauges.")
    db.session.commit()

    model = current_model()  # a page: no encoder anywhere
    assert model.vendors.has_pieces  # the other vendors keep their vectors
    waiting = model.vendors.pieces_of(vendor_id)
    assert waiting is not None and len(waiting) == 1  # the neutral piece
    np.testing.assert_allclose(waiting[0], model.vendors.mean, atol=1e-6)

    assert update_vectors(word_count_encode).records == [("vendor", vendor_id)]  # a worker
    db.session.commit()
    model = current_model()  # no new event: the stored vectors are read all the same
    pieces = model.vendors.pieces_of(vendor_id)
    assert pieces is not None and len(pieces) == 3  # company line and two capabilities


def test_a_vendor_that_stops_being_verified_leaves_the_leads(app: Flask, runner) -> None:
    market = _ready(runner)
    need = NeedProfile.of(market.lamps)
    before = [lead.vendor.id for lead in current_model().vendors_for(need)]
    assert market.lumenark.id in before

    organization = db.session.get(Organization, market.lumenark.id)
    organization.status = VerificationStatus.REJECTED
    db.session.commit()
    after = [lead.vendor.id for lead in current_model().vendors_for(need)]
    assert market.lumenark.id not in after
    assert set(after) == set(before) - {market.lumenark.id}


def test_processes_following_the_same_events_agree(app: Flask, runner) -> None:
    market = _ready(runner)
    _, snapshot = live_snapshot()
    early, late = LiveModel.of(snapshot), LiveModel.of(snapshot)
    add_capability(market.brightpath, title="Solar lamps", description="Off-grid lighting.")
    db.session.commit()
    early.follow(thesaurus())  # one process saw the first edit on its own
    add_capability(market.aquasonic, title="Pump control", description="Variable drives.")
    db.session.commit()
    for live in (early, late):
        live.follow(thesaurus())
        live.read_vectors()
    need = NeedProfile.of(market.old_quarter)
    leads = [
        [(lead.vendor.id, round(lead.score, 6)) for lead in model.vendors_for(need)]
        for model in (
            LeadsModel.from_live(early, thesaurus()),
            LeadsModel.from_live(late, thesaurus()),
        )
    ]
    assert leads[0] == leads[1]
    assert early.position == late.position
