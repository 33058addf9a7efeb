"""Leads for needs not written in English: e5 needs in the English space.

A need in Vietnamese or Thai shares no words with English vendor profiles, and MiniLM
reads English only, so its lexical, thesaurus and sentence signals say almost nothing.
Such a need's pieces are embedded by multilingual-e5-small (``portal.matching.
multilingual``), where a sentence lands near its English translation, and then carried
into MiniLM's space by a linear map, where they are compared with the vendors' English
vectors as an English need's are. Vendors are never embedded by e5: the slow model runs
only on what is not in English (issue 14's advice), and a web process keeps no second
vendor space.

The map. An affine map from e5's query space into MiniLM's, fitted by ridge regression
on the thesaurus's problem and solution phrases (the project's own English text, about
6,000 phrases) embedded by both models: e5 puts a Thai sentence where it puts its English
translation, and the map takes that to where MiniLM would put the English. Its semantic
signal alone beats comparing e5 with e5 on the dev sets; end to end it is 0.02 below on
dev-ml, for a fraction of the cost (docs/languages.md). It is fitted by the worker once
per pair of recipes and stored beside the vectors (kind ``e5map``).

Centring. The need side's mean piece is subtracted before pooling, as in the English
space; it is taken in e5's space and mapped. A portal may hold one Thai need, whose own
mean is itself, so the mean is blended with a reference: the mean of the thesaurus's
problem phrases embedded as queries (kind ``e5ref``), counted as ``REFERENCE_PIECES``
pieces. The worker writes the e5 vectors of such needs (kind ``e5need``); this module
reads them and never runs an encoder.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from portal.db import utc_now
from portal.extensions import db
from portal.matching.concepts import concept_phrases
from portal.matching.models import LeadVector
from portal.matching.pieces import PieceVectors, unit_rows
from portal.matching.profiles import NeedProfile
from portal.matching.ranking import Candidates, CandidateSet
from portal.matching.store.snapshot import process_cache, snapshot_fingerprints
from portal.matching.store.vectors import (
    VECTOR_DIM,
    as_bigint,
    fingerprint,
    id_batches,
    multilingual_needs_exist,
    recipe_for,
    stored_pieces,
    stored_vectors,
    vectors_version,
)

if TYPE_CHECKING:
    from portal.matching.live import LiveModel

MULTILINGUAL = "multilingual"  # ranking.Query.space of a need ranked here

REFERENCE_KIND = "e5ref"
MAP_KIND = "e5map"
REFERENCE_ID = 0
# The map's ridge penalty, on unit vectors over the thesaurus's phrases: dev-ml's
# semantic signal alone was flat from 1 to 3 and fell off at 10 (docs/languages.md).
MAP_RIDGE = 2.0
# How many need pieces the reference mean counts as: below a few dozen needs not in
# English, the need side's mean is mostly the reference; above, mostly their own.
REFERENCE_PIECES = 120


@functools.cache
def _thesaurus_phrases() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The thesaurus's problem phrases and solution phrases: the project's own text."""
    problems, solutions = (
        tuple(phrase for phrases in concept_phrases(kind) for phrase in phrases)
        for kind in ("problem", "solution")
    )
    return problems, solutions


def reference_phrases() -> tuple[str, ...]:
    """How cities put problems: the reference the need side's mean is blended with."""
    return _thesaurus_phrases()[0]


def map_phrases() -> tuple[str, ...]:
    """What the map between the spaces is fitted on: every phrase of the thesaurus."""
    problems, solutions = _thesaurus_phrases()
    return tuple(dict.fromkeys((*problems, *solutions)))


@dataclass(frozen=True)
class SpaceMap:
    """An affine map from e5's query space into the English space: ``x @ weights + offset``."""

    weights: np.ndarray  # VECTOR_DIM x VECTOR_DIM
    offset: np.ndarray  # VECTOR_DIM

    def __call__(self, vectors: np.ndarray) -> np.ndarray:
        return (np.asarray(vectors, dtype=np.float32) @ self.weights + self.offset).astype(
            np.float32
        )

    def to_bytes(self) -> bytes:
        return np.vstack([self.weights, self.offset[None, :]]).astype(np.float32).tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> SpaceMap:
        rows = np.frombuffer(blob, dtype=np.float32).reshape(VECTOR_DIM + 1, VECTOR_DIM)
        return cls(rows[:-1].copy(), rows[-1].copy())


