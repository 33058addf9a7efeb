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
from portal.matching.pieces import PieceVectors, offsets_of
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
    if stored is not None and tuple(stored) == (wanted, recipe_for("e5need")):
        return False
    mean = e5.queries(phrases).mean(axis=0, keepdims=True).astype(np.float32)
    pieces = PieceVectors(mean, np.asarray([0, 1], dtype=np.int64))
    save_pieces(REFERENCE_KIND, [_Reference(REFERENCE_ID, phrases)], pieces)  # type: ignore[list-item]
    return True


@dataclass
class StoredSpace:
    """A process's copy of one kind's stored vectors (id -> fingerprint, pieces), read
    again only where a fingerprint changed: a new vector costs its own row."""

    kind: str
    rows: dict[int, tuple[int, np.ndarray]] = field(default_factory=dict)
    version: Any = None

    def refresh(self, version: Any) -> bool:
        """Bring the copy up to date if the store moved since; whether anything changed."""
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
        changed = len(set(self.rows) - set(listing))
        for gone in set(self.rows) - set(listing):
            del self.rows[gone]
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
                self.rows[record_id] = (stamp, vectors.copy())  # float16, as stored
                changed += 1
        return bool(changed)

    def get(self, record_id: int, stamp: int) -> np.ndarray | None:
        """The record's pieces, if stored for the text whose fingerprint is ``stamp``."""
        found = self.rows.get(record_id)
        return found[1] if found is not None and found[0] == stamp else None


@dataclass
class MultilingualSpace:
    """What the ranking reads for needs not in English: the vendors' candidate set with
    e5 pieces, and the need side's mean to centre a need's e5 pieces on."""

    vendors: CandidateSet
    need_mean: np.ndarray
    needs: StoredSpace  # the needs' e5 pieces, by id and fingerprint
    # the need side with e5 pieces, for a vendor's "needs for you", and the ids of the
    # needs ranked here (those with e5 vectors of their current text)
    need_side: CandidateSet | None = None
    need_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _piece_mean(blocks: list[np.ndarray]) -> np.ndarray:
    """The mean piece of these records' pieces (every piece counts once)."""
    total = np.zeros(VECTOR_DIM, dtype=np.float64)
    count = 0
    for block in blocks:
        total += block.astype(np.float32).sum(axis=0)
        count += len(block)
    return (total / max(count, 1)).astype(np.float32)


def _need_mean(needs: StoredSpace, reference: np.ndarray | None) -> np.ndarray:
    pieces = [vectors for _, vectors in needs.rows.values()]
    total = np.zeros(VECTOR_DIM, dtype=np.float64)
    count = 0.0
    for block in pieces:
        total += block.astype(np.float32).sum(axis=0)
        count += len(block)
    if reference is not None:
        total += REFERENCE_PIECES * reference.astype(np.float64)
        count += REFERENCE_PIECES
    return (total / max(count, 1.0)).astype(np.float32)


@dataclass
class SideSource:
    """One side of the live model, as the multilingual space reads it: its candidate
    rows, the fingerprints of the snapshot rows' texts, and the profiles of the rows
    changed since (whose current texts' fingerprints are computed)."""

    rows: CandidateSet
    snapshot_prints: np.ndarray | None
    change_profiles: dict[int, VendorProfile] | dict[int, NeedProfile]


def _side_pieces(
    source: SideSource, vectors: StoredSpace, *, complete: bool
) -> tuple[list[np.ndarray | None], list[np.ndarray | None]] | None:
    """Each snapshot row's and each changed row's stored pieces of its current text (None
    where there are none); None if ``complete`` and a live snapshot row has none."""
    snapshot = source.rows.snapshot
    prints = source.snapshot_prints
    if prints is None or len(prints) != len(snapshot):
        return None
    rows: list[np.ndarray | None] = []
    for row, record_id in enumerate(snapshot.ids):
        found = vectors.get(int(record_id), _signed(int(prints[row])))
        if found is None and complete and source.rows.alive[row]:
            return None
        rows.append(found)
    changed: list[np.ndarray | None] = []
    if source.rows.changes is not None:
        for record_id in source.rows.changes.ids:
            profile = source.change_profiles.get(int(record_id))
            stamp = _signed(fingerprint(profile.pieces)) if profile is not None else None
            changed.append(vectors.get(int(record_id), stamp) if stamp is not None else None)
    return rows, changed


def _packed(
    ids: np.ndarray, blocks: list[np.ndarray | None], neutral: np.ndarray, store: StoredSpace
) -> PieceVectors:
    """The rows' pieces in one float16 array (rows without any: ``neutral``), and the
    store's copy of each found row made a view of it, so that a process holds each
    vendor's e5 pieces once (at 100,000 vendors, about 200 MB rather than twice that)."""
    filled = [neutral if block is None else block for block in blocks]
    offsets = offsets_of([len(block) for block in filled])
    vectors = (
        np.concatenate(filled).astype(np.float16, copy=False)
        if filled
        else np.zeros((0, VECTOR_DIM), np.float16)
    )
    for row, block in enumerate(blocks):
        if block is not None:
            record_id = int(ids[row])
            stamp = store.rows[record_id][0]
            store.rows[record_id] = (stamp, vectors[offsets[row] : offsets[row + 1]])
    return PieceVectors(vectors, offsets)


def _spaced(
    source: SideSource,
    found: tuple[list[np.ndarray | None], list[np.ndarray | None]],
    mean: np.ndarray,
    store: StoredSpace,
) -> CandidateSet:
    """The side's rows with these pieces; rows without any get the mean (neutral)."""
    neutral = mean[None, :].astype(np.float16)
    rows, changed = found
    snapshot = replace(
        source.rows.snapshot,
        pieces=_packed(source.rows.snapshot.ids, rows, neutral, store),
        piece_mean=mean,
        semantic=None,
    )
    changes: Candidates | None = source.rows.changes
    if changes is not None:
        pieces = _packed(changes.ids, changed, neutral, store)
        changes = replace(changes, pieces=pieces, semantic=None)
    return CandidateSet(snapshot, changes, source.rows.alive.copy())


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
    Vendors changed since the snapshot whose vectors are still being computed get the
    side's mean piece (neutral); a vector of an older text is never used. On the need
    side only needs with e5 vectors of their current text are ranked here
    (``need_ids``); the others keep a neutral piece and are ranked in the English space."""
    if reference is None and not need_vectors.rows:
        return None
    vendor_found = _side_pieces(vendors, vendor_vectors, complete=True)
    if vendor_found is None:
        return None
    present = [block for block in vendor_found[0] if block is not None]
    if not present:
        return None
    vendor_side = _spaced(vendors, vendor_found, _piece_mean(present), vendor_vectors)
    need_mean = _need_mean(need_vectors, reference)
    need_found = _side_pieces(needs, need_vectors, complete=False)
    need_side, need_ids = None, np.zeros(0, dtype=np.int64)
    if need_found is not None:
        need_side = _spaced(needs, need_found, need_mean, need_vectors)
        parts = [needs.rows.snapshot.ids[[b is not None for b in need_found[0]]]]
        if needs.rows.changes is not None:
            parts.append(needs.rows.changes.ids[[b is not None for b in need_found[1]]])
        need_ids = np.concatenate(parts).astype(np.int64)
    return MultilingualSpace(vendor_side, need_mean, need_vectors, need_side, need_ids)


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


def need_pieces(need: NeedProfile, needs: StoredSpace) -> np.ndarray | None:
    """The need's e5 pieces, if stored for its current text."""
    return needs.get(need.id, _signed(fingerprint(need.pieces)))


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
