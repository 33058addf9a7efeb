"""The sentence-vector work queue: which records need vectors, and the workers that
compute them.

The vectors are computed outside any page by whoever claims the record in the queue
(``lead_vector_work``): any number of workers, on any number of machines sharing one
database, each claiming disjoint chunks (on PostgreSQL ``FOR UPDATE SKIP LOCKED``). The
queue is fed from the index-event outbox, the same events that keep search in step, and
a reconcile queues whatever a new recipe, a restored backup or a lost event left without
vectors. Each chunk is its own unit of work and commits itself: an interrupted run keeps
every chunk it finished, and a crash rolls back (and so frees) the chunk in hand.

The rows themselves are ``portal.matching.store.vectors``; once the queue is empty a machine
assembles them into its snapshot matrices (``portal.matching.store.snapshot``). The encoders live
here too, prepared once per process: only workers and commands embed, never a page.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app

from portal.bulk import insert_unnested, one_of, upsert_rows
from portal.db import UTCDateTime, utc_now
from portal.extensions import db
from portal.matching import analysis
from portal.matching.analysis import (
    ANALYSIS_KINDS,
    analysis_recipe,
    delete_analyses,
    save_analyses,
    stored_prints,
    text_fingerprint,
)
from portal.matching.concepts import thesaurus
from portal.matching.models import LeadAnalysis, LeadVector, LeadVectorFeed, LeadVectorWork
from portal.matching.multilingual import (
    PreparationFailed,
    default_multilingual_encoder,
)
from portal.matching.profiles import (
    NeedProfile,
    VendorProfile,
    _verified_vendor,
)
from portal.matching.store.snapshot import (
    Progress,
    process_cache,
    records_named,
    seed_from_snapshot_files,
)
from portal.matching.store.vectors import (
    DERIVED_KINDS,
    KINDS,
    MULTILINGUAL_KINDS,
    UPSERT_ROWS,
    VECTOR_KINDS,
    Encode,
    as_bigint,
    dialect_name,
    embed_pieces,
    feed_recipe,
    fingerprint,
    id_batches,
    insert_for,
    multilingual_need_ids,
    multilingual_needs_exist,
    profiles_of,
    queue_recipe,
    recipe_for,
    save_pieces,
    vector_prints,
)
from portal.needs.models import Need
from portal.organizations.models import Organization
from portal.outbox import Position, events_since
from portal.search.index import IndexStore

# Records claimed per transaction. On PostgreSQL their queue rows stay locked until the
# chunk commits, so this bounds what an interrupted worker loses (a few seconds of encoder
# time) and how unevenly the last chunks fall between workers; all of a chunk's pieces go
# to the encoder in one call (about 1,500 at 6 pieces a record), which keeps it batched.
VECTOR_CHUNK = 256


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
    if dialect_name() != "postgresql":
        upsert_rows(db.session, table, rows, key=("kind", "record_id"))  # stamped again
        return len(rows)
    # PostgreSQL: each statement's rows as two arrays (not a placeholder per value, as the
    # VALUES of an upsert would be; COPY cannot upsert), taken in the arrays' order, so
    # feeders still lock them alike.
    for start in range(0, len(rows), UPSERT_ROWS):
        chunk = rows[start : start + UPSERT_ROWS]
        statement = insert_unnested(table, chunk, ("kind", "record_id"), enqueued_at=now)
        db.session.execute(_restamp(statement))
    return len(rows)


def _restamp(statement: Any) -> Any:
    """The queue's upsert: a record already queued gets the new stamp."""
    return statement.on_conflict_do_update(
        index_elements=["kind", "record_id"], set_={"enqueued_at": statement.excluded.enqueued_at}
    )


def _candidate_ids(kind: str) -> sa.Select[tuple[int]]:
    """The ids of the records that are candidates today, as the profiles read them; for
    e5, the needs not in English."""
    if kind == "vendor":
        return sa.select(Organization.id).where(_verified_vendor())
    if kind == "e5need":
        return multilingual_need_ids()
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
        insert_for(LeadVectorWork.__table__)
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


def _feed() -> LeadVectorFeed:
    """The feed's one row, locked until this transaction ends: feeders take turns."""
    db.session.execute(
        insert_for(LeadVectorFeed.__table__)
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
    for ids in id_batches(sorted(need_ids)):
        named = one_of(dialect_name(), Need.id, ids)
        found.update(db.session.scalars(multilingual_need_ids().where(named)))
        found.update(
            db.session.scalars(
                sa.select(LeadVector.record_id).where(
                    LeadVector.kind == "e5need", one_of(dialect_name(), LeadVector.record_id, ids)
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
        profiles = profiles_of(kind, ids)
        gone[kind] = [i for i in ids if i not in profiles]
        have = vector_prints(kind, list(profiles))
        todo += [
            (kind, profiles[i])
            for i in ids
            if i in profiles and have.get(i) != as_bigint(fingerprint(profiles[i].pieces))
        ]
        if kind in ANALYSIS_KINDS:
            analysed = stored_prints(kind, list(profiles), recipe)
            to_analyse[kind] = [
                profiles[i]
                for i in ids
                if i in profiles and analysed.get(i) != text_fingerprint(profiles[i].text)
            ]
    if dialect_name() == "sqlite":
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
        for ids in id_batches(gone[kind]):
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
    if dialect_name() != "postgresql":
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
