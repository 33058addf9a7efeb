"""The leads snapshot: both sides analysed once and saved beside the search index.

``portal index rebuild`` writes a snapshot into the new index generation; a process
loads it in a fraction of a second instead of analysing 100,000 profiles. Records
changed since the snapshot are read back through the index events and analysed on the
snapshot's scale, so leads follow every edit without waiting for a rebuild.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from portal.db import utc_now
from portal.extensions import db
from portal.matching.concepts import Thesaurus, thesaurus
from portal.matching.profiles import (
    NeedProfile,
    VendorProfile,
    need_profiles,
    open_needs,
    vendor_profiles,
    verified_vendors,
)
from portal.matching.ranking import NEVER, Candidates, CandidateSet
from portal.needs.models import Need
from portal.search.index import IndexState, IndexStore, read_state
from portal.search.models import IndexEvent
from portal.search.sync import events_since

SNAPSHOT_FOLDER = "leads"

Progress = Callable[[int], None]


def _closes(need: NeedProfile) -> int:
    return need.closes_on.toordinal() if need.closes_on else NEVER


def vendor_candidates(
    vendors: list[VendorProfile], thes: Thesaurus, base: Candidates | None = None
) -> Candidates:
    return Candidates.build(
        [v.id for v in vendors],
        [v.text for v in vendors],
        [v.sectors for v in vendors],
        [v.markets for v in vendors],
        thes,
        base=base,
    )


def need_candidates(
    needs: list[NeedProfile], thes: Thesaurus, base: Candidates | None = None
) -> Candidates:
    return Candidates.build(
        [n.id for n in needs],
        [n.text for n in needs],
        [n.sectors for n in needs],
        [[n.country] for n in needs],
        thes,
        base=base,
        closes=[_closes(n) for n in needs],
    )


@dataclass
class Snapshot:
    vendors: Candidates
    needs: Candidates
    state: IndexState


def build_snapshot(generation: Path, state: IndexState, progress: Progress | None = None) -> None:
    """Analyse every verified vendor and open need into ``generation/leads``.

    ``state`` is the event position read before the records, so that whatever changes
    while this runs is picked up as a change since the snapshot.
    """
    thes = thesaurus()
    vendors: list[VendorProfile] = []
    for vendor in verified_vendors():
        vendors.append(vendor)
        if progress is not None:
            progress(1)
    needs = list(open_needs())
    vendor_side = vendor_candidates(vendors, thes)
    need_side = need_candidates(needs, thes)
    del vendors, needs
    tmp = generation / f"{SNAPSHOT_FOLDER}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    vendor_side.save(tmp, "vendors")
    need_side.save(tmp, "needs")
    meta = {
        "last_event": state.last_event,
        "horizon": state.horizon,
        "vendors": len(vendor_side),
        "needs": len(need_side),
        "built_at": utc_now().isoformat(),
    }
    (tmp / "meta.json").write_text(json.dumps(meta))
    target = generation / SNAPSHOT_FOLDER
    try:
        os.rename(tmp, target)
    except OSError:  # another process built it first: theirs is as good as ours
        shutil.rmtree(tmp, ignore_errors=True)


def load_snapshot(generation: Path) -> Snapshot | None:
    folder = generation / SNAPSHOT_FOLDER
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except FileNotFoundError:
        return None
    return Snapshot(
        vendors=Candidates.load(folder, "vendors"),
        needs=Candidates.load(folder, "needs"),
        state=IndexState(meta["last_event"], meta["horizon"]),
    )


@dataclass
class Changes:
    """What changed since the snapshot, analysed: new rows, and ids to mask."""

    vendors: Candidates | None
    vendor_ids: set[int]
    vendor_profiles: dict[int, VendorProfile]
    needs: Candidates | None
    need_ids: set[int]
    need_profiles: dict[int, NeedProfile]


def changes_since(snapshot: Snapshot, thes: Thesaurus) -> Changes:
    events, _ = events_since(snapshot.state)
    vendor_ids = {record for _, kind, record in events if kind == "vendor"}
    need_ids = {record for _, kind, record in events if kind == "need"}
    buyer_ids = {record for _, kind, record in events if kind == "buyer"}
    if buyer_ids:
        need_ids.update(db.session.scalars(sa.select(Need.id).where(Need.buyer_id.in_(buyer_ids))))
    vendors = vendor_profiles(sorted(vendor_ids))
    needs = need_profiles(sorted(need_ids))
    vendor_rows = [vendors[i] for i in sorted(vendors)]
    need_rows = [needs[i] for i in sorted(needs)]
    return Changes(
        vendor_candidates(vendor_rows, thes, snapshot.vendors) if vendor_rows else None,
        vendor_ids,
        vendors,
        need_candidates(need_rows, thes, snapshot.needs) if need_rows else None,
        need_ids,
        needs,
    )


def candidate_set(
    snapshot: Candidates, changes: Candidates | None, changed: Iterable[int]
) -> CandidateSet:
    alive = ~np.isin(snapshot.ids, np.fromiter(changed, dtype=np.int64))
    return CandidateSet(snapshot, changes, alive)


class _Cache(threading.local):
    def __init__(self) -> None:
        self.snapshots: dict[Path, Snapshot] = {}
        self.models: dict[Path, tuple[int, object]] = {}


process_cache = _Cache()


def live_snapshot(store: IndexStore | None = None) -> tuple[Path, Snapshot]:
    """The snapshot of the live index generation, built on first use if it has none
    (a new portal, or an index rebuilt by an older version)."""
    store = store or IndexStore.from_app()
    ix = store.open()
    generation = store.current_generation()
    assert generation is not None
    cached = process_cache.snapshots.get(generation)
    if cached is not None:
        return generation, cached
    snapshot = load_snapshot(generation)
    if snapshot is None:
        with ix.searcher() as searcher:
            state = read_state(searcher)
        _, state = events_since(state)
        db.session.rollback()  # read the records in a snapshot taken after the position
        build_snapshot(generation, state)
        snapshot = load_snapshot(generation)
        assert snapshot is not None
    for old in list(process_cache.snapshots):
        if old != generation:
            del process_cache.snapshots[old]
            process_cache.models.pop(old, None)
    process_cache.snapshots[generation] = snapshot
    return generation, snapshot


def events_version() -> int:
    """Changes whenever anything searchable changes: every such change writes an event."""
    return db.session.scalar(sa.select(sa.func.max(IndexEvent.id))) or 0
