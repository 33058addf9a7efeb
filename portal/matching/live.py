"""Each process's leads matrices, kept up to date in place from the outbox.

A process loads the snapshot once (both sides analysed at the last rebuild, with their
piece vectors), then follows the outbox from the snapshot's position. Each new event
costs the records it names: they are read and put on the snapshot's scale and replace
their earlier rows; nothing else is analysed again, however many edits came before (the
first version re-read every change since the snapshot at each new event). Their analysed
terms and concepts come from the database (``lead_analyses``) where a worker stored those
of their current text; only a record no worker has reached yet is analysed here.

A changed record's sentence vectors come from the database (``lead_vectors``), computed
by the workers outside any page: this module never runs the encoder. Until a changed
record's vectors of its current text are stored, it gets one *neutral* piece, the side's
mean piece, which centres to nothing: its semantic signals are 0 and it ranks on its
words, concepts and sector. The other records keep their vectors, so one edit no longer
turns a whole side's ranking lexical, and no vector made from an older text is used.
Once the workers store the vectors (``store.vectors.vectors_version`` moves), the waiting
records read theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

import numpy as np

from portal.matching.concepts import Thesaurus
from portal.matching.pieces import PieceVectors
from portal.matching.profiles import NeedProfile, VendorProfile, need_profiles, vendor_profiles
from portal.matching.ranking import Candidates, CandidateSet
from portal.matching.store.snapshot import Snapshot, need_changes, records_named, vendor_changes
from portal.matching.store.vectors import stored_pieces
from portal.outbox import Position, events_since

P = TypeVar("P", VendorProfile, NeedProfile)


@dataclass
class LiveSide(Generic[P]):
    """One side: the snapshot's rows, and the records changed since, as analysed rows
    (``changes``) with their piece vectors."""

    kind: str  # "vendor" or "need"
    snapshot: Candidates
    load: Callable[[list[int]], dict[int, P]]
    # the changed records on the snapshot's scale, with the analyses stored for their
    # current texts (``store.vendor_changes``): only the records without one are analysed
    analyse: Callable[[list[P], Thesaurus, Candidates], Candidates]
    changed: set[int] = field(default_factory=set)  # every id changed since the snapshot
    changes: Candidates | None = None  # the changed records that are candidates now
    profiles: dict[int, P] = field(default_factory=dict)  # of the rows of ``changes``
    vectors: dict[int, np.ndarray] = field(default_factory=dict)  # current texts' only
    waiting: set[int] = field(default_factory=set)  # rows whose vectors are not stored yet
    _candidate_set: CandidateSet | None = None

    def apply(self, ids: set[int], thes: Thesaurus) -> None:
        """Bring the records ``ids`` (named by new events) up to date: one read and one
        analysis of just these records."""
        if not ids:
            return
        self.changed |= ids
        found = self.load(sorted(ids))
        if self.changes is not None:
            kept = ~np.isin(self.changes.ids, np.fromiter(ids, dtype=np.int64))
            self.changes = self.changes.rows(kept) if not kept.all() else self.changes
        for record_id in ids:
            self.profiles.pop(record_id, None)
            self.vectors.pop(record_id, None)
            self.waiting.discard(record_id)
        fresh = [found[i] for i in sorted(found)]
        if fresh:
            analysed = self.analyse(fresh, thes, self.snapshot)
            self.changes = analysed if self.changes is None else self.changes.stacked(analysed)
            self.profiles.update((p.id, p) for p in fresh)
            self.waiting.update(p.id for p in fresh)
        if self.changes is not None and not len(self.changes):
            self.changes = None
        self._candidate_set = None

    def read_vectors(self) -> bool:
        """Read the stored vectors of the rows still waiting; whether any arrived."""
        if not self.waiting or self.snapshot.pieces is None:
            return False
        found = stored_pieces(self.kind, [self.profiles[i] for i in sorted(self.waiting)])
        if not found:
            return False
        self.vectors.update(found)
        self.waiting -= set(found)
        self._candidate_set = None
        return True

    def candidate_set(self) -> CandidateSet:
        if self._candidate_set is None:
            alive = ~np.isin(self.snapshot.ids, np.fromiter(self.changed, dtype=np.int64))
            changes = self.changes
            if changes is not None:
                # the same matrices with this moment's pieces; CandidateSet.prepare derives
                # the semantic rows from them
                changes = replace(changes, pieces=self._pieces(changes.ids), semantic=None)
            self._candidate_set = CandidateSet(self.snapshot, changes, alive)
        return self._candidate_set

    def forget(self) -> None:
        """Make the candidate set again on next use (the snapshot's vectors arrived)."""
        self._candidate_set = None

    def _pieces(self, ids: np.ndarray) -> PieceVectors | None:
        if self.snapshot.pieces is None:
            return None
        if self.snapshot.piece_mean is None:
            self.snapshot.piece_mean = self.snapshot.pieces.mean()
        neutral = self.snapshot.piece_mean[None, :]
        return PieceVectors.of_records([self.vectors.get(int(i), neutral) for i in ids])


@dataclass
class LiveModel:
    """Both sides of one snapshot, and how far they have followed the outbox."""

    vendors: LiveSide[VendorProfile]
    needs: LiveSide[NeedProfile]
    position: Position
    # Events read last time. On PostgreSQL the outbox returns an event again when the
    # reading transaction wrote it itself (until that transaction ends) or when it was
    # committed while the read was made; it was applied with its record's state then, so
    # only unseen ones are applied.
    seen: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, snapshot: Snapshot) -> LiveModel:
        """At the snapshot's position, nothing followed yet."""
        return cls(
            LiveSide("vendor", snapshot.vendors, vendor_profiles, vendor_changes),
            LiveSide("need", snapshot.needs, need_profiles, need_changes),
            snapshot.state,
        )

    @classmethod
    def read(cls, snapshot: Snapshot, thes: Thesaurus) -> LiveModel:
        """The snapshot with every change since it applied and the vectors stored so far."""
        live = cls.of(snapshot)
        live.follow(thes)
        live.read_vectors()
        return live

    def follow(self, thes: Thesaurus) -> bool:
        """Apply the events past this model's position; whether any named a record."""
        events, self.position = events_since(self.position)
        fresh = [e for e in events if e[0] not in self.seen]
        self.seen = {e[0] for e in events}
        vendor_ids, need_ids = records_named(fresh)
        self.vendors.apply(vendor_ids, thes)
        self.needs.apply(need_ids, thes)
        return bool(vendor_ids or need_ids)

    def read_vectors(self) -> bool:
        arrived = self.vendors.read_vectors()
        return self.needs.read_vectors() or arrived

    def vectors_attached(self) -> None:
        """The snapshot's sides got their piece vectors: the changes' are wanted now."""
        self.vendors.forget()
        self.needs.forget()
        self.read_vectors()
