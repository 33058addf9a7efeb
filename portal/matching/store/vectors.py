"""Every candidate's sentence vectors, stored in the database: what they mean and how
they are read and written.

Each row of ``lead_vectors`` holds one record's piece vectors with the fingerprint of the
pieces it was made from and the recipe that made it, so any web node or worker reads the
same derived data and none uses vectors of an older text or model. Needs not in English
have a second kind of their own, e5's (``portal.matching.crosslingual``). Who computes
the rows is ``portal.matching.store.queue``; how a machine assembles them into its
snapshot matrices is ``portal.matching.store.snapshot``. This module needs neither.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from portal.bulk import upsert_rows
from portal.db import utc_now
from portal.extensions import db
from portal.matching.analysis import analysis_recipe
from portal.matching.concepts import thesaurus
from portal.matching.encoder import PIECE_TOKENS, tuning_digest
from portal.matching.models import LeadVector
from portal.matching.multilingual import MULTILINGUAL_RECIPE
from portal.matching.pieces import PieceVectors, offsets_of, pooled, unit_rows
from portal.matching.profiles import (
    NeedProfile,
    VendorProfile,
    need_profiles,
    vendor_profiles,
)
from portal.needs.models import Need


def fingerprint(pieces: Sequence[str]) -> int:
    """What a record's vector is made of, as 64 bits: equal fingerprints, equal vectors."""
    digest = hashlib.blake2b("\x1f".join(pieces).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def piece_count(pieces: Sequence[str]) -> int:
    """How many vectors a record's pieces make (a record with none is embedded as "")."""
    return max(len(pieces), 1)


VECTOR_DIM = 384
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


IDS_PER_QUERY = 500  # well under SQLite's limit on bound parameters
ROWS_PER_STATEMENT = 500
# PostgreSQL upserts rows given as arrays (``portal.bulk.insert_unnested``): a statement's rows
# stay locked until the commit either way; this only bounds one statement's arrays.
UPSERT_ROWS = 10_000
STREAM_ROWS = 500  # vector rows read per round trip when a whole side is read


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


def as_bigint(value: int) -> int:
    """A 64-bit fingerprint as the signed integer a BIGINT column holds."""
    return value - (1 << 64) if value >= 1 << 63 else value


def id_batches(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), IDS_PER_QUERY):
        yield ids[start : start + IDS_PER_QUERY]


def dialect_name() -> str:
    return db.session.get_bind().dialect.name


def insert_for(table: sa.Table) -> Any:
    """An INSERT that can say ON CONFLICT (both databases we run on can)."""
    return (postgresql if dialect_name() == "postgresql" else sqlite).insert(table)


def stored_pieces(
    kind: str, profiles: Sequence[VendorProfile | NeedProfile]
) -> dict[int, np.ndarray]:
    """The stored piece vectors of these records (``kind``: one of ``VECTOR_KINDS``), where
    they were made from the records' current pieces by the current recipe."""
    return stored_vectors(kind, {p.id: as_bigint(fingerprint(p.pieces)) for p in profiles})


def stored_vectors(kind: str, wanted: dict[int, int | None]) -> dict[int, np.ndarray]:
    """The stored piece vectors of these record ids whose fingerprint is the one given
    (a record's current text), of the current recipe; others are left out."""
    found: dict[int, np.ndarray] = {}
    for ids in id_batches(sorted(wanted)):
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
            "fingerprint": as_bigint(fingerprint(profile.pieces)),
            "recipe": recipe_for(kind),
            "vectors": embedded.of(row).astype(np.float16).tobytes(),
            "computed_at": now,
        }
        for row, profile in enumerate(profiles)
    ]
    upsert_rows(db.session, LeadVector.__table__, rows, key=("kind", "record_id"))


def vectors_version() -> Any:
    """Changes whenever vectors are written (an indexed maximum: cheap to ask)."""
    return db.session.scalar(sa.select(sa.func.max(LeadVector.computed_at)))


def _every_need_multilingual() -> bool:
    return current_app.config.get("PORTAL_LEADS_MULTILINGUAL") == "all"


def _not_english() -> sa.ColumnElement[bool]:
    """Needs the multilingual space ranks: written in a language we detected, not English
    (an undecided one, too short to tell, stays in the English space); with
    ``PORTAL_LEADS_MULTILINGUAL=all``, every need."""
    if _every_need_multilingual():
        return sa.true()
    return sa.and_(Need.language.is_not(None), Need.language != "en")


def multilingual_need_ids() -> sa.Select[tuple[int]]:
    return sa.select(Need.id).where(Need.is_public, _not_english())


def multilingual_needs_exist() -> bool:
    return db.session.execute(multilingual_need_ids().limit(1)).first() is not None


def profiles_of(kind: str, ids: Sequence[int]) -> dict[int, VendorProfile | NeedProfile]:
    """The profiles of the candidates among ``ids`` (for e5, needs not in English)."""
    side = MULTILINGUAL_KINDS.get(kind, kind)
    load = vendor_profiles if side == "vendor" else need_profiles
    found: dict[int, VendorProfile | NeedProfile] = {}
    for batch in id_batches(list(ids)):
        found.update(load(list(batch)))
    if kind == "e5need":
        found = {i: p for i, p in found.items() if is_multilingual(p)}  # type: ignore[arg-type]
    return found


def is_multilingual(need: NeedProfile) -> bool:
    """Whether a need is ranked in the multilingual space (as ``_not_english`` selects)."""
    if _every_need_multilingual():
        return True
    return need.language is not None and need.language != "en"


def vector_prints(kind: str, ids: Sequence[int]) -> dict[int, int]:
    """The fingerprint of each of these records' stored vectors of the current recipe."""
    found: dict[int, int] = {}
    for batch in id_batches(list(ids)):
        rows = db.session.execute(
            sa.select(LeadVector.record_id, LeadVector.fingerprint).where(
                LeadVector.kind == kind,
                LeadVector.recipe == recipe_for(kind),
                LeadVector.record_id.in_(batch),
            )
        )
        found.update((record_id, stored) for record_id, stored in rows)
    return found
