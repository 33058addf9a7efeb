"""The leads store: both sides analysed once into a snapshot beside the search index, and
each machine's matrices of their sentence vectors, assembled from the database.

``portal index rebuild`` writes a snapshot into the new index generation; a process
loads it in a fraction of a second instead of analysing 100,000 profiles. Records
changed since the snapshot are read back through the index events and analysed on the
snapshot's scale, so leads follow every edit without waiting for a rebuild. Sentence
vectors are derived data of their own: stored once per record version in the database
(``portal.matching.store.vectors``), computed by the workers that claim them from a queue
(``portal.matching.store.queue``), and assembled here into each machine's snapshot
files, a per-machine cache rebuilt from the database whenever it is missing. Until a
side is complete its ranking leaves the semantic signal out.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import sqlalchemy as sa

from portal.bulk import one_of
from portal.db import utc_now, utc_today
from portal.extensions import db
from portal.matching.analysis import (
    Analysis,
    analyses_stored,
    analysis_recipe,
    stored_analyses,
)
from portal.matching.concepts import Thesaurus, thesaurus
from portal.matching.models import LeadVector
from portal.matching.pieces import PieceVectors, offsets_of, pooled
from portal.matching.profiles import (
    NeedProfile,
    VendorProfile,
    open_needs,
    verified_vendors,
)
from portal.matching.ranking import NEVER, CandidateRow, Candidates
from portal.matching.store.vectors import (
    KINDS,
    ROWS_PER_STATEMENT,
    SIDES,
    STREAM_ROWS,
    VECTOR_DIM,
    VECTOR_RECIPE,
    as_bigint,
    dialect_name,
    fingerprint,
    id_batches,
    insert_for,
    piece_count,
    profiles_of,
    vectors_version,
)
from portal.needs.models import Need
from portal.outbox import Position, events_since, latest_event_id
from portal.search.index import IndexStore, read_state

SNAPSHOT_FOLDER = "leads"
T = TypeVar("T")

Progress = Callable[[int], None]


def _closes(need: NeedProfile) -> int:
    return need.closes_on.toordinal() if need.closes_on else NEVER


Analyses = dict[int, Analysis]


def vendor_rows(
    vendors: Iterable[VendorProfile], analyses: Analyses | None = None
) -> Iterator[CandidateRow]:
    found = analyses if analyses is not None else {}
    for v in vendors:
        yield CandidateRow(v.id, v.text, v.sectors, v.markets, analysis=found.get(v.id))


def need_rows(
    needs: Iterable[NeedProfile], analyses: Analyses | None = None
) -> Iterator[CandidateRow]:
    found = analyses if analyses is not None else {}
    for n in needs:
        yield CandidateRow(
            n.id, n.text, n.sectors, [n.country], _closes(n), analysis=found.get(n.id)
        )


def vendor_candidates(
    vendors: Iterable[VendorProfile],
    thes: Thesaurus,
    base: Candidates | None = None,
    analyses: Analyses | None = None,
) -> Candidates:
    """The vendors' rows; those in ``analyses`` (stored) are not analysed again."""
    return Candidates.build(vendor_rows(vendors, analyses), thes, base=base)


def need_candidates(
    needs: Iterable[NeedProfile],
    thes: Thesaurus,
    base: Candidates | None = None,
    analyses: Analyses | None = None,
) -> Candidates:
    return Candidates.build(need_rows(needs, analyses), thes, base=base)


def vendor_changes(
    vendors: Sequence[VendorProfile], thes: Thesaurus, base: Candidates
) -> Candidates:
    """Changed vendors on the snapshot's scale, with the analyses stored for their current
    texts: only those without one are analysed here (``LiveSide.apply``)."""
    stored = stored_analyses("vendor", {v.id: v.text for v in vendors}, thes)
    return vendor_candidates(vendors, thes, base, stored)


def need_changes(needs: Sequence[NeedProfile], thes: Thesaurus, base: Candidates) -> Candidates:
    stored = stored_analyses("need", {n.id: n.text for n in needs}, thes)
    return need_candidates(needs, thes, base, stored)


