"""Vectorised evaluation of plain-word searches over the Whoosh index's postings.

Whoosh's collector scores and groups every matching document with Python calls per
document: a common word at 100,000 records costs a tenth of a second before the facets
are counted. Here the postings of each term are read once per index segment into NumPy
arrays (segments never change once written; only their deletions grow), and a search is
array arithmetic: BM25F scores, the AND of the words, the filter, the facet counts and the
top of the page. The postings, field lengths and facet values all come from the Whoosh
index; nothing else is kept.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.util.numeric import byte_to_length, length_to_byte

# Whoosh's BM25F defaults, so scores order as Whoosh's own search would.
K1 = 1.2
B = 0.75
TERMS_PER_SEGMENT = 512  # cached posting lists per segment, least recently used dropped
SEGMENTS_CACHED = 64


@dataclass
class Postings:
    docs: np.ndarray  # int32 document numbers within the segment, ascending
    weights: np.ndarray  # float32 term frequency (times the field's boost)


@dataclass
class SegmentArrays:
    """What one segment contributes, read once and reused until the segment is gone."""

    size: int
    lengths: dict[str, np.ndarray]
    facet_docs: dict[str, dict[str, np.ndarray]]
    postings: OrderedDict[tuple[str, str], Postings] = field(default_factory=OrderedDict)
    live_for: tuple[int, np.ndarray] | None = None  # (deleted count, live mask)
    lock: threading.Lock = field(default_factory=threading.Lock)


_segments: OrderedDict[tuple[str, str], SegmentArrays] = OrderedDict()
_segments_lock = threading.Lock()
# byte -> length, the inverse of how Whoosh stores a field's length in one byte
_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float32)


def read_postings(reader: Any, fieldname: str, text: str) -> Postings:
    """A term's postings in one segment as arrays (empty if the segment lacks the term).

    Whoosh's W3 matcher is read a block at a time (its ids and weights are arrays per
    block of up to 128 postings); any other matcher through the public per-posting API.
    """
    if (fieldname, text) not in reader:
        return Postings(np.zeros(0, np.int32), np.zeros(0, np.float32))
    matcher = reader.postings(fieldname, text)
    ids: list[Any] = []
    weights: list[Any] = []
    if isinstance(matcher, W3LeafMatcher):
        while matcher.is_active():
            matcher._read_ids()
            matcher._read_weights()
            ids.append(np.asarray(matcher._ids, dtype=np.int32))
            weights.append(np.asarray(matcher._weights, dtype=np.float32))
            matcher._next_block()
    else:  # another codec: the public API, one posting at a time
        pairs = []
        while matcher.is_active():
            pairs.append((matcher.id(), matcher.weight()))
            matcher.next()
        if pairs:
            ids.append(np.array([p[0] for p in pairs], np.int32))
            weights.append(np.array([p[1] for p in pairs], np.float32))
    if not ids:
        return Postings(np.zeros(0, np.int32), np.zeros(0, np.float32))
    return Postings(np.concatenate(ids), np.concatenate(weights))


def _segment_arrays(
    key: tuple[str, str], reader: Any, text_fields: Sequence[str], facet_fields: Sequence[str]
) -> SegmentArrays:
    with _segments_lock:
        cached = _segments.get(key)
        if cached is not None:
            _segments.move_to_end(key)
            return cached
    size = reader.doc_count_all()
    lengths = {}
    for name in text_fields:
        raw = np.fromiter(
            (length_to_byte(reader.doc_field_length(n, name, 0) or 0) for n in range(size)),
            dtype=np.uint8,
            count=size,
        )
        lengths[name] = _LENGTH_OF_BYTE[raw]
    facet_docs = {
        name: {
            (value.decode() if isinstance(value, bytes) else str(value)): read_postings(
                reader, name, value
            ).docs
            for value in reader.lexicon(name)
        }
        for name in facet_fields
    }
    arrays = SegmentArrays(size, lengths, facet_docs)
    with _segments_lock:
        _segments[key] = arrays
        while len(_segments) > SEGMENTS_CACHED:
            _segments.popitem(last=False)
    return arrays


@dataclass
class Segment:
    reader: Any
    offset: int
    arrays: SegmentArrays

    def postings(self, fieldname: str, text: str) -> Postings:
        cache = self.arrays.postings
        key = (fieldname, text)
        with self.arrays.lock:
            found = cache.get(key)
            if found is not None:
                cache.move_to_end(key)
                return found
        found = read_postings(self.reader, fieldname, text)
        with self.arrays.lock:
            cache[key] = found
            while len(cache) > TERMS_PER_SEGMENT:
                cache.popitem(last=False)
        return found

    def live(self) -> np.ndarray:
        """Documents not deleted, as a boolean mask (cached per count of deletions)."""
        deleted = self.reader.segment().deleted_count() if self.reader.has_deletions() else 0
        cached = self.arrays.live_for
        if cached is not None and cached[0] == deleted:
            return cached[1]
        mask = np.ones(self.arrays.size, dtype=bool)
        if deleted:
            mask[np.fromiter(self.reader.segment().deleted_docs(), dtype=np.int64)] = False
        self.arrays.live_for = (deleted, mask)
        return mask


def segments(
    searcher: Any, text_fields: Sequence[str], facet_fields: Sequence[str]
) -> list[Segment]:
    """The searcher's segments with their arrays (read on first use of each segment)."""
    out = []
    for reader, offset in searcher.reader().leaf_readers():
        # Whoosh names each segment with a random id, never reused across indexes
        key = (reader.segment().segment_id(), str(reader.doc_count_all()))
        out.append(Segment(reader, offset, _segment_arrays(key, reader, text_fields, facet_fields)))
    return out