def fit_map(source: np.ndarray, target: np.ndarray, ridge: float = MAP_RIDGE) -> SpaceMap:
    """The least-squares affine map from ``source`` rows to ``target`` rows, with a ridge
    penalty on the weights (the phrases are short and many are near each other)."""
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    centred_source = source - source_mean
    gram = centred_source.T @ centred_source + ridge * np.eye(source.shape[1])
    weights = np.linalg.solve(gram, centred_source.T @ (target - target_mean))
    offset = target_mean - source_mean @ weights
    return SpaceMap(weights.astype(np.float32), offset.astype(np.float32))


# Fitted maps by recipe: a test session's databases (and a worker's restarts of the same
# process) fit each once.
_FITTED: dict[str, SpaceMap] = {}


def _stored_stamp(kind: str) -> tuple[int, str] | None:
    found = db.session.execute(
        sa.select(LeadVector.fingerprint, LeadVector.recipe).where(
            LeadVector.kind == kind, LeadVector.record_id == REFERENCE_ID
        )
    ).first()
    return None if found is None else (found[0], found[1])


def _write_derived(kind: str, stamp: int, blob: bytes) -> None:
    """Replace the derived row of ``kind`` (the reference mean, the map); the caller commits."""
    db.session.execute(
        sa.delete(LeadVector.__table__).where(
            LeadVector.kind == kind, LeadVector.record_id == REFERENCE_ID
        )
    )
    row = {
        "kind": kind,
        "record_id": REFERENCE_ID,
        "fingerprint": stamp,
        "recipe": recipe_for(kind),
        "vectors": blob,
        "computed_at": utc_now(),
    }
    db.session.execute(sa.insert(LeadVector.__table__), [row])


def _derived_blob(kind: str) -> bytes | None:
    """The derived row of ``kind`` the worker wrote for the current recipe, if any."""
    return db.session.scalar(
        sa.select(LeadVector.vectors).where(
            LeadVector.kind == kind,
            LeadVector.record_id == REFERENCE_ID,
            LeadVector.recipe == recipe_for(kind),
        )
    )


def ensure_reference(e5: Any, encode: Callable[[list[str]], np.ndarray]) -> bool:
    """Write the need side's reference mean and the map into the English space if either
    is missing or of another recipe or thesaurus (``encode``: the English space's
    encoder); the caller commits. Whether anything was written."""
    written = False
    phrases = list(reference_phrases())
    wanted = as_bigint(fingerprint(phrases))
    if _stored_stamp(REFERENCE_KIND) != (wanted, recipe_for(REFERENCE_KIND)):
        mean = unit_rows(e5.queries(phrases)).mean(axis=0)
        _write_derived(REFERENCE_KIND, wanted, mean.astype(np.float16).tobytes())
        written = True
    phrases = list(map_phrases())
    wanted = as_bigint(fingerprint([*phrases, f"ridge {MAP_RIDGE}"]))
    recipe = recipe_for(MAP_KIND)
    if _stored_stamp(MAP_KIND) != (wanted, recipe):
        # the recipe names the English model; the encoder's name tells a test's apart
        key = f"{recipe}/{wanted}/{getattr(encode, '__qualname__', type(encode).__name__)}"
        if key not in _FITTED:
            source = unit_rows(np.asarray(e5.queries(phrases), dtype=np.float32))
            target = unit_rows(np.asarray(encode(phrases), dtype=np.float32))
            _FITTED[key] = fit_map(source, target)
        _write_derived(MAP_KIND, wanted, _FITTED[key].to_bytes())
        written = True
    return written


