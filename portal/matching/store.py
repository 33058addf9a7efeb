"""The leads snapshot: both sides analysed once and saved beside the search index.

``portal index rebuild`` writes a snapshot into the new index generation; a process
loads it in a fraction of a second instead of analysing 100,000 profiles. Records
changed since the snapshot are read back through the index events and analysed on the
snapshot's scale, so leads follow every edit without waiting for a rebuild.
"""

from __future__ import annotations

import hashlib
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
from flask import current_app

from portal.db import utc_now
from portal.extensions import db
from portal.matching.concepts import Thesaurus, thesaurus
from portal.matching.encoder import PIECE_TOKENS
from portal.matching.models import LeadVector
from portal.matching.pieces import PieceVectors, offsets_of, pooled, unit_rows
from portal.matching.profiles import (
    NeedProfile,
    VendorProfile,
    need_profiles,
    open_needs,
    vendor_profiles,
    verified_vendors,
)
from portal.matching.ranking import NEVER, CandidateRow, Candidates, CandidateSet
from portal.needs.models import Need
from portal.search.index import IndexState, IndexStore, read_state
from portal.search.models import IndexEvent
from portal.search.sync import events_since

SNAPSHOT_FOLDER = "leads"
T = TypeVar("T")

Progress = Callable[[int], None]


def _closes(need: NeedProfile) -> int:
    return need.closes_on.toordinal() if need.closes_on else NEVER


def vendor_rows(vendors: Iterable[VendorProfile]) -> Iterator[CandidateRow]:
    for v in vendors:
        yield CandidateRow(v.id, v.text, v.sectors, v.markets)


def need_rows(needs: Iterable[NeedProfile]) -> Iterator[CandidateRow]:
    for n in needs:
        yield CandidateRow(n.id, n.text, n.sectors, [n.country], _closes(n))


def vendor_candidates(
    vendors: Iterable[VendorProfile], thes: Thesaurus, base: Candidates | None = None
) -> Candidates:
    return Candidates.build(vendor_rows(vendors), thes, base=base)


def need_candidates(
    needs: Iterable[NeedProfile], thes: Thesaurus, base: Candidates | None = None
) -> Candidates:
    return Candidates.build(need_rows(needs), thes, base=base)