def _with_stored(
    kind: str, profiles: Iterable[P], thes: Thesaurus, analyses: Analyses
) -> Iterator[P]:
    """``profiles`` as they stream, with the stored analyses of each batch's current texts
    put into ``analyses`` (and those of the batch before taken out: a side's analyses are
    never all held at once)."""
    if not analyses_stored(kind, analysis_recipe(thes)):  # a new portal's first import
        yield from profiles
        return
    batch: list[P] = []

    def flush() -> Iterator[P]:
        analyses.clear()
        analyses.update(stored_analyses(kind, {p.id: p.text for p in batch}, thes))
        yield from batch
        batch.clear()

    for profile in profiles:
        batch.append(profile)
        if len(batch) == _ANALYSES_PER_BATCH:
            yield from flush()
    if batch:
        yield from flush()


P = TypeVar("P", VendorProfile, NeedProfile)
_ANALYSES_PER_BATCH = 500  # stored analyses read per query when a snapshot is built


def _fingerprinted(profiles: Iterable[P], out: list[int], counts: list[int]) -> Iterator[P]:
    for profile in profiles:
        out.append(fingerprint(profile.pieces))
        counts.append(piece_count(profile.pieces))
        yield profile


def _counting(items: Iterable[T], progress: Progress | None) -> Iterator[T]:
    for item in items:
        yield item
        if progress is not None:
            progress(1)


@dataclass
class Snapshot:
    vendors: Candidates
    needs: Candidates
    state: Position


def build_snapshot(generation: Path, state: Position, progress: Progress | None = None) -> None:
    """Analyse every verified vendor and open need into ``generation/leads``.

    ``state`` is the event position read before the records, so that whatever changes
    while this runs is picked up as a change since the snapshot.
    """
    thes = thesaurus()
    # Streamed: profiles are analysed as they are read, never all held at once; a record
    # whose analysis of its current text is stored (``lead_analyses``) is read, not
    # analysed again.
    vendor_prints: list[int] = []
    need_prints: list[int] = []
    vendor_counts: list[int] = []
    need_counts: list[int] = []
    vendor_stored: Analyses = {}
    need_stored: Analyses = {}
    vendors = _fingerprinted(_counting(verified_vendors(), progress), vendor_prints, vendor_counts)
    vendor_side = vendor_candidates(
        _with_stored("vendor", vendors, thes, vendor_stored), thes, analyses=vendor_stored
    )
    needs = _fingerprinted(open_needs(), need_prints, need_counts)
    need_side = need_candidates(
        _with_stored("need", needs, thes, need_stored), thes, analyses=need_stored
    )
    tmp = generation / f"{SNAPSHOT_FOLDER}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    vendor_side.save(tmp, "vendors")
    need_side.save(tmp, "needs")
    for name, prints, counts in (
        ("vendors", vendor_prints, vendor_counts),
        ("needs", need_prints, need_counts),
    ):
        np.save(tmp / f"{name}.fingerprints.npy", np.asarray(prints, dtype=np.uint64))
        np.save(tmp / f"{name}.piece_offsets.npy", offsets_of(counts))
    meta = {
        "last_event": state.last_event,
        "horizon": state.horizon,
        "seen": state.seen,
        "vendors": len(vendor_side),
        "needs": len(need_side),
        "built_at": utc_now().isoformat(),
        "vector_recipe": VECTOR_RECIPE,
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
        state=_meta_position(meta),
    )


def _meta_position(meta: dict[str, Any]) -> Position:
    return Position(meta["last_event"], meta["horizon"], meta.get("seen", ""))