def stored_map() -> SpaceMap | None:
    """The map the worker fitted for the current recipes, if any."""
    blob = _derived_blob(MAP_KIND)
    return SpaceMap.from_bytes(blob) if blob is not None else None


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
        for ids in id_batches(stale):
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
    (its pool's, for cover; a lead's, for its reason): a few hundred rows, by primary key,
    carried into the English space by ``mapping``. A row whose stored vectors are not of
    its current text gets the neutral piece (the side's mean, already mapped)."""

    def __init__(
        self,
        kind: str,
        ids: np.ndarray,
        stamps: list[int | None],
        neutral: np.ndarray,
        mapping: SpaceMap,
    ):
        self.kind = kind
        self.ids = ids
        self.stamps = stamps
        self.neutral = neutral[None, :].astype(np.float32)
        self.mapping = mapping

    def __len__(self) -> int:
        return len(self.ids)

    def _read(self, rows: np.ndarray) -> list[np.ndarray]:
        wanted = {int(self.ids[row]): self.stamps[row] for row in rows.tolist()}
        found = stored_vectors(self.kind, wanted)
        out = []
        for row in rows.tolist():
            vectors = found.get(int(self.ids[row]))
            out.append(self.neutral if vectors is None else self.mapping(vectors))
        return out

    def of(self, row: int) -> np.ndarray:
        return self._read(np.asarray([row]))[0]

    def take(self, rows: np.ndarray) -> PieceVectors:
        return PieceVectors.of_records(self._read(np.asarray(rows, dtype=np.int64)))


@dataclass
class MultilingualSpace:
    """What the ranking reads for needs not in English, beside the English vendor side:
    the map of their e5 pieces into the English space and the need side's mean there."""

    mapping: SpaceMap
    need_mean: np.ndarray  # in the English space
    # the needs ranked here with mapped signals, for a vendor's "needs for you", and
    # their ids (those with e5 vectors of their current text)
    need_side: CandidateSet | None = None
    need_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def pieces(self, e5_pieces: np.ndarray | None) -> np.ndarray | None:
        """A need's e5 pieces in the English space."""
        return self.mapping(e5_pieces) if e5_pieces is not None else None


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
    """The need side of the live model, as the multilingual space reads it: its candidate
    rows, the fingerprints of the snapshot rows' texts, and the profiles of the rows
    changed since (whose current texts' fingerprints are computed)."""

    rows: CandidateSet
    snapshot_prints: np.ndarray | None
    change_profiles: dict[int, NeedProfile]


@dataclass
class _Found:
    """Each row's fingerprint (None: unknown) and stored summary (None: none), for the
    snapshot's rows and the changed rows."""

    snapshot_stamps: list[int | None]
    snapshot: list[tuple[int, np.ndarray] | None]
    change_stamps: list[int | None]
    changes: list[tuple[int, np.ndarray] | None]


def _side_found(source: SideSource, store: StoredSpace) -> _Found | None:
    """What the store has for each row of the side (None: the snapshot's fingerprints
    are not this snapshot's)."""
    snapshot = source.rows.snapshot
    prints = source.snapshot_prints
    if prints is None or len(prints) != len(snapshot):
        return None
    stamps: list[int | None] = [as_bigint(int(value)) for value in prints]
    found = [store.summary(int(i), stamp) for i, stamp in zip(snapshot.ids, stamps, strict=True)]
    change_stamps: list[int | None] = []
    changed: list[tuple[int, np.ndarray] | None] = []
    if source.rows.changes is not None:
        for record_id in source.rows.changes.ids:
            profile = source.change_profiles.get(int(record_id))
            change_stamps.append(
                as_bigint(fingerprint(profile.pieces)) if profile is not None else None
            )
        changed = [
            store.summary(int(i), stamp)
            for i, stamp in zip(source.rows.changes.ids, change_stamps, strict=True)
        ]
    return _Found(stamps, found, change_stamps, changed)


def _semantic(
    found: list[tuple[int, np.ndarray] | None], mean: np.ndarray, mapping: SpaceMap
) -> np.ndarray:
    """Each row's pooled vector in the English space: its mean e5 piece minus the side's
    mean, through the map's weights (an affine map keeps differences linear), unit
    length; 0 for rows with none."""
    out = np.zeros((len(found), VECTOR_DIM), dtype=np.float32)
    for row, summary in enumerate(found):
        if summary is not None:
            out[row] = summary[1].astype(np.float32) - mean
    out = out @ mapping.weights
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


def _spaced(
    source: SideSource, found: _Found, e5_mean: np.ndarray, mapping: SpaceMap
) -> CandidateSet:
    """The need side's rows with mapped signals; rows without vectors are neutral."""
    mean = mapping(e5_mean[None, :])[0]
    rows = source.rows.snapshot
    snapshot = replace(
        rows,
        pieces=StoredPieces("e5need", rows.ids, found.snapshot_stamps, mean, mapping),
        piece_mean=mean,
        semantic=_semantic(found.snapshot, e5_mean, mapping),
    )
    changes: Candidates | None = source.rows.changes
    if changes is not None:
        changes = replace(
            changes,
            pieces=StoredPieces("e5need", changes.ids, found.change_stamps, mean, mapping),
            semantic=_semantic(found.changes, e5_mean, mapping),
        )
    return CandidateSet(snapshot, changes, source.rows.alive.copy())  # type: ignore[arg-type]


def build_space(
    needs: SideSource,
    need_vectors: StoredSpace,
    reference: np.ndarray | None,
    mapping: SpaceMap | None,
) -> MultilingualSpace | None:
    """The multilingual space over the live need side, or None until the worker has
    written the map. Only needs with e5 vectors of their current text are ranked here
    (``need_ids``); the others are ranked on their English-space signals."""
    if mapping is None or (reference is None and not need_vectors.rows):
        return None
    summaries = [(pieces, mean) for _, pieces, mean in need_vectors.rows.values()]
    e5_mean = _weighted_mean(summaries, REFERENCE_PIECES, reference)
    need_mean = mapping(e5_mean[None, :])[0]
    found = _side_found(needs, need_vectors)
    need_side, need_ids = None, np.zeros(0, dtype=np.int64)
    if found is not None:
        need_side = _spaced(needs, found, e5_mean, mapping)
        parts = [needs.rows.snapshot.ids[[f is not None for f in found.snapshot]]]
        if needs.rows.changes is not None:
            parts.append(needs.rows.changes.ids[[f is not None for f in found.changes]])
        need_ids = np.concatenate(parts).astype(np.int64)
    return MultilingualSpace(mapping, need_mean, need_side, need_ids)


def stored_reference() -> np.ndarray | None:
    """The reference mean the worker wrote for the current recipe, if any."""
    blob = _derived_blob(REFERENCE_KIND)
    if blob is None:
        return None
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)[:VECTOR_DIM]