def fingerprint(pieces: Sequence[str]) -> int:
    """What a record's vector is made of, as 64 bits: equal fingerprints, equal vectors."""
    digest = hashlib.blake2b("\x1f".join(pieces).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


P = TypeVar("P", VendorProfile, NeedProfile)


def _fingerprinted(profiles: Iterable[P], out: list[int], counts: list[int]) -> Iterator[P]:
    for profile in profiles:
        out.append(fingerprint(profile.pieces))
        counts.append(piece_count(profile.pieces))
        yield profile


def piece_count(pieces: Sequence[str]) -> int:
    """How many vectors a record's pieces make (a record with none is embedded as "")."""
    return max(len(pieces), 1)


def _counting(items: Iterable[T], progress: Progress | None) -> Iterator[T]:
    for item in items:
        yield item
        if progress is not None:
            progress(1)


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
    # Streamed: profiles are analysed as they are read, never all held at once.
    vendor_prints: list[int] = []
    need_prints: list[int] = []
    vendor_counts: list[int] = []
    need_counts: list[int] = []
    vendor_side = vendor_candidates(
        _fingerprinted(_counting(verified_vendors(), progress), vendor_prints, vendor_counts),
        thes,
    )
    need_side = need_candidates(_fingerprinted(open_needs(), need_prints, need_counts), thes)
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
        return
    live = IndexStore.from_app().current_generation()
    if live is not None and live != generation:
        carry_vectors(live, generation)


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
    changed_vendors = [vendors[i] for i in sorted(vendors)]
    changed_needs = [needs[i] for i in sorted(needs)]
    return Changes(
        vendor_candidates(changed_vendors, thes, snapshot.vendors) if changed_vendors else None,
        vendor_ids,
        vendors,
        need_candidates(changed_needs, thes, snapshot.needs) if changed_needs else None,
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
        self.models: dict[Path, tuple[tuple[int, bool, bool], object]] = {}
        self.encoders: dict[Path, Any] = {}


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
    process_cache.snapshots[generation] = snapshot
    return generation, snapshot


def events_version() -> int:
    """Changes whenever anything searchable changes: every such change writes an event."""
    return db.session.scalar(sa.select(sa.func.max(IndexEvent.id))) or 0


# -- sentence vectors ------------------------------------------------------------------
# Computed after the snapshot (they take minutes at 100,000 vendors), in chunks that are
# saved as they go: an interrupted run resumes where it stopped, and until a side is
# complete its ranking simply leaves the semantic signal out.

VECTOR_DIM = 384
VECTOR_CHUNK = 2048  # records per encoder call: fewer pipeline drains than 512, +3-6 %
# What a stored vector means: the model and how a record's text becomes one vector. Change
# it whenever that changes, so that a rebuild never carries over vectors of the old kind.
VECTOR_RECIPE = f"all-MiniLM-L6-v2/pieces-kept/{PIECE_TOKENS}-tokens"


def _vector_paths(generation: Path, name: str) -> tuple[Path, Path]:
    folder = generation / SNAPSHOT_FOLDER
    return folder / f"{name}.vectors.npy", folder / f"{name}.vectors.done"


def _vector_recipe(generation: Path) -> str | None:
    try:
        meta = json.loads((generation / SNAPSHOT_FOLDER / "meta.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return meta.get("vector_recipe")


def _keys_path(generation: Path, name: str) -> Path:
    """The fingerprint of the pieces each stored vector was made from."""
    return generation / SNAPSHOT_FOLDER / f"{name}.vectors.keys.npy"


def _fingerprints_path(generation: Path, name: str) -> Path:
    """The fingerprint of each snapshot row's pieces when the snapshot was built."""
    return generation / SNAPSHOT_FOLDER / f"{name}.fingerprints.npy"


def _pieces_path(generation: Path, name: str) -> Path:
    """Every snapshot row's piece vectors (float16), in the ranges of its piece offsets."""
    return generation / SNAPSHOT_FOLDER / f"{name}.pieces.npy"


def _offsets_path(generation: Path, name: str) -> Path:
    return generation / SNAPSHOT_FOLDER / f"{name}.piece_offsets.npy"


def _load(path: Path) -> np.ndarray | None:
    try:
        return np.load(path, mmap_mode="r")
    except (FileNotFoundError, ValueError):
        return None


def carry_vectors(old: Path, new: Path) -> dict[str, int]:
    """Copy into ``new``'s snapshot the vectors ``old`` already has for records whose text
    has not changed, so that a rebuild embeds only what changed (at 100,000 vendors,
    embedding everything again takes minutes, with leads lexical meanwhile).

    "Not changed" is decided by content, not by index events: each stored vector keeps
    the fingerprint of the pieces it was made from, and each snapshot row the fingerprint
    of its pieces when the snapshot was built. Returns the rows carried per side.
    """
    carried = {"vendors": 0, "needs": 0}
    if _vector_recipe(old) != VECTOR_RECIPE or _vector_recipe(new) != VECTOR_RECIPE:
        return carried
    old_snapshot, new_snapshot = load_snapshot(old), load_snapshot(new)
    if old_snapshot is None or new_snapshot is None:
        return carried
    for name, old_side, new_side in (
        ("vendors", old_snapshot.vendors, new_snapshot.vendors),
        ("needs", old_snapshot.needs, new_snapshot.needs),
    ):
        have = vectors_done(old, name)
        old_keys = _load(_keys_path(old, name))
        new_keys = _load(_fingerprints_path(new, name))
        source = _load(_vector_paths(old, name)[0])
        if not have or old_keys is None or new_keys is None or source is None:
            continue
        known = {
            (int(i), int(key)): row
            for row, (i, key) in enumerate(zip(old_side.ids[:have], old_keys[:have], strict=True))
        }
        pairs = [
            (row, known[(int(i), int(key))])
            for row, (i, key) in enumerate(zip(new_side.ids, new_keys, strict=True))
            if (int(i), int(key)) in known
        ]
        if not pairs:
            continue
        rows = np.asarray([new_row for new_row, _ in pairs])
        from_rows = np.asarray([old_row for _, old_row in pairs])
        target = np.lib.format.open_memmap(
            _vector_paths(new, name)[0],
            mode="w+",
            dtype=np.float32,
            shape=(len(new_side), VECTOR_DIM),
        )
        target[rows] = source[from_rows]
        target.flush()
        del target
        keys = np.lib.format.open_memmap(
            _keys_path(new, name), mode="w+", dtype=np.uint64, shape=(len(new_side),)
        )
        keys[rows] = np.asarray(old_keys)[from_rows]
        keys.flush()
        del keys
        _carry_pieces(old, new, name, rows, from_rows)
        carried[name] = len(pairs)
    return carried


def _piece_store(generation: Path, name: str) -> np.ndarray | None:
    """The side's piece vector file, opened for writing (made on first use)."""
    offsets = _load(_offsets_path(generation, name))
    if offsets is None:
        return None
    path = _pieces_path(generation, name)
    return np.lib.format.open_memmap(
        path,
        mode="r+" if path.exists() else "w+",
        dtype=np.float16,
        shape=(int(offsets[-1]), VECTOR_DIM),
    )


def _carry_pieces(old: Path, new: Path, name: str, rows: np.ndarray, from_rows: np.ndarray) -> None:
    """Copy the piece vectors of carried rows: same fingerprint, so the same pieces."""
    source = _load(_pieces_path(old, name))
    old_offsets = _load(_offsets_path(old, name))
    new_offsets = _load(_offsets_path(new, name))
    target = _piece_store(new, name)
    if source is None or old_offsets is None or new_offsets is None or target is None:
        return
    for row, from_row in zip(rows.tolist(), from_rows.tolist(), strict=True):
        start, end = old_offsets[from_row], old_offsets[from_row + 1]
        if end - start == new_offsets[row + 1] - new_offsets[row]:
            target[new_offsets[row] : new_offsets[row + 1]] = source[start:end]
    target.flush()
    del target


def vectors_done(generation: Path, name: str) -> int:
    _, done_file = _vector_paths(generation, name)
    try:
        return int(done_file.read_text())
    except (FileNotFoundError, ValueError):
        return 0


def load_vectors(generation: Path, name: str, rows: int) -> np.ndarray | None:
    """The side's vectors, memory-mapped (shared by every worker through the page cache),
    or None while they are incomplete."""
    path, _ = _vector_paths(generation, name)
    if rows == 0 or vectors_done(generation, name) < rows:
        return None
    return np.load(path, mmap_mode="r")


def load_pieces(generation: Path, name: str, rows: int) -> PieceVectors | None:
    """The side's piece vectors, memory-mapped, or None while they are incomplete."""
    offsets = _load(_offsets_path(generation, name))
    if rows == 0 or offsets is None or vectors_done(generation, name) < rows:
        return None
    vectors = _load(_pieces_path(generation, name))
    if vectors is None:
        return None
    return PieceVectors(vectors, np.asarray(offsets))


Encode = Callable[[list[str]], np.ndarray]


def embed_pieces(encode: Encode, records: Sequence[Sequence[str]]) -> PieceVectors:
    """Unit vectors of every record's pieces (a vendor's company line and capabilities, a
    need's title and sentences). All pieces go to ``encode`` in one call, so they are
    batched together; a record with no pieces gets the vector of ""."""
    flat = [piece for pieces in records for piece in (pieces or [""])]
    offsets = offsets_of([piece_count(pieces) for pieces in records])
    if not flat:
        return PieceVectors(np.zeros((0, VECTOR_DIM), dtype=np.float32), offsets)
    return PieceVectors(unit_rows(np.asarray(encode(flat), dtype=np.float32)), offsets)


def pooled_vectors(encode: Encode, records: Sequence[Sequence[str]]) -> np.ndarray:
    """One unit vector per record: the normalised mean of its pieces' vectors."""
    return pooled(embed_pieces(encode, records))


def _pieces(name: str, ids: list[int]) -> list[list[str]]:
    if name == "vendors":
        vendors = vendor_profiles(ids)
        return [vendors[i].pieces if i in vendors else [] for i in ids]
    needs = need_profiles(ids)
    return [needs[i].pieces if i in needs else [] for i in ids]


@dataclass
class VectorProgress:
    done: int
    total: int

    @property
    def complete(self) -> bool:
        return self.done >= self.total


def vector_progress(generation: Path) -> VectorProgress | None:
    """How many of the snapshot's records have their sentence vector: cheap (two small
    files and the snapshot's meta), for status commands and health checks."""
    try:
        meta = json.loads((generation / SNAPSHOT_FOLDER / "meta.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    sides = ("vendors", "needs")
    done = sum(min(vectors_done(generation, name), int(meta.get(name, 0))) for name in sides)
    return VectorProgress(done, sum(int(meta.get(name, 0)) for name in sides))


def complete_vectors(
    generation: Path,
    encode: Encode,
    *,
    max_rows: int | None = None,
    progress: Progress | None = None,
) -> VectorProgress:
    """Embed the snapshot's rows that have no vector yet, at most ``max_rows`` of them.

    A rebuild may swap in a newer generation and remove this one while it is being
    worked on (the worker and ``portal index rebuild`` run side by side): then the
    vectors are no longer wanted, and what was done so far is returned, not an error.
    """
    snapshot = load_snapshot(generation)
    if snapshot is None:
        return VectorProgress(0, 0)
    result = VectorProgress(0, 0)
    try:
        _complete_vectors(generation, snapshot, encode, max_rows, progress, result)
    except FileNotFoundError:
        if generation.exists():
            raise
    return result


def _complete_vectors(
    generation: Path,
    snapshot: Snapshot,
    encode: Encode,
    max_rows: int | None,
    progress: Progress | None,
    result: VectorProgress,
) -> None:
    budget = max_rows
    for name, side in (("needs", snapshot.needs), ("vendors", snapshot.vendors)):
        path, done_file = _vector_paths(generation, name)
        total = len(side)
        done = vectors_done(generation, name)
        if total and done < total and (budget is None or budget > 0):
            mode = "r+" if path.exists() else "w+"
            array = np.lib.format.open_memmap(
                path, mode=mode, dtype=np.float32, shape=(total, VECTOR_DIM)
            )
            keys = np.lib.format.open_memmap(
                _keys_path(generation, name),
                mode="r+" if _keys_path(generation, name).exists() else "w+",
                dtype=np.uint64,
                shape=(total,),
            )
            # a row whose stored key is already its snapshot fingerprint was carried over
            # from the previous generation (``carry_vectors``) and needs no work
            prints = _load(_fingerprints_path(generation, name))
            piece_store = _piece_store(generation, name)
            offsets = _load(_offsets_path(generation, name))
            while done < total and (budget is None or budget > 0):
                size = VECTOR_CHUNK if budget is None else min(VECTOR_CHUNK, budget)
                chunk = np.arange(done, min(done + size, total))
                rows = chunk if prints is None else chunk[keys[chunk] != prints[chunk]]
                if len(rows):
                    pieces = _pieces(name, [int(i) for i in side.ids[rows]])
                    embedded = embed_pieces(encode, pieces)
                    array[rows] = pooled(embedded)
                    keys[rows] = [fingerprint(p) for p in pieces]
                    if piece_store is not None and offsets is not None:
                        _store_pieces(piece_store, offsets, rows, embedded)
                        piece_store.flush()
                    array.flush()
                    keys.flush()
                done += len(chunk)
                tmp = done_file.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(str(done))
                os.replace(tmp, done_file)
                if budget is not None:  # the budget is of rows embedded
                    budget -= len(rows)
                if progress is not None:
                    progress(len(chunk))
            del array, keys, piece_store
        result.done += done
        result.total += total


def _store_pieces(
    store: np.ndarray, offsets: np.ndarray, rows: np.ndarray, embedded: PieceVectors
) -> None:
    """Write each row's piece vectors into its range. A record edited since the snapshot
    may have another number of pieces: its snapshot row is masked by the change, so its
    range is left as it is."""
    for position, row in enumerate(rows.tolist()):
        start, end = offsets[row], offsets[row + 1]
        mine = embedded.vectors[embedded.offsets[position] : embedded.offsets[position + 1]]
        if len(mine) == end - start:
            store[start:end] = mine


def attach_vectors(generation: Path, snapshot: Snapshot) -> tuple[bool, bool]:
    """Give the snapshot's sides their vectors once complete; whether each side has them."""
    for name, side in (("vendors", snapshot.vendors), ("needs", snapshot.needs)):
        if side.pieces is None:
            side.pieces = load_pieces(generation, name, len(side))
    return snapshot.vendors.pieces is not None, snapshot.needs.pieces is not None


# -- vectors of records changed since the snapshot, shared through the database ------------

_IDS_PER_QUERY = 500  # well under SQLite's limit on bound parameters


def _signed(value: int) -> int:
    """A 64-bit fingerprint as the signed integer a BIGINT column holds."""
    return value - (1 << 64) if value >= 1 << 63 else value


def stored_pieces(
    kind: str, profiles: Sequence[VendorProfile | NeedProfile]
) -> dict[int, np.ndarray]:
    """The stored piece vectors of these records (``kind``: "vendor" or "need"), where they
    were made from the records' current pieces by the current recipe."""
    wanted = {p.id: _signed(fingerprint(p.pieces)) for p in profiles}
    found: dict[int, np.ndarray] = {}
    ids = sorted(wanted)
    for start in range(0, len(ids), _IDS_PER_QUERY):
        rows = db.session.execute(
            sa.select(LeadVector.record_id, LeadVector.fingerprint, LeadVector.vectors).where(
                LeadVector.kind == kind,
                LeadVector.recipe == VECTOR_RECIPE,
                LeadVector.record_id.in_(ids[start : start + _IDS_PER_QUERY]),
            )
        )
        for record_id, stored_print, blob in rows:
            if wanted.get(record_id) == stored_print:
                vectors = np.frombuffer(blob, dtype=np.float16).reshape(-1, VECTOR_DIM)
                found[record_id] = vectors.astype(np.float32)
    return found


def save_pieces(
    kind: str, profiles: Sequence[VendorProfile | NeedProfile], embedded: PieceVectors
) -> None:
    """Store each record's piece vectors (replacing any older ones); flushes, the caller
    commits."""
    existing = {
        row.record_id: row
        for row in db.session.scalars(
            sa.select(LeadVector).where(
                LeadVector.kind == kind, LeadVector.record_id.in_([p.id for p in profiles])
            )
        )
    }
    now = utc_now()
    for row_number, profile in enumerate(profiles):
        blob = embedded.of(row_number).astype(np.float16).tobytes()
        row = existing.get(profile.id)
        if row is None:
            row = LeadVector(kind=kind, record_id=profile.id)
            db.session.add(row)
        row.fingerprint = _signed(fingerprint(profile.pieces))
        row.recipe = VECTOR_RECIPE
        row.vectors = blob
        row.computed_at = now
    db.session.flush()


def store_changed_vectors(encode: Encode, limit: int | None = None) -> int:
    """Embed and store the vectors of records changed since the live snapshot that have
    none made from their current text, at most ``limit`` of them: the work every process
    would otherwise repeat when it meets the change. Returns how many were embedded."""
    _, snapshot = live_snapshot()
    changes = changes_since(snapshot, thesaurus())
    done = 0
    for kind, profiles in (("vendor", changes.vendor_profiles), ("need", changes.need_profiles)):
        ordered = [profiles[i] for i in sorted(profiles)]
        have = stored_pieces(kind, ordered)
        missing = [p for p in ordered if p.id not in have]
        if limit is not None:
            missing = missing[: max(limit - done, 0)]
        for start in range(0, len(missing), VECTOR_CHUNK):
            chunk = missing[start : start + VECTOR_CHUNK]
            save_pieces(kind, chunk, embed_pieces(encode, [p.pieces for p in chunk]))
            done += len(chunk)
    return done


def sentence_encoder(*, prepare: bool = False) -> Any:
    """The process's sentence encoder, or None when it cannot be had.

    Preparing the model (building and quantizing its ONNX file) takes a while, so pages
    never do it: they use the encoder once the worker or a command has prepared it.
    """
    model_dir = Path(current_app.config["PORTAL_MODEL_DIR"])
    cached = process_cache.encoders.get(model_dir)
    if cached is not None:
        return cached
    try:
        from portal.matching.encoder import default_encoder, prepared_model
    except ImportError:  # the optional runtime is not installed: lexical ranking only
        return None
    if not prepare and prepared_model(model_dir) is None:
        return None
    encoder = default_encoder(model_dir)
    if encoder is not None:
        process_cache.encoders[model_dir] = encoder
    return encoder
