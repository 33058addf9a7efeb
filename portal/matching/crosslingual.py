"""Leads for needs not written in English: the multilingual space.

A need in Vietnamese or Thai shares no words with English vendor profiles, and MiniLM
reads English only, so its lexical, thesaurus and sentence signals say almost nothing.
Such a need is ranked in a second vector space: its pieces and every vendor's, embedded
by multilingual-e5-small (``portal.matching.multilingual``), where a sentence lands near
its English translation. The workers compute those vectors into ``lead_vectors`` (kinds
``e5need`` and ``e5vendor``, ``portal.matching.store``) only once such a need exists;
this module reads them, never runs the encoder, and builds what the ranking reads: the
vendor side's candidate set with e5 pieces in place of MiniLM's, on the same rows, so the
same signals (semantic, cover, feedback) and the same reasons work in that space.

Centring. e5's vectors share a large common direction; each side's mean piece is
subtracted before pooling (without it e5 loses half its quality: docs/languages.md). The
vendor side has every vendor; the need side may hold one Thai need, whose own mean is
itself. So the need side's mean is blended with a reference: the mean of the thesaurus's
problem phrases embedded as queries (written by the worker beside the vectors, kind
``e5ref``), counted as ``REFERENCE_PIECES`` pieces.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from portal.extensions import db
from portal.matching.concepts import CONCEPTS_FILE
from portal.matching.models import LeadVector
from portal.matching.pieces import PieceVectors
from portal.matching.profiles import NeedProfile, VendorProfile
from portal.matching.ranking import Candidates, CandidateSet
from portal.matching.store import (
    VECTOR_DIM,
    _batches,
    _fingerprints_path,
    _signed,
    fingerprint,
    multilingual_needs_exist,
    process_cache,
    recipe_for,
    save_pieces,
    stored_pieces,
    stored_vectors,
    vectors_version,
)

if TYPE_CHECKING:
    from portal.matching.live import LiveModel

MULTILINGUAL = "multilingual"  # ranking.Query.space of a need ranked here

REFERENCE_KIND = "e5ref"
REFERENCE_ID = 0
# How many need pieces the reference mean counts as: below a few dozen needs not in
# English, the need side's mean is mostly the reference; above, mostly their own.
REFERENCE_PIECES = 120


@functools.cache
def reference_phrases() -> tuple[str, ...]:
    """The thesaurus's problem phrases: how cities put problems, in the project's own text."""
    with CONCEPTS_FILE.open("rb") as handle:
        raw = tomllib.load(handle)["concept"]
    return tuple(phrase for entry in raw for phrase in entry.get("problem", ()))


@dataclass
class _Reference:
    """A stand-in profile for the reference row (``save_pieces`` reads id and pieces)."""

    id: int
    pieces: list[str]


def ensure_reference(e5: Any) -> bool:
    """Write the reference mean (one vector) if it is missing or of another recipe or
    thesaurus; the caller commits. Whether it was written."""
    phrases = list(reference_phrases())
    wanted = _signed(fingerprint(phrases))
    stored = db.session.execute(
        sa.select(LeadVector.fingerprint, LeadVector.recipe).where(
            LeadVector.kind == REFERENCE_KIND, LeadVector.record_id == REFERENCE_ID
        )
    ).first()
    if stored is not None and tuple(stored) == (wanted, recipe_for(REFERENCE_KIND)):
        return False
    mean = e5.queries(phrases).mean(axis=0, keepdims=True).astype(np.float32)
    pieces = PieceVectors(mean, np.asarray([0, 1], dtype=np.int64))
    save_pieces(REFERENCE_KIND, [_Reference(REFERENCE_ID, phrases)], pieces)  # type: ignore[list-item]
    return True


@dataclass
class StoredSpace:
    """What a process keeps of one kind's stored vectors: per record, the fingerprint of
    the text they were made from, how many pieces, and their mean piece (float16), read
    again only where a fingerprint changed. The pieces themselves stay in the store: a
    query reads those of its pool (``StoredPieces``). At 100,000 vendors that is 77 MB in
    each process instead of 215 MB of pieces (and the page cache's copy of the rows)."""

    kind: str
    rows: dict[int, tuple[int, int, np.ndarray]] = field(default_factory=dict)
    version: Any = None

    def refresh(self, version: Any) -> bool:
        """Bring the summary up to date if the store moved since; whether anything changed."""
        if version == self.version:
            return False
        self.version = version
        listing = dict(
            db.session.execute(
                sa.select(LeadVector.record_id, LeadVector.fingerprint).where(
                    LeadVector.kind == self.kind, LeadVector.recipe == recipe_for(self.kind)
                )
            ).all()
        )
        gone = set(self.rows) - set(listing)
        for record_id in gone:
            del self.rows[record_id]
        stale = [i for i, stamp in listing.items() if self.rows.get(i, (None,))[0] != stamp]
        for ids in _batches(stale):
            found = db.session.execute(
                sa.select(LeadVector.record_id, LeadVector.fingerprint, LeadVector.vectors).where(
                    LeadVector.kind == self.kind,
                    LeadVector.recipe == recipe_for(self.kind),
                    LeadVector.record_id.in_(ids),
                )
            )
            for record_id, stamp, blob in found:
                vectors = np.frombuffer(blob, dtype=np.float16).reshape(-1, VECTOR_DIM)
                mean = vectors.astype(np.float32).mean(axis=0).astype(np.float16)
                self.rows[record_id] = (stamp, len(vectors), mean)
        return bool(gone or stale)

    def summary(self, record_id: int, stamp: int | None) -> tuple[int, np.ndarray] | None:
        """(pieces, mean piece) of the record, if stored for the text ``stamp`` names."""
        found = self.rows.get(record_id)
        if found is None or stamp is None or found[0] != stamp:
            return None
        return found[1], found[2]


class StoredPieces:
    """The piece vectors of a side's rows, read from the store when a query asks for some
    (its pool's, for cover; a lead's, for its reason): a few hundred rows, by primary key.
    A row whose stored vectors are not of its current text gets the neutral piece."""

    def __init__(self, kind: str, ids: np.ndarray, stamps: list[int | None], neutral: np.ndarray):
        self.kind = kind
        self.ids = ids
        self.stamps = stamps
        self.neutral = neutral[None, :].astype(np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def _read(self, rows: np.ndarray) -> list[np.ndarray]:
        wanted = {int(self.ids[row]): self.stamps[row] for row in rows.tolist()}
        found = stored_vectors(self.kind, wanted)
        return [found.get(int(self.ids[row]), self.neutral) for row in rows.tolist()]

    def of(self, row: int) -> np.ndarray:
        return self._read(np.asarray([row]))[0]

    def take(self, rows: np.ndarray) -> PieceVectors:
        return PieceVectors.of_records(self._read(np.asarray(rows, dtype=np.int64)))


@dataclass
class MultilingualSpace:
    """What the ranking reads for needs not in English: the vendors' candidate set with
    e5 signals, and the need side's mean to centre a need's e5 pieces on."""

    vendors: CandidateSet
    need_mean: np.ndarray
    # the need side with e5 signals, for a vendor's "needs for you", and the ids of the
    # needs ranked here (those with e5 vectors of their current text)
    need_side: CandidateSet | None = None
    need_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _weighted_mean(
    summaries: list[tuple[int, np.ndarray]],
    extra: float = 0.0,
    extra_mean: np.ndarray | None = None,
) -> np.ndarray:
    """The mean piece over records summarised as (pieces, mean piece), every piece
    counting once; ``extra`` more pieces at ``extra_mean`` (the reference)."""
    total = np.zeros(VECTOR_DIM, dtype=np.float64)
    count = 0.0
    for pieces, mean in summaries:
        total += pieces * mean.astype(np.float64)
        count += pieces
    if extra_mean is not None and extra > 0:
        total += extra * extra_mean.astype(np.float64)
        count += extra
    return (total / max(count, 1.0)).astype(np.float32)


@dataclass
class SideSource:
    """One side of the live model, as the multilingual space reads it: its candidate
    rows, the fingerprints of the snapshot rows' texts, and the profiles of the rows
    changed since (whose current texts' fingerprints are computed)."""

    rows: CandidateSet
    snapshot_prints: np.ndarray | None
    change_profiles: dict[int, VendorProfile] | dict[int, NeedProfile]


@dataclass
class _Found:
    """Each row's fingerprint (None: unknown) and stored summary (None: none), for the
    snapshot's rows and the changed rows."""

    snapshot_stamps: list[int | None]
    snapshot: list[tuple[int, np.ndarray] | None]
    change_stamps: list[int | None]
    changes: list[tuple[int, np.ndarray] | None]

    def present(self) -> list[tuple[int, np.ndarray]]:
        return [found for found in (*self.snapshot, *self.changes) if found is not None]


def _side_found(source: SideSource, store: StoredSpace, *, complete: bool) -> _Found | None:
    """What the store has for each row of the side; None if ``complete`` and a live
    snapshot row has nothing for its snapshot text."""
    snapshot = source.rows.snapshot
    prints = source.snapshot_prints
    if prints is None or len(prints) != len(snapshot):
        return None
    stamps: list[int | None] = [_signed(int(value)) for value in prints]
    found = [store.summary(int(i), stamp) for i, stamp in zip(snapshot.ids, stamps, strict=True)]
    if complete:
        alive = source.rows.alive
        if any(f is None and alive[row] for row, f in enumerate(found)):
            return None
    change_stamps: list[int | None] = []
    if source.rows.changes is not None:
        for record_id in source.rows.changes.ids:
            profile = source.change_profiles.get(int(record_id))
            change_stamps.append(
                _signed(fingerprint(profile.pieces)) if profile is not None else None
            )
        changed = [
            store.summary(int(i), stamp)
            for i, stamp in zip(source.rows.changes.ids, change_stamps, strict=True)
        ]
    else:
        changed = []
    return _Found(stamps, found, change_stamps, changed)


def _semantic(found: list[tuple[int, np.ndarray] | None], mean: np.ndarray) -> np.ndarray:
    """Each row's pooled vector of centred pieces: the mean piece minus the side's mean,
    made unit length (the same as pooling the centred pieces); 0 for rows with none."""
    out = np.zeros((len(found), VECTOR_DIM), dtype=np.float32)
    for row, summary in enumerate(found):
        if summary is not None:
            out[row] = summary[1].astype(np.float32) - mean
    # in place: a second 154 MB array at 100,000 vendors raised the process's peak
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


def _spaced(source: SideSource, found: _Found, mean: np.ndarray, kind: str) -> CandidateSet:
    """The side's rows with e5 signals; rows without vectors are neutral."""
    snapshot = replace(
        source.rows.snapshot,
        pieces=StoredPieces(kind, source.rows.snapshot.ids, found.snapshot_stamps, mean),
        piece_mean=mean,
        semantic=_semantic(found.snapshot, mean),
    )
    changes: Candidates | None = source.rows.changes
    if changes is not None:
        changes = replace(
            changes,
            pieces=StoredPieces(kind, changes.ids, found.change_stamps, mean),
            semantic=_semantic(found.changes, mean),
        )
    return CandidateSet(snapshot, changes, source.rows.alive.copy())  # type: ignore[arg-type]


def build_space(
    vendors: SideSource,
    needs: SideSource,
    vendor_vectors: StoredSpace,
    need_vectors: StoredSpace,
    reference: np.ndarray | None,
) -> MultilingualSpace | None:
    """The multilingual space over the live rows of both sides, or None until every
    vendor of the snapshot still a candidate has e5 vectors of its snapshot text (as in
    the English space, a side's semantic signals count only once it is complete).
    Vendors changed since the snapshot whose vectors are still being computed are
    neutral; a vector of an older text is never used. On the need side only needs with
    e5 vectors of their current text are ranked here (``need_ids``); the others are
    ranked in the English space."""
    if reference is None and not need_vectors.rows:
        return None
    vendor_found = _side_found(vendors, vendor_vectors, complete=True)
    if vendor_found is None or not vendor_found.present():
        return None
    vendor_side = _spaced(vendors, vendor_found, _weighted_mean(vendor_found.present()), "e5vendor")
    summaries = [(pieces, mean) for _, pieces, mean in need_vectors.rows.values()]
    need_mean = _weighted_mean(summaries, REFERENCE_PIECES, reference)
    need_found = _side_found(needs, need_vectors, complete=False)
    need_side, need_ids = None, np.zeros(0, dtype=np.int64)
    if need_found is not None:
        need_side = _spaced(needs, need_found, need_mean, "e5need")
        parts = [needs.rows.snapshot.ids[[f is not None for f in need_found.snapshot]]]
        if needs.rows.changes is not None:
            parts.append(needs.rows.changes.ids[[f is not None for f in need_found.changes]])
        need_ids = np.concatenate(parts).astype(np.int64)
    return MultilingualSpace(vendor_side, need_mean, need_side, need_ids)


def stored_reference() -> np.ndarray | None:
    """The reference mean the worker wrote for the current recipe, if any."""
    blob = db.session.scalar(
        sa.select(LeadVector.vectors).where(
            LeadVector.kind == REFERENCE_KIND,
            LeadVector.record_id == REFERENCE_ID,
            LeadVector.recipe == recipe_for(REFERENCE_KIND),
        )
    )
    if blob is None:
        return None
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)[:VECTOR_DIM]


def need_pieces(need: NeedProfile) -> np.ndarray | None:
    """The need's e5 pieces, if stored for its current text (one row, by key)."""
    return stored_pieces("e5need", [need]).get(need.id)


@dataclass
class _ProcessCopy:
    """One generation's multilingual space in this process, and what it was made from."""

    vendors: StoredSpace = field(default_factory=lambda: StoredSpace("e5vendor"))
    needs: StoredSpace = field(default_factory=lambda: StoredSpace("e5need"))
    # (vectors version, vendor candidate set, need candidate set)
    made_from: tuple[Any, Any, Any] | None = None
    space: MultilingualSpace | None = None


def multilingual_space(generation: Path, live: LiveModel) -> MultilingualSpace | None:
    """This process's multilingual space over the live vendor side, brought up to date
    with the store (only changed rows are read again); None while no need is in it or
    the vendors' e5 vectors are incomplete. Called only for a need ranked here."""
    if not multilingual_needs_exist():
        return None
    copies: dict[Path, _ProcessCopy] = process_cache.multilingual
    copy = copies.setdefault(generation, _ProcessCopy())
    version = vectors_version()
    copy.vendors.refresh(version)
    copy.needs.refresh(version)
    vendor_set, need_set = live.vendors.candidate_set(), live.needs.candidate_set()
    made_from = copy.made_from
    if (
        made_from is None
        or made_from[0] != version
        or made_from[1] is not vendor_set
        or made_from[2] is not need_set
    ):
        copy.space = None  # not two spaces in memory while the next one is built

        def prints(name: str) -> np.ndarray | None:
            path = _fingerprints_path(generation, name)
            return np.load(path) if path.is_file() else None

        copy.space = build_space(
            SideSource(vendor_set, prints("vendors"), live.vendors.profiles),
            SideSource(need_set, prints("needs"), live.needs.profiles),
            copy.vendors,
            copy.needs,
            stored_reference(),
        )
        copy.made_from = (version, vendor_set, need_set)
    return copy.space
