"""What the lead ranking reads of a record's text: its analysed terms and concept matches,
computed once per text and shared by every process through the database.

A record's *analysis* is its ranking terms (``text.both_terms``, in order, repeats kept:
what BM25 counts) and the strengths of the thesaurus concepts it names
(``Thesaurus.match``). It depends on nothing but the text and the recipe: the analyser's
version and the thesaurus file, never on the other records (BM25 weights and concept idf
are the snapshot's, applied when a side is built). So it is stored once per record
version in ``lead_analyses``, with the fingerprint of the text it came from, by the worker
that claims the record in the vector queue (``store.queue.run_vector_chunk``), and read by every
process that meets the record changed (``LiveSide.apply``) or builds a snapshot. A row
whose fingerprint or recipe is not the record's current one is never used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa

from portal.bulk import upsert_rows
from portal.db import utc_now
from portal.extensions import db
from portal.matching.concepts import Thesaurus
from portal.matching.models import LeadAnalysis
from portal.matching.text import both_terms

# Bump whenever the analysis of a text changes in code (portal/matching/text.py, the stop
# lists, place folding, the stemmer, how Thesaurus.match weighs phrases): every stored
# analysis is then of an older recipe, never used, and computed again by the workers.
ANALYSER_VERSION = 1
ANALYSIS_KINDS = ("vendor", "need")
_IDS_PER_QUERY = 500
# (concept index, strength) pairs, as stored
_CONCEPT_PAIR = np.dtype([("concept", "<i4"), ("strength", "<f4")])


@dataclass
class Analysis:
    """One text's ranking terms and concept strengths (float32, as the matrices hold them)."""

    terms: list[str]
    concepts: dict[int, float] = field(default_factory=dict)


def analyse(text: str, thes: Thesaurus) -> Analysis:
    """Analyse one text: the only place a record's text is turned into terms and concepts
    for the candidate matrices."""
    ranking_terms, phrase_list = both_terms(text)
    strengths = thes.match(phrase_list).strengths
    return Analysis(ranking_terms, {c: float(np.float32(s)) for c, s in strengths.items()})


def analysis_recipe(thes: Thesaurus) -> str:
    """What a stored analysis means: the analyser's version and the thesaurus file."""
    return f"analysis-{ANALYSER_VERSION}/concepts-{thes.digest or 'unhashed'}"


def text_fingerprint(text: str) -> int:
    """The text an analysis came from, as a signed 64-bit integer (a BIGINT)."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def encode_terms(terms: Sequence[str]) -> str:
    """Terms as one text: a term never holds a space (``text._WORD`` and the stemmer)."""
    return " ".join(terms)


def encode_concepts(concepts: dict[int, float]) -> bytes:
    pairs = np.empty(len(concepts), dtype=_CONCEPT_PAIR)
    pairs["concept"] = list(concepts)
    pairs["strength"] = list(concepts.values())
    return pairs.tobytes()


def decode(terms: str, concepts: bytes) -> Analysis:
    pairs = np.frombuffer(concepts, dtype=_CONCEPT_PAIR)
    return Analysis(
        terms.split(" ") if terms else [],
        dict(zip(pairs["concept"].tolist(), pairs["strength"].tolist(), strict=True)),
    )


def _batches(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _IDS_PER_QUERY):
        yield ids[start : start + _IDS_PER_QUERY]


def stored_analyses(kind: str, texts: dict[int, str], thes: Thesaurus) -> dict[int, Analysis]:
    """The stored analyses of these records (id -> current text) that were made from that
    text by the current recipe; the others are left out."""
    wanted = {record_id: text_fingerprint(text) for record_id, text in texts.items()}
    return stored_by_fingerprint(kind, wanted, analysis_recipe(thes))


def stored_by_fingerprint(kind: str, wanted: dict[int, int], recipe: str) -> dict[int, Analysis]:
    found: dict[int, Analysis] = {}
    for ids in _batches(sorted(wanted)):
        rows = db.session.execute(
            sa.select(
                LeadAnalysis.record_id,
                LeadAnalysis.fingerprint,
                LeadAnalysis.terms,
                LeadAnalysis.concepts,
            ).where(
                LeadAnalysis.kind == kind,
                LeadAnalysis.recipe == recipe,
                LeadAnalysis.record_id.in_(ids),
            )
        )
        for record_id, stored_print, terms, concepts in rows:
            if wanted.get(record_id) == stored_print:
                found[record_id] = decode(terms, concepts)
    return found


def analyses_stored(kind: str, recipe: str) -> bool:
    """Whether any analysis of ``kind`` and ``recipe`` is stored (none in a new portal's
    first import: then a snapshot build looks none up)."""
    query = sa.select(LeadAnalysis.record_id).where(
        LeadAnalysis.kind == kind, LeadAnalysis.recipe == recipe
    )
    return db.session.execute(query.limit(1)).first() is not None


def stored_prints(kind: str, ids: Sequence[int], recipe: str) -> dict[int, int]:
    """The fingerprint of each of these records' stored analysis of ``recipe``."""
    found: dict[int, int] = {}
    for batch in _batches(list(ids)):
        rows = db.session.execute(
            sa.select(LeadAnalysis.record_id, LeadAnalysis.fingerprint).where(
                LeadAnalysis.kind == kind,
                LeadAnalysis.recipe == recipe,
                LeadAnalysis.record_id.in_(batch),
            )
        )
        found.update((record_id, stored) for record_id, stored in rows)
    return found


def save_analyses(kind: str, analysed: Iterable[tuple[int, str, Analysis]], thes: Thesaurus) -> int:
    """Store (record id, text, analysis) rows, replacing older ones; the caller commits."""
    now, recipe = utc_now(), analysis_recipe(thes)
    rows = [
        {
            "kind": kind,
            "record_id": record_id,
            "fingerprint": text_fingerprint(text),
            "recipe": recipe,
            "terms": encode_terms(found.terms),
            "concepts": encode_concepts(found.concepts),
            "computed_at": now,
        }
        for record_id, text, found in analysed
    ]
    upsert_rows(db.session, LeadAnalysis.__table__, rows, key=("kind", "record_id"))
    return len(rows)


def delete_analyses(kind: str, ids: Sequence[int]) -> int:
    removed = 0
    for batch in _batches(list(ids)):
        statement = sa.delete(LeadAnalysis.__table__).where(
            LeadAnalysis.kind == kind, LeadAnalysis.record_id.in_(batch)
        )
        removed += db.session.execute(statement).rowcount or 0
    return removed