class _Cache(threading.local):
    def __init__(self) -> None:
        self.snapshots: dict[Path, Snapshot] = {}
        # the model, the key it was made for, and the live matrices it was made from
        self.models: dict[Path, tuple[Any, Any, Any]] = {}
        self.encoders: dict[Path, Any] = {}
        # when an encoder last failed to prepare (time.monotonic), to retry it later
        self.failures: dict[Path, float] = {}
        # what the vectors looked like when this process last checked a generation's
        # (vectors_version, events_version): checked again only once that changes
        self.vector_checks: dict[Path, tuple[Any, int]] = {}
        self.progress: dict[Path, tuple[tuple[Any, int], Any]] = {}
        # the multilingual space of each generation (portal.matching.crosslingual)
        self.multilingual: dict[Path, Any] = {}


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
        build_snapshot(generation, state)
        snapshot = load_snapshot(generation)
        assert snapshot is not None
    for old in list(process_cache.snapshots):
        if old != generation:
            del process_cache.snapshots[old]
            process_cache.models.pop(old, None)
            process_cache.vector_checks.pop(old, None)
            process_cache.progress.pop(old, None)
    process_cache.snapshots[generation] = snapshot
    return generation, snapshot


def events_version() -> int:
    """Changes whenever anything searchable changes: every such change writes an event."""
    return latest_event_id()


def _fingerprints_path(generation: Path, name: str) -> Path:
    """The fingerprint of each snapshot row's pieces when the snapshot was built."""
    return generation / SNAPSHOT_FOLDER / f"{name}.fingerprints.npy"


def snapshot_fingerprints(generation: Path, name: str) -> np.ndarray | None:
    """The fingerprint of each of the side's snapshot rows when it was built, or None
    when this machine's snapshot has none: what a row's stored vectors must match."""
    path = _fingerprints_path(generation, name)
    return np.load(path) if path.is_file() else None


def _pieces_path(generation: Path, name: str) -> Path:
    """Every snapshot row's piece vectors (float16), in the ranges of its piece offsets."""
    return generation / SNAPSHOT_FOLDER / f"{name}.pieces.npy"


def _offsets_path(generation: Path, name: str) -> Path:
    return generation / SNAPSHOT_FOLDER / f"{name}.piece_offsets.npy"


def _done_path(generation: Path, name: str) -> Path:
    """Written last, once the pieces file holds every row: its rows, and the recipe."""
    return generation / SNAPSHOT_FOLDER / f"{name}.vectors.done"


def _mean_path(generation: Path, name: str) -> Path:
    """The side's mean piece (float32): what centring takes away."""
    return generation / SNAPSHOT_FOLDER / f"{name}.piece_mean.npy"


def _semantic_path(generation: Path, name: str) -> Path:
    """Each snapshot row's pooled vector of centred pieces (float32), derived from the
    pieces file once per machine instead of in every process that starts."""
    return generation / SNAPSHOT_FOLDER / f"{name}.semantic.npy"


