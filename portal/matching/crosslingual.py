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
                self.rows[record_id] = (stamp, vectors.astype(np.float32))
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


def _need_mean(needs: StoredSpace, reference: np.ndarray | None) -> np.ndarray:
    pieces = [vectors for _, vectors in needs.rows.values()]
    total = np.zeros(VECTOR_DIM, dtype=np.float64)
    count = 0.0
    for block in pieces:
        total += block.sum(axis=0)
        count += len(block)
    if reference is not None:
        total += REFERENCE_PIECES * reference.astype(np.float64)
        count += REFERENCE_PIECES
    return (total / max(count, 1.0)).astype(np.float32)


def build_space(
    vendors: CandidateSet,
    snapshot_prints: np.ndarray | None,
    change_profiles: dict[int, VendorProfile],
    vendor_vectors: StoredSpace,
    need_vectors: StoredSpace,
    reference: np.ndarray | None,
) -> MultilingualSpace | None:
    """The multilingual space over ``vendors``' rows, or None until every vendor of the
    snapshot still a candidate has e5 vectors of its snapshot text (as in the English
    space, a side's semantic signals count only once it is complete). Vendors changed
    since the snapshot whose vectors are still being computed get the side's mean piece
    (neutral); a vector of an older text is never used."""
    snapshot = vendors.snapshot
    if snapshot_prints is None or len(snapshot_prints) != len(snapshot):
        return None
    if reference is None and not need_vectors.rows:
        return None
    rows: list[np.ndarray | None] = []
    for row, record_id in enumerate(snapshot.ids):
        found = vendor_vectors.get(int(record_id), _signed(int(snapshot_prints[row])))
        if found is None and vendors.alive[row]:
            return None
        rows.append(found)
    present = [block for block in rows if block is not None]
    if not present:
        return None
    mean = np.concatenate(present).mean(axis=0)
    neutral = mean[None, :]
    snapshot_pieces = PieceVectors.of_records([neutral if b is None else b for b in rows])
    spaced = replace(snapshot, pieces=snapshot_pieces, piece_mean=mean, semantic=None)
    changes: Candidates | None = vendors.changes
    if changes is not None:
        blocks = []
        for record_id in changes.ids:
            profile = change_profiles.get(int(record_id))
            found = None
            if profile is not None:
                found = vendor_vectors.get(int(record_id), _signed(fingerprint(profile.pieces)))
            blocks.append(neutral if found is None else found)
        changes = replace(changes, pieces=PieceVectors.of_records(blocks), semantic=None)
    space = CandidateSet(spaced, changes, vendors.alive.copy())
    return MultilingualSpace(space, _need_mean(need_vectors, reference), need_vectors)


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
    made_from: tuple[Any, Any] | None = None  # (vectors version, vendor candidate set)
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
    vendor_set = live.vendors.candidate_set()
    made_from = copy.made_from
    if made_from is None or made_from[0] != version or made_from[1] is not vendor_set:
        path = _fingerprints_path(generation, "vendors")
        prints = np.load(path) if path.is_file() else None
        copy.space = build_space(
            vendor_set,
            prints,
            live.vendors.profiles,
            copy.vendors,
            copy.needs,
            stored_reference(),
        )
        copy.made_from = (version, vendor_set)
    return copy.space