def need_pieces(need: NeedProfile) -> np.ndarray | None:
    """The need's e5 pieces, if stored for its current text (one row, by key)."""
    return stored_pieces("e5need", [need]).get(need.id)


@dataclass
class _ProcessCopy:
    """One generation's multilingual space in this process, and what it was made from."""

    needs: StoredSpace = field(default_factory=lambda: StoredSpace("e5need"))
    # (vectors version, need candidate set)
    made_from: tuple[Any, Any] | None = None
    space: MultilingualSpace | None = None


def multilingual_space(generation: Path, live: LiveModel) -> MultilingualSpace | None:
    """This process's multilingual space over the live need side, brought up to date
    with the store (only changed rows are read again); None while no need is in it or
    the map is not written yet. Called only for a need ranked here."""
    if not multilingual_needs_exist():
        return None
    copies: dict[Path, _ProcessCopy] = process_cache.multilingual
    copy = copies.setdefault(generation, _ProcessCopy())
    version = vectors_version()
    copy.needs.refresh(version)
    need_set = live.needs.candidate_set()
    made_from = copy.made_from
    if made_from is None or made_from[0] != version or made_from[1] is not need_set:
        copy.space = None  # not two spaces in memory while the next one is built
        prints = snapshot_fingerprints(generation, "needs")
        copy.space = build_space(
            SideSource(need_set, prints, live.needs.profiles),  # type: ignore[arg-type]
            copy.needs,
            stored_reference(),
            stored_map(),
        )
        copy.made_from = (version, need_set)
    return copy.space