def _save_atomically(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def _write_semantic(generation: Path, name: str, pieces: PieceVectors) -> None:
    """Derive the side's mean piece and pooled vectors from its pieces and keep them
    beside the pieces file: at 100,000 vendors this took about 2.5 s of every process's
    start (every ``portal leads need``, every web worker)."""
    mean = pieces.mean()
    _save_atomically(_mean_path(generation, name), mean)
    _save_atomically(_semantic_path(generation, name), pooled(pieces, mean))


def load_semantic(
    generation: Path, name: str, pieces: PieceVectors
) -> tuple[np.ndarray, np.ndarray]:
    """The side's mean piece and pooled vectors, memory-mapped from this machine's cache;
    derived and written first where the cache was assembled without them."""

    def read() -> tuple[np.ndarray | None, np.ndarray | None]:
        return _load(_mean_path(generation, name)), _load(_semantic_path(generation, name))

    mean, semantic = read()
    if mean is None or semantic is None or len(semantic) != len(pieces):
        _write_semantic(generation, name, pieces)
        mean, semantic = read()
    assert mean is not None and semantic is not None
    return np.asarray(mean), semantic


def _load(path: Path) -> np.ndarray | None:
    try:
        return np.load(path, mmap_mode="r")
    except (FileNotFoundError, ValueError):
        return None


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def vectors_done(generation: Path, name: str) -> int:
    """How many of the side's snapshot rows this machine's cache holds: all or none."""
    try:
        rows, _, recipe = _done_path(generation, name).read_text().partition("\n")
        return int(rows) if recipe.strip() == VECTOR_RECIPE else 0
    except (FileNotFoundError, ValueError):
        return 0


def load_pieces(generation: Path, name: str, rows: int) -> PieceVectors | None:
    """The side's piece vectors from this machine's cache, memory-mapped (shared by every
    process through the page cache), or None while it is not assembled."""
    offsets = _load(_offsets_path(generation, name))
    if rows == 0 or offsets is None or vectors_done(generation, name) < rows:
        return None
    vectors = _load(_pieces_path(generation, name))
    if vectors is None:
        return None
    return PieceVectors(vectors, np.asarray(offsets))


def seed_from_snapshot_files(generation: Path) -> int:
    """Store the piece vectors an earlier version kept only in ``generation``'s snapshot
    files (before the database was their store), for each row whose vectors were made from
    the snapshot's pieces by the current recipe and that has none in the database yet; the
    caller commits. Returns how many records were stored."""
    meta = _snapshot_meta(generation)
    if meta is None or meta.get("vector_recipe") != VECTOR_RECIPE:
        return 0
    seeded = 0
    folder = generation / SNAPSHOT_FOLDER
    for kind, name in SIDES.items():
        try:
            done = int((folder / f"{name}.vectors.done").read_text())  # the old marker
        except (FileNotFoundError, ValueError):
            continue  # none, or the new kind (assembled from the database)
        keys = _load(folder / f"{name}.vectors.keys.npy")
        prints = _load(_fingerprints_path(generation, name))
        offsets = _load(_offsets_path(generation, name))
        pieces = _load(_pieces_path(generation, name))
        if keys is None or prints is None or offsets is None or pieces is None:
            continue
        with np.load(folder / f"{name}.rows.npz") as arrays:
            ids = arrays["ids"]
        done = min(done, len(ids))
        rows = np.flatnonzero(np.asarray(keys[:done]) == np.asarray(prints[:done]))
        have = set(_stored_sides(kind)[0].tolist())
        now = utc_now()
        batch: list[dict[str, Any]] = []
        for row in rows.tolist():
            if int(ids[row]) in have:
                continue
            batch.append(
                {
                    "kind": kind,
                    "record_id": int(ids[row]),
                    "fingerprint": as_bigint(int(prints[row])),
                    "recipe": VECTOR_RECIPE,
                    "vectors": np.asarray(pieces[offsets[row] : offsets[row + 1]]).tobytes(),
                    "computed_at": now,
                }
            )
            if len(batch) == ROWS_PER_STATEMENT:
                seeded += _insert_new(batch)
                batch = []
        seeded += _insert_new(batch)
    return seeded


def _insert_new(rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    statement = insert_for(LeadVector.__table__).on_conflict_do_nothing(
        index_elements=["kind", "record_id"]
    )
    db.session.execute(statement, rows)
    return len(rows)


def changed_records(state: Position) -> tuple[set[int], set[int]]:
    """The vendor and need ids that index events since ``state`` name (a buyer's event
    names its needs: its verification decides whether they are candidates)."""
    events, _ = events_since(state)
    return records_named(events)


def records_named(events: Sequence[tuple[int, str, int]]) -> tuple[set[int], set[int]]:
    vendor_ids = {record for _, kind, record in events if kind == "vendor"}
    need_ids = {record for _, kind, record in events if kind == "need"}
    buyer_ids = sorted({record for _, kind, record in events if kind == "buyer"})
    for buyers in id_batches(buyer_ids):
        query = sa.select(Need.id).where(one_of(dialect_name(), Need.buyer_id, buyers))
        need_ids.update(db.session.scalars(query))
    return vendor_ids, need_ids


# -- this machine's snapshot matrices, assembled from the database ------------------------


@dataclass
class VectorProgress:
    done: int
    total: int

    @property
    def complete(self) -> bool:
        return self.done >= self.total


@dataclass
class _SideCheck:
    """Per snapshot row, in row order."""

    ready: np.ndarray  # its vectors are stored, or it needs none now
    matched: np.ndarray  # stored vectors of the snapshot's pieces


def _snapshot_meta(generation: Path) -> dict[str, Any] | None:
    try:
        return json.loads((generation / SNAPSHOT_FOLDER / "meta.json").read_text())
    except (FileNotFoundError, ValueError):
        return None


def _stored_sides(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Every record of ``kind`` with vectors of the current recipe, sorted by id, with the
    fingerprint of each (no vectors read)."""
    query = (
        sa.select(LeadVector.record_id, LeadVector.fingerprint)
        .where(LeadVector.kind == kind, LeadVector.recipe == VECTOR_RECIPE)
        .execution_options(yield_per=20_000)
    )
    pairs = np.asarray(db.session.execute(query).all(), dtype=np.int64).reshape(-1, 2)
    order = np.argsort(pairs[:, 0], kind="stable")
    return pairs[order, 0], pairs[order, 1]


def _check_side(generation: Path, name: str, kind: str, changed: set[int]) -> _SideCheck:
    """Which snapshot rows have their vectors in the database.

    A row of a record changed since the snapshot is masked by the ranking, which reads the
    record's current state as a change: it is ready once the record's current pieces have
    their vectors (or it is no longer a candidate). A row that closed on its date is never
    a candidate again and needs none.
    """
    folder = generation / SNAPSHOT_FOLDER
    with np.load(folder / f"{name}.rows.npz") as arrays:
        ids, closes = arrays["ids"], arrays["closes"]
    prints = np.load(_fingerprints_path(generation, name)).astype(np.uint64).view(np.int64)
    stored_ids, stored_prints = _stored_sides(kind)
    position = np.minimum(np.searchsorted(stored_ids, ids), max(len(stored_ids) - 1, 0))
    found = np.zeros(len(ids), dtype=bool)
    if len(stored_ids):
        found = stored_ids[position] == ids
    stored = np.where(found, stored_prints[position] if len(stored_ids) else 0, 0)
    matched = found & (stored == prints)
    moved = np.isin(ids, np.fromiter(changed, dtype=np.int64, count=len(changed)))
    ready = matched | (closes < utc_today().toordinal())
    rows = np.flatnonzero(moved & ~ready)
    profiles = profiles_of(kind, [int(i) for i in ids[rows]])
    for row in rows.tolist():
        profile = profiles.get(int(ids[row]))
        current = as_bigint(fingerprint(profile.pieces)) if profile is not None else None
        ready[row] = profile is None or (found[row] and int(stored[row]) == current)
    return _SideCheck(ready, matched)


def _assemble_side(generation: Path, name: str, kind: str, check: _SideCheck) -> None:
    """Write the side's pieces file from the database, then its done marker."""
    with np.load(generation / SNAPSHOT_FOLDER / f"{name}.rows.npz") as arrays:
        ids = arrays["ids"]
    offsets = np.load(_offsets_path(generation, name))
    path = _pieces_path(generation, name)
    tmp = path.with_name(f"{name}.pieces.{os.getpid()}.tmp.npy")
    target = np.lib.format.open_memmap(
        tmp, mode="w+", dtype=np.float16, shape=(int(offsets[-1]), VECTOR_DIM)
    )
    row_of = {int(record_id): row for row, record_id in enumerate(ids.tolist())}
    query = (
        sa.select(LeadVector.record_id, LeadVector.vectors)
        .where(LeadVector.kind == kind, LeadVector.recipe == VECTOR_RECIPE)
        .execution_options(yield_per=STREAM_ROWS)
    )
    for record_id, blob in db.session.execute(query):
        row = row_of.get(record_id)
        if row is None:
            continue
        start, end = int(offsets[row]), int(offsets[row + 1])
        vectors = np.frombuffer(blob, dtype=np.float16).reshape(-1, VECTOR_DIM)
        # A row whose record changed since the snapshot is masked by the ranking; its
        # vectors (the new text's, where the piece count still fits, else zeros) only
        # weigh in the side's mean piece, as they always did.
        if check.matched[row] or len(vectors) == end - start:
            target[start:end] = vectors
    target.flush()
    del target
    os.replace(tmp, path)
    _write_semantic(generation, name, PieceVectors(np.load(path, mmap_mode="r"), offsets))
    _write_atomically(_done_path(generation, name), f"{len(ids)}\n{VECTOR_RECIPE}\n")


def _check_snapshot(generation: Path, meta: dict[str, Any]) -> dict[str, _SideCheck]:
    vendor_ids, need_ids = changed_records(_meta_position(meta))
    changed = {"vendor": vendor_ids, "need": need_ids}
    return {
        kind: _check_side(generation, SIDES[kind], kind, changed[kind])
        for kind in KINDS
        if int(meta.get(SIDES[kind], 0)) and not vectors_done(generation, SIDES[kind])
    }


def assemble_vectors(generation: Path) -> VectorProgress:
    """Assemble this machine's cache of the snapshot's piece vectors from the database, for
    each side whose rows all have them; how many rows are ready.

    A rebuild may swap in a newer generation and remove this one meanwhile: then its
    vectors are no longer wanted, and that is not an error.
    """
    meta = _snapshot_meta(generation)
    if meta is None:
        return VectorProgress(0, 0)
    total = sum(int(meta.get(name, 0)) for name in SIDES.values())
    try:
        checks = _check_snapshot(generation, meta)
        for kind, check in checks.items():
            if check.ready.all():
                _assemble_side(generation, SIDES[kind], kind, check)
    except FileNotFoundError:
        if generation.exists():
            raise
        return VectorProgress(0, total)
    missing = sum(int((~check.ready).sum()) for check in checks.values())
    return VectorProgress(total - missing, total)


def vector_progress(generation: Path) -> VectorProgress | None:
    """How many of the snapshot's records have their sentence vectors (stored in the
    database, or in this machine's cache), for status commands and health checks. Cheap
    once the cache is assembled; until then checked again only after vectors were written
    or records changed."""
    meta = _snapshot_meta(generation)
    if meta is None:
        return None
    total = sum(int(meta.get(name, 0)) for name in SIDES.values())
    if all(vectors_done(generation, name) >= int(meta.get(name, 0)) for name in SIDES.values()):
        return VectorProgress(total, total)
    key = (vectors_version(), events_version())
    cached = process_cache.progress.get(generation)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        checks = _check_snapshot(generation, meta)
    except FileNotFoundError:
        return VectorProgress(0, total)
    missing = sum(int((~check.ready).sum()) for check in checks.values())
    result = VectorProgress(total - missing, total)
    process_cache.progress[generation] = (key, result)
    return result


def attach_vectors(generation: Path, snapshot: Snapshot) -> tuple[bool, bool]:
    """Give the snapshot's sides their piece vectors, from this machine's cache, assembled
    from the database first once every row's are there (looked at again only after vectors
    were written or records changed, so that a page pays two small queries meanwhile);
    whether each side has them."""
    sides = (("vendors", snapshot.vendors), ("needs", snapshot.needs))

    def load(name: str, side: Candidates) -> None:
        side.pieces = load_pieces(generation, name, len(side))
        if side.pieces is not None:
            side.piece_mean, side.semantic = load_semantic(generation, name, side.pieces)

    for name, side in sides:
        if side.pieces is None:
            load(name, side)
    if any(side.pieces is None and len(side) for _, side in sides):
        key = (vectors_version(), events_version())
        if process_cache.vector_checks.get(generation) != key:
            process_cache.vector_checks[generation] = key
            assemble_vectors(generation)
            for name, side in sides:
                if side.pieces is None:
                    load(name, side)
    return snapshot.vendors.pieces is not None, snapshot.needs.pieces is not None