@dataclass
class Evaluation:
    total: int
    top: list[tuple[float, int]]  # (score, global document number), best first
    facets: dict[str, dict[str, int]]


@dataclass
class Query:
    """Words (each a list of analysed tokens) and the facet values every hit must have."""

    words: list[list[str]]
    require_all: bool = True
    filters: dict[str, str] = field(default_factory=dict)
    exclude: dict[str, str] = field(default_factory=dict)
    # per word, other token lists that also match it (its Indonesian/Malay root): a
    # document matches the word when it holds all tokens of any one of them
    alternatives: list[list[list[str]]] = field(default_factory=list)


def evaluate(
    searcher: Any,
    query: Query,
    text_fields: Sequence[str],
    facet_fields: Sequence[str],
    top: int,
) -> Evaluation:
    """Score, filter, count facets and keep the ``top`` best documents of ``query``.

    A word matches a document when all its tokens occur in one of ``text_fields``; with
    ``require_all`` every word must match, otherwise any. No words: every document,
    scored zero (ordered by document number, i.e. index order).
    """
    parts = segments(searcher, text_fields, facet_fields)
    # Document frequencies over live documents only: Whoosh's count includes deleted
    # documents until their segment is merged, so the same records would score
    # differently depending on the index's history.
    total_docs = max(1, sum(int(part.live().sum()) for part in parts))
    idf = {}
    for name in text_fields:
        every_token = {token for word in query.words for token in word}
        every_token.update(t for alts in query.alternatives for tokens in alts for t in tokens)
        for token in every_token:
            frequency = sum(
                int(np.count_nonzero(part.live()[part.postings(name, token).docs]))
                for part in parts
            )
            idf[(name, token)] = math.log(total_docs / (frequency + 1)) + 1
    average = {name: max(searcher.avg_field_length(name, 1.0), 1e-6) for name in text_fields}
    counts: dict[str, dict[str, int]] = {name: {} for name in facet_fields}
    total = 0
    best: list[tuple[np.ndarray, np.ndarray]] = []
    for segment in parts:
        arrays = segment.arrays
        mask = segment.live().copy()
        for name, value in query.exclude.items():
            excluded = arrays.facet_docs.get(name, {}).get(value)
            if excluded is not None and excluded.size:
                mask[excluded] = False
        for name, value in query.filters.items():
            allowed = np.zeros(arrays.size, dtype=bool)
            docs = arrays.facet_docs.get(name, {}).get(value)
            if docs is not None:
                allowed[docs] = True
            mask &= allowed
        scores = np.zeros(arrays.size, dtype=np.float32)
        if query.words:
            any_word = np.zeros(arrays.size, dtype=bool)
            for index, word in enumerate(query.words):
                word_hit = np.zeros(arrays.size, dtype=bool)
                others = query.alternatives[index] if index < len(query.alternatives) else []
                for name in text_fields:
                    field_hit, field_score = _word_in_field(segment, name, word, idf, average)
                    for other in others:
                        other_hit, other_score = _word_in_field(segment, name, other, idf, average)
                        if other_hit is not None:
                            field_hit = other_hit if field_hit is None else field_hit | other_hit
                            field_score = np.maximum(field_score, other_score)
                    if field_hit is not None:
                        word_hit |= field_hit
                        scores += field_score
                if query.require_all:
                    mask &= word_hit
                else:
                    any_word |= word_hit
            if not query.require_all:
                mask &= any_word
        matched = np.flatnonzero(mask)
        total += int(matched.size)
        if not matched.size:
            continue
        for name in facet_fields:
            into = counts[name]
            for value, docs in arrays.facet_docs.get(name, {}).items():
                if docs.size:
                    count = int(np.count_nonzero(mask[docs]))
                    if count:
                        into[value] = into.get(value, 0) + count
        matched_scores = scores[matched]
        if matched.size > top:
            keep = np.argpartition(-matched_scores, top - 1)[:top]
            matched, matched_scores = matched[keep], matched_scores[keep]
        best.append((matched_scores, matched + segment.offset))
    if not best:
        return Evaluation(total, [], counts)
    all_scores = np.concatenate([s for s, _ in best])
    all_docs = np.concatenate([d for _, d in best])
    order = np.lexsort((all_docs, -all_scores))[:top]
    return Evaluation(
        total,
        [(float(all_scores[i]), int(all_docs[i])) for i in order],
        counts,
    )


def _word_in_field(
    segment: Segment,
    name: str,
    tokens: list[str],
    idf: dict[tuple[str, str], float],
    average: dict[str, float],
) -> tuple[np.ndarray | None, np.ndarray]:
    """Where every token of one word occurs in one field, and the BM25F score there."""
    size = segment.arrays.size
    lengths = segment.arrays.lengths[name]
    hit: np.ndarray | None = None
    score = np.zeros(size, dtype=np.float32)
    for token in tokens:
        postings = segment.postings(name, token)
        if not postings.docs.size:
            return None, score
        present = np.zeros(size, dtype=bool)
        present[postings.docs] = True
        hit = present if hit is None else hit & present
        tf = postings.weights
        norm = K1 * ((1 - B) + B * lengths[postings.docs] / average[name])
        score[postings.docs] += idf[(name, token)] * (tf * (K1 + 1)) / (tf + norm)
    if hit is None:
        return None, score
    return hit, np.where(hit, score, 0).astype(np.float32)
