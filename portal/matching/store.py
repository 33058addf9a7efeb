"""The leads store: both sides analysed once into a snapshot beside the search index, and
every record's sentence vectors in the database, computed by workers from a shared queue.

``portal index rebuild`` writes a snapshot into the new index generation; a process
loads it in a fraction of a second instead of analysing 100,000 profiles. Records
changed since the snapshot are read back through the index events and analysed on the
snapshot's scale, so leads follow every edit without waiting for a rebuild. Sentence
vectors are derived data of their own (see "sentence vectors" below): stored once per
record version in ``lead_vectors``, and assembled into each machine's snapshot files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from portal.bulk import insert_unnested, one_of
from portal.db import UTCDateTime, utc_now, utc_today
from portal.extensions import db
from portal.matching import analysis
from portal.matching.analysis import (
    ANALYSIS_KINDS,
    Analysis,
    analyses_stored,
    analysis_recipe,
    delete_analyses,
    save_analyses,
    stored_analyses,
    stored_prints,
    text_fingerprint,
)
from portal.matching.concepts import Thesaurus, thesaurus
from portal.matching.encoder import PIECE_TOKENS, tuning_digest
from portal.matching.models import LeadAnalysis, LeadVector, LeadVectorFeed, LeadVectorWork
from portal.matching.multilingual import (
    MULTILINGUAL_RECIPE,
    PreparationFailed,
    default_multilingual_encoder,
)
from portal.matching.pieces import PieceVectors, offsets_of, pooled, unit_rows
from portal.matching.profiles import (
    NeedProfile,
    VendorProfile,
    _verified_vendor,
    need_profiles,
    open_needs,
    vendor_profiles,
    verified_vendors,
)
from portal.matching.ranking import NEVER, CandidateRow, Candidates
from portal.needs.models import Need
from portal.organizations.models import Organization
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


def fingerprint(pieces: Sequence[str]) -> int:
    """What a record's vector is made of, as 64 bits: equal fingerprints, equal vectors."""
    digest = hashlib.blake2b("\x1f".join(pieces).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


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


# -- sentence vectors ------------------------------------------------------------------
# Every candidate's piece vectors live in the database (``lead_vectors``), each row with
# the fingerprint of the pieces it was made from and the recipe that made it. They are
# computed outside any page by whoever claims the record in the work queue
# (``lead_vector_work``): any number of workers, on any number of machines sharing one
# database, each claiming disjoint chunks. The queue is fed from the index-event outbox,
# the same events that keep search in step. A process's snapshot matrices are assembled
# from those rows into the generation's folder: a per-machine cache, rebuilt from the
# database whenever it is missing. Until a side is complete its ranking leaves the
# semantic signal out.
#
# Each chunk is its own unit of work and commits itself: an interrupted run keeps every
# chunk it finished, and a crash rolls back (and so frees) the chunk in hand.

VECTOR_DIM = 384
# Records claimed per transaction. On PostgreSQL their queue rows stay locked until the
# chunk commits, so this bounds what an interrupted worker loses (a few seconds of encoder
# time) and how unevenly the last chunks fall between workers; all of a chunk's pieces go
# to the encoder in one call (about 1,500 at 6 pieces a record), which keeps it batched.
VECTOR_CHUNK = 256
# What a stored vector means: the model and how a record's text becomes one vector. Change
# it whenever that changes: every record is then queued again, and vectors of the old
# recipe are never used meanwhile.
VECTOR_RECIPE = (
    f"all-MiniLM-L6-v2/tuned-{tuning_digest()[:12] or 'no'}/pieces-kept/{PIECE_TOKENS}-tokens"
)
KINDS = ("need", "vendor")  # and the order a chunk takes them in (the queue's key order)
SIDES = {"vendor": "vendors", "need": "needs"}
# Needs not written in English (portal.matching.crosslingual): their e5 vectors, mapped
# into the English space when read. Kept in the same store and queue under a kind of
# their own, taken after the English space's, so that English leads are at full quality
# first. Vendors are never embedded by e5.
MULTILINGUAL_KINDS = {"e5need": "need"}
VECTOR_KINDS = (*KINDS, *MULTILINGUAL_KINDS)
# Rows of the store that are no record's: the need side's reference mean and the map
# from e5's space into the English one (portal.matching.crosslingual).
DERIVED_KINDS = ("e5ref", "e5map")


def recipe_for(kind: str) -> str:
    """The recipe of a kind's vectors: e5's for the multilingual kinds (``e5...``); the
    map between the two spaces depends on both."""
    if kind == "e5map":
        return f"map/{feed_recipe()}"
    return MULTILINGUAL_RECIPE if kind.startswith("e5") else VECTOR_RECIPE


def feed_recipe() -> str:
    """What the queue was last reconciled for: a new recipe of either space queues again."""
    both = f"{VECTOR_RECIPE}|{MULTILINGUAL_RECIPE}".encode()
    return hashlib.blake2b(both, digest_size=12).hexdigest()


def queue_recipe() -> str:
    """What the queue was last reconciled for: a new recipe of either space, or of the
    analysis (the thesaurus, the analyser), queues every record again."""
    both = f"{feed_recipe()}|{analysis_recipe(thesaurus())}".encode()
    return hashlib.blake2b(both, digest_size=12).hexdigest()


_IDS_PER_QUERY = 500  # well under SQLite's limit on bound parameters
_ROWS_PER_STATEMENT = 500
# PostgreSQL upserts rows given as arrays (``portal.bulk.insert_unnested``): a statement's rows
# stay locked until the commit either way; this only bounds one statement's arrays.
_UPSERT_ROWS = 10_000
_STREAM_ROWS = 500  # vector rows read per round trip when a whole side is read


def _fingerprints_path(generation: Path, name: str) -> Path:
    """The fingerprint of each snapshot row's pieces when the snapshot was built."""
    return generation / SNAPSHOT_FOLDER / f"{name}.fingerprints.npy"


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


def _signed(value: int) -> int:
    """A 64-bit fingerprint as the signed integer a BIGINT column holds."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _batches(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _IDS_PER_QUERY):
        yield ids[start : start + _IDS_PER_QUERY]


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _insert(table: sa.Table) -> Any:
    """An INSERT that can say ON CONFLICT (both databases we run on can)."""
    return (postgresql if _dialect() == "postgresql" else sqlite).insert(table)


def stored_pieces(
    kind: str, profiles: Sequence[VendorProfile | NeedProfile]
) -> dict[int, np.ndarray]:
    """The stored piece vectors of these records (``kind``: one of ``VECTOR_KINDS``), where
    they were made from the records' current pieces by the current recipe."""
    return stored_vectors(kind, {p.id: _signed(fingerprint(p.pieces)) for p in profiles})


def stored_vectors(kind: str, wanted: dict[int, int | None]) -> dict[int, np.ndarray]:
    """The stored piece vectors of these record ids whose fingerprint is the one given
    (a record's current text), of the current recipe; others are left out."""
    found: dict[int, np.ndarray] = {}
    for ids in _batches(sorted(wanted)):
        rows = db.session.execute(
            sa.select(LeadVector.record_id, LeadVector.fingerprint, LeadVector.vectors).where(
                LeadVector.kind == kind,
                LeadVector.recipe == recipe_for(kind),
                LeadVector.record_id.in_(ids),
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
    """Store each record's piece vectors, replacing any older ones; the caller commits."""
    now = utc_now()
    rows = [
        {
            "kind": kind,
            "record_id": profile.id,
            "fingerprint": _signed(fingerprint(profile.pieces)),
            "recipe": recipe_for(kind),
            "vectors": embedded.of(row).astype(np.float16).tobytes(),
            "computed_at": now,
        }
        for row, profile in enumerate(profiles)
    ]
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        statement = _insert(LeadVector.__table__)
        statement = statement.on_conflict_do_update(
            index_elements=["kind", "record_id"],
            set_={
                column: statement.excluded[column]
                for column in ("fingerprint", "recipe", "vectors", "computed_at")
            },
        )
        db.session.execute(statement, rows[start : start + _ROWS_PER_STATEMENT])


def vectors_version() -> Any:
    """Changes whenever vectors are written (an indexed maximum: cheap to ask)."""
    return db.session.scalar(sa.select(sa.func.max(LeadVector.computed_at)))


# -- the work queue -----------------------------------------------------------------------


def enqueue_vector_work(records: Iterable[tuple[str, int]]) -> int:
    """Queue these (kind, record id) pairs, each stamped now; the caller commits.

    A record already queued is stamped again, so that a claimer that read its older text
    leaves it queued. On PostgreSQL that waits for the chunk that holds the record, if any,
    to commit: only workers and commands feed the queue, never a page.
    """
    now = utc_now()
    table = LeadVectorWork.__table__
    rows = [
        {"kind": kind, "record_id": record, "enqueued_at": now}
        for kind, record in sorted(set(records))  # one order: feeders lock rows alike
    ]
    if _dialect() != "postgresql":
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            db.session.execute(_restamp(_insert(table)), rows[start : start + _ROWS_PER_STATEMENT])
        return len(rows)
    # PostgreSQL: each statement's rows as two arrays (not a placeholder per value, as the
    # VALUES of an upsert would be; COPY cannot upsert), taken in the arrays' order, so
    # feeders still lock them alike.
    for start in range(0, len(rows), _UPSERT_ROWS):
        chunk = rows[start : start + _UPSERT_ROWS]
        statement = insert_unnested(table, chunk, ("kind", "record_id"), enqueued_at=now)
        db.session.execute(_restamp(statement))
    return len(rows)


def _restamp(statement: Any) -> Any:
    """The queue's upsert: a record already queued gets the new stamp."""
    return statement.on_conflict_do_update(
        index_elements=["kind", "record_id"], set_={"enqueued_at": statement.excluded.enqueued_at}
    )


def _every_need_multilingual() -> bool:
    return current_app.config.get("PORTAL_LEADS_MULTILINGUAL") == "all"


def _not_english() -> sa.ColumnElement[bool]:
    """Needs the multilingual space ranks: written in a language we detected, not English
    (an undecided one, too short to tell, stays in the English space); with
    ``PORTAL_LEADS_MULTILINGUAL=all``, every need."""
    if _every_need_multilingual():
        return sa.true()
    return sa.and_(Need.language.is_not(None), Need.language != "en")


def _multilingual_need_ids() -> sa.Select[tuple[int]]:
    return sa.select(Need.id).where(Need.is_public, _not_english())


def multilingual_needs_exist() -> bool:
    return db.session.execute(_multilingual_need_ids().limit(1)).first() is not None


def _candidate_ids(kind: str) -> sa.Select[tuple[int]]:
    """The ids of the records that are candidates today, as the profiles read them; for
    e5, the needs not in English."""
    if kind == "vendor":
        return sa.select(Organization.id).where(_verified_vendor())
    if kind == "e5need":
        return _multilingual_need_ids()
    return sa.select(Need.id).where(Need.is_public)


def enqueue_missing_vectors() -> int:
    """Queue every candidate with no vectors of the current recipe (a new portal, a new
    recipe, a restored backup); the caller commits. A candidate whose vectors are of an
    older text is queued by the index event its edit wrote."""
    vectors = sum(_enqueue_missing(kind) for kind in VECTOR_KINDS)
    return vectors + sum(_enqueue_missing_analyses(kind) for kind in ANALYSIS_KINDS)


def _enqueue_missing_analyses(kind: str) -> int:
    """Queue the candidates of ``kind`` with no analysis of the current recipe (a new
    thesaurus or analyser: the worker that claims them analyses them, and embeds only
    those whose vectors are missing too); the caller commits."""
    return _enqueue_without(kind, LeadAnalysis, analysis_recipe(thesaurus()))


def _enqueue_missing(kind: str) -> int:
    """Queue the candidates of ``kind`` with no vectors of its recipe; the caller commits."""
    return _enqueue_without(kind, LeadVector, recipe_for(kind))


def _enqueue_without(kind: str, stored: type[LeadVector] | type[LeadAnalysis], recipe: str) -> int:
    """Queue the candidates of ``kind`` that have no row of ``recipe`` in ``stored``."""
    now = sa.bindparam("now", utc_now(), type_=UTCDateTime(timezone=True))
    ids = _candidate_ids(kind).subquery()
    have = (
        sa.select(stored.record_id)
        .where(stored.kind == kind, stored.record_id == ids.c.id, stored.recipe == recipe)
        .exists()
    )
    source = sa.select(sa.literal(kind), ids.c.id, now).where(~have)
    statement = (
        _insert(LeadVectorWork.__table__)
        .from_select(["kind", "record_id", "enqueued_at"], source)
        .on_conflict_do_nothing(index_elements=["kind", "record_id"])
        .returning(LeadVectorWork.__table__.c.record_id)
    )
    return len(db.session.execute(statement).all())


def remove_stale_vectors() -> int:
    """Delete the vectors of records that stopped being candidates without an event naming
    them (a need past its closing date), and their analyses (``remove_stale_analyses``);
    the caller commits; returns how many records' vectors went. Others are removed by the
    chunk that claims them."""
    removed = 0
    for kind in VECTOR_KINDS:
        statement = sa.delete(LeadVector.__table__).where(
            LeadVector.kind == kind, LeadVector.record_id.not_in(_candidate_ids(kind))
        )
        removed += db.session.execute(statement).rowcount or 0
    # kinds an earlier version wrote (e5 vectors of vendors): nobody reads or claims them
    known = (*VECTOR_KINDS, *DERIVED_KINDS)
    removed += (
        db.session.execute(
            sa.delete(LeadVector.__table__).where(LeadVector.kind.not_in(known))
        ).rowcount
        or 0
    )
    db.session.execute(
        sa.delete(LeadVectorWork.__table__).where(LeadVectorWork.kind.not_in(VECTOR_KINDS))
    )
    remove_stale_analyses()
    return removed


def remove_stale_analyses() -> int:
    """Delete the analyses of records that are no longer candidates, and those of kinds or
    recipes nobody reads (an older thesaurus or analyser); the caller commits. An analysis
    of an older text is replaced by the chunk that claims its record."""
    table = LeadAnalysis.__table__
    removed = 0
    for kind in ANALYSIS_KINDS:
        statement = sa.delete(table).where(
            LeadAnalysis.kind == kind, LeadAnalysis.record_id.not_in(_candidate_ids(kind))
        )
        removed += db.session.execute(statement).rowcount or 0
    unread = sa.or_(
        LeadAnalysis.kind.not_in(ANALYSIS_KINDS),
        LeadAnalysis.recipe != analysis_recipe(thesaurus()),
    )
    removed += db.session.execute(sa.delete(table).where(unread)).rowcount or 0
    return removed


def reconcile_vectors() -> tuple[int, int]:
    """Queue every candidate without vectors and delete the vectors of non-candidates, then
    commit: (queued, removed). Run by ``portal leads vectors`` and when a worker starts.
    Vectors an earlier version computed into this machine's live snapshot are taken into
    the database first, so that an upgrade does not embed every record again."""
    try:
        generation = IndexStore.from_app().current_generation()
    except OSError:  # no readable index folder here: nothing to take over, vectors go on
        generation = None
    if generation is not None:
        seed_from_snapshot_files(generation)
    queued, removed = enqueue_missing_vectors(), remove_stale_vectors()
    db.session.commit()
    return queued, removed


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
                    "fingerprint": _signed(int(prints[row])),
                    "recipe": VECTOR_RECIPE,
                    "vectors": np.asarray(pieces[offsets[row] : offsets[row + 1]]).tobytes(),
                    "computed_at": now,
                }
            )
            if len(batch) == _ROWS_PER_STATEMENT:
                seeded += _insert_new(batch)
                batch = []
        seeded += _insert_new(batch)
    return seeded


def _insert_new(rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    statement = _insert(LeadVector.__table__).on_conflict_do_nothing(
        index_elements=["kind", "record_id"]
    )
    db.session.execute(statement, rows)
    return len(rows)


def _feed() -> LeadVectorFeed:
    """The feed's one row, locked until this transaction ends: feeders take turns."""
    db.session.execute(
        _insert(LeadVectorFeed.__table__)
        .values(id=1, last_event=0, horizon=0, seen="", recipe="", updated_at=utc_now())
        .on_conflict_do_nothing(index_elements=["id"])
    )
    query = (
        sa.select(LeadVectorFeed)
        .where(LeadVectorFeed.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return db.session.scalars(query).one()


def changed_records(state: Position) -> tuple[set[int], set[int]]:
    """The vendor and need ids that index events since ``state`` name (a buyer's event
    names its needs: its verification decides whether they are candidates)."""
    events, _ = events_since(state)
    return records_named(events)


def records_named(events: Sequence[tuple[int, str, int]]) -> tuple[set[int], set[int]]:
    vendor_ids = {record for _, kind, record in events if kind == "vendor"}
    need_ids = {record for _, kind, record in events if kind == "need"}
    buyer_ids = sorted({record for _, kind, record in events if kind == "buyer"})
    for buyers in _batches(buyer_ids):
        query = sa.select(Need.id).where(one_of(_dialect(), Need.buyer_id, buyers))
        need_ids.update(db.session.scalars(query))
    return vendor_ids, need_ids


def feed_vector_queue() -> int:
    """Queue the records named by the index events written since the queue last read the
    outbox, and commit; returns how many were queued.

    The position is kept in the database (``lead_vector_feed``) like the search index
    keeps its own, so any worker on any machine may feed. Deleted records and records that
    stopped being candidates are queued too: the chunk that claims them removes their
    vectors. When the recipe changed since the last feed, every candidate is queued.
    """
    feed = _feed()
    queued = 0
    if feed.recipe != queue_recipe():
        queued += enqueue_missing_vectors()
        feed.recipe = queue_recipe()
    events, after = events_since(Position(feed.last_event, feed.horizon, feed.seen))
    vendor_ids, need_ids = records_named(events)
    records = [("vendor", i) for i in vendor_ids] + [("need", i) for i in need_ids]
    # a named need not in English, or one that was (its chunk removes its vectors)
    records += [("e5need", i) for i in _multilingual_named(need_ids)]
    queued += enqueue_vector_work(records)
    feed.last_event, feed.horizon, feed.seen = after.last_event, after.horizon, after.seen
    feed.updated_at = utc_now()
    db.session.commit()
    return queued


def _multilingual_named(need_ids: set[int]) -> set[int]:
    """Of these needs, those in the multilingual space now or with vectors there."""
    found: set[int] = set()
    for ids in _batches(sorted(need_ids)):
        named = one_of(_dialect(), Need.id, ids)
        found.update(db.session.scalars(_multilingual_need_ids().where(named)))
        found.update(
            db.session.scalars(
                sa.select(LeadVector.record_id).where(
                    LeadVector.kind == "e5need", one_of(_dialect(), LeadVector.record_id, ids)
                )
            )
        )
    return found


def pending_vectors() -> int:
    """Records queued and not yet done (including those in chunks being worked on)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(LeadVectorWork)) or 0


Claim = tuple[str, int, dt.datetime]


def claim_vector_work(limit: int) -> list[Claim]:
    """Up to ``limit`` queued records that no other transaction holds, locked until this
    transaction ends: (kind, record id, when queued).

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so concurrent claimers get disjoint chunks and
    a crashed claimer's rows are free again once its connection is gone. SQLite has no row
    locks and one writer at a time: there it is a plain read (see ``run_vector_chunk``).
    """
    claimed: list[Claim] = []
    # the English space's records first, then the multilingual space's
    for kinds in (KINDS, tuple(MULTILINGUAL_KINDS)):
        if len(claimed) >= limit:
            break
        query = (
            sa.select(LeadVectorWork.kind, LeadVectorWork.record_id, LeadVectorWork.enqueued_at)
            .where(LeadVectorWork.kind.in_(kinds))
            .order_by(LeadVectorWork.kind, LeadVectorWork.record_id)
            .limit(limit - len(claimed))
            .with_for_update(skip_locked=True)
        )
        claimed += [(kind, record, stamp) for kind, record, stamp in db.session.execute(query)]
    return claimed


def _profiles(kind: str, ids: Sequence[int]) -> dict[int, VendorProfile | NeedProfile]:
    """The profiles of the candidates among ``ids`` (for e5, needs not in English)."""
    side = MULTILINGUAL_KINDS.get(kind, kind)
    load = vendor_profiles if side == "vendor" else need_profiles
    found: dict[int, VendorProfile | NeedProfile] = {}
    for batch in _batches(list(ids)):
        found.update(load(list(batch)))
    if kind == "e5need":
        found = {i: p for i, p in found.items() if is_multilingual(p)}  # type: ignore[arg-type]
    return found


def is_multilingual(need: NeedProfile) -> bool:
    """Whether a need is ranked in the multilingual space (as ``_not_english`` selects)."""
    if _every_need_multilingual():
        return True
    return need.language is not None and need.language != "en"


def _stored_prints(kind: str, ids: Sequence[int]) -> dict[int, int]:
    """The fingerprint of each of these records' stored vectors of the current recipe."""
    found: dict[int, int] = {}
    for batch in _batches(list(ids)):
        rows = db.session.execute(
            sa.select(LeadVector.record_id, LeadVector.fingerprint).where(
                LeadVector.kind == kind,
                LeadVector.recipe == recipe_for(kind),
                LeadVector.record_id.in_(batch),
            )
        )
        found.update((record_id, stored) for record_id, stored in rows)
    return found


@dataclass
class VectorWork:
    """What claiming chunks did."""

    claimed: int = 0  # queue rows taken off
    embedded: int = 0  # records embedded (their stored vectors were not of their text)
    removed: int = 0  # records whose vectors were deleted: no longer candidates
    records: list[tuple[str, int]] = field(default_factory=list)  # those embedded
    # records whose text was analysed (their stored analysis was not of their text)
    analysed: list[tuple[str, int]] = field(default_factory=list)

    def add(self, other: VectorWork) -> None:
        self.claimed += other.claimed
        self.embedded += other.embedded
        self.removed += other.removed
        self.records.extend(other.records)
        self.analysed.extend(other.analysed)


def run_vector_chunk(encode: Encode, limit: int = VECTOR_CHUNK) -> VectorWork:
    """Claim up to ``limit`` queued records, embed those whose stored vectors were not made
    from their current pieces by the current recipe, analyse those whose stored analysis
    was not made from their current text (``portal.matching.analysis``), store both,
    delete the vectors and analyses of claimed records that are no longer candidates, take
    the claimed rows off the queue and commit: one unit of work.

    On PostgreSQL the claim's row locks are held until the commit, so no record is in two
    chunks and none is embedded twice. SQLite lets one writer in at a time, so the claim is
    committed before the encoder runs (not to hold every page's writes meanwhile); a second
    SQLite worker may then take the same records and embed them again (duplicated work,
    the same vectors). Either way a record queued again while its chunk ran (an edit) keeps
    its row, because a claimed row is deleted only if its stamp is still the claimed one;
    and vectors of a text that changed meanwhile carry that text's fingerprint, so nobody
    uses them.
    """
    claimed = claim_vector_work(limit)
    work = VectorWork(claimed=len(claimed))
    if not claimed:
        db.session.commit()
        return work
    todo: list[tuple[str, VendorProfile | NeedProfile]] = []
    gone: dict[str, list[int]] = {}
    thes = thesaurus()
    recipe = analysis_recipe(thes)
    to_analyse: dict[str, list[VendorProfile | NeedProfile]] = {}
    for kind in VECTOR_KINDS:
        ids = [record for claimed_kind, record, _ in claimed if claimed_kind == kind]
        if not ids:
            gone[kind] = []
            continue
        profiles = _profiles(kind, ids)
        gone[kind] = [i for i in ids if i not in profiles]
        have = _stored_prints(kind, list(profiles))
        todo += [
            (kind, profiles[i])
            for i in ids
            if i in profiles and have.get(i) != _signed(fingerprint(profiles[i].pieces))
        ]
        if kind in ANALYSIS_KINDS:
            analysed = stored_prints(kind, list(profiles), recipe)
            to_analyse[kind] = [
                profiles[i]
                for i in ids
                if i in profiles and analysed.get(i) != text_fingerprint(profiles[i].text)
            ]
    if _dialect() == "sqlite":
        db.session.commit()
    done: list[tuple[str, VendorProfile | NeedProfile]] = []
    chosen_by_kind = {
        kind: [p for row_kind, p in todo if row_kind == kind] for kind in VECTOR_KINDS
    }
    # every encoder before any is run: when e5 fails to prepare (PreparationFailed), the
    # chunk is rolled back whole and stays queued, with no English record embedded for
    # nothing
    encoders = {kind: _encoder_for(kind, encode) for kind, c in chosen_by_kind.items() if c}
    for kind in VECTOR_KINDS:
        chosen = chosen_by_kind[kind]
        encoder = encoders.get(kind)
        if chosen and encoder is not None:
            save_pieces(kind, chosen, embed_pieces(encoder, [p.pieces for p in chosen]))
            done += [(kind, profile) for profile in chosen]
            if kind == "e5need":  # the reference mean and the map, once per recipe
                from portal.matching.crosslingual import ensure_reference

                ensure_reference(multilingual_encoder(), encode)
        for ids in _batches(gone[kind]):
            deleted = db.session.execute(
                sa.delete(LeadVector.__table__).where(
                    LeadVector.kind == kind, LeadVector.record_id.in_(ids)
                )
            )
            work.removed += deleted.rowcount or 0
        if kind in ANALYSIS_KINDS:
            delete_analyses(kind, gone[kind])
    # written after the encoder: on SQLite a write holds the one write lock to the commit
    for kind, chosen_profiles in to_analyse.items():
        made = [(p.id, p.text, analysis.analyse(p.text, thes)) for p in chosen_profiles]
        save_analyses(kind, made, thes)
        work.analysed += [(kind, p.id) for p in chosen_profiles]
    table = LeadVectorWork.__table__
    db.session.execute(
        sa.delete(table).where(
            table.c.kind == sa.bindparam("claimed_kind"),
            table.c.record_id == sa.bindparam("claimed_id"),
            table.c.enqueued_at == sa.bindparam("claimed_at"),
        ),
        [
            {"claimed_kind": kind, "claimed_id": record, "claimed_at": stamp}
            for kind, record, stamp in claimed
        ],
    )
    db.session.commit()
    work.embedded = len(done)
    work.records = [(kind, profile.id) for kind, profile in done]
    return work


def _encoder_for(kind: str, encode: Encode) -> Encode | None:
    """What embeds a record of ``kind``: the English space's encoder, or e5 (a need, as a
    query). Without e5 installed, multilingual records are taken off the queue with no
    vectors, and their needs rank in the English space; when e5 is installed but fails to
    prepare, ``PreparationFailed`` leaves them queued for a later chunk."""
    if kind in KINDS:
        return encode
    e5 = multilingual_encoder()
    return e5.queries if e5 is not None else None


def _wait_for_claimed_work() -> bool:
    """Whether work remains once the chunks other transactions hold are done: waits for the
    holder of the first queued row (PostgreSQL). On SQLite nothing is held past a claim,
    so an empty claim means an empty queue."""
    if _dialect() != "postgresql":
        return False
    query = (
        sa.select(LeadVectorWork.kind)
        .order_by(LeadVectorWork.kind, LeadVectorWork.record_id)
        .limit(1)
        .with_for_update()
    )
    remains = db.session.execute(query).first() is not None
    db.session.commit()
    return remains


def compute_vectors(
    encode: Encode,
    *,
    max_records: int | None = None,
    chunk: int = VECTOR_CHUNK,
    progress: Progress | None = None,
    wait_for_others: bool = False,
) -> VectorWork:
    """Work through the queue chunk by chunk, each committed on its own, until it is empty
    or ``max_records`` queue rows were taken. With ``wait_for_others``, also wait for the
    chunks other workers hold, so that the queue is empty on return (``portal import``,
    ``portal leads vectors``). ``progress`` is told each chunk's claimed rows."""
    total = VectorWork()
    _ensure_derived_once(encode)
    while max_records is None or total.claimed < max_records:
        size = chunk if max_records is None else min(chunk, max_records - total.claimed)
        done = run_vector_chunk(encode, size)
        total.add(done)
        if done.claimed:
            if progress is not None:
                progress(done.claimed)
        elif not (wait_for_others and _wait_for_claimed_work()):
            break
    return total


_DERIVED_CHECKED: set[str] = set()


def _ensure_derived_once(encode: Encode) -> None:
    """Once per process and recipe: write the multilingual reference and map if needs not
    in English have vectors but those rows are missing (a portal upgraded from a version
    that had none; a chunk of such needs writes them otherwise)."""
    if feed_recipe() in _DERIVED_CHECKED:
        return
    if multilingual_needs_exist():
        e5 = multilingual_encoder()  # PreparationFailed: checked again on the next call
        if e5 is not None:
            from portal.matching.crosslingual import ensure_reference

            if ensure_reference(e5, encode):
                db.session.commit()
    _DERIVED_CHECKED.add(feed_recipe())


def update_vectors(
    encode: Encode,
    *,
    max_records: int | None = None,
    progress: Progress | None = None,
    wait_for_others: bool = False,
) -> VectorWork:
    """Feed the queue from the outbox, then work through it (``compute_vectors``)."""
    feed_vector_queue()
    return compute_vectors(
        encode, max_records=max_records, progress=progress, wait_for_others=wait_for_others
    )


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
    profiles = _profiles(kind, [int(i) for i in ids[rows]])
    for row in rows.tolist():
        profile = profiles.get(int(ids[row]))
        current = _signed(fingerprint(profile.pieces)) if profile is not None else None
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
        .execution_options(yield_per=_STREAM_ROWS)
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


# After a failed preparation of e5, how long a process waits before trying again: a worker
# pass comes every few seconds, and a preparation that fails (a full disk, say) may take
# a minute of both cores before it does.
MULTILINGUAL_RETRY_SECONDS = 300.0


def multilingual_encoder() -> Any:
    """The process's e5 encoder (portal.matching.multilingual), prepared on first use:
    only workers and commands embed, and only once a need not in English exists. None when
    e5 is not installed, for the process's lifetime. A failed preparation is not kept: it
    raises ``PreparationFailed`` (as a failure within the last MULTILINGUAL_RETRY_SECONDS
    does, without trying), and a later call tries again. Keeping it as None turned e5 off
    in that process until it restarted, and every need it then took off the queue was
    ranked without its vectors."""
    model_dir = Path(current_app.config["PORTAL_MODEL_DIR"])
    key = model_dir / "multilingual"
    if key in process_cache.encoders:
        return process_cache.encoders[key]
    failed_at = process_cache.failures.get(key)
    if failed_at is not None and time.monotonic() - failed_at < MULTILINGUAL_RETRY_SECONDS:
        raise PreparationFailed("the multilingual encoder failed to prepare; it is retried later")
    try:
        encoder = default_multilingual_encoder(model_dir)
    except PreparationFailed:
        process_cache.failures[key] = time.monotonic()
        raise
    process_cache.failures.pop(key, None)
    process_cache.encoders[key] = encoder
    return encoder


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
