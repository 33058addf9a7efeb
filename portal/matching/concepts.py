"""The smart-city thesaurus: procurement concepts with the words each side uses for them.

A city writes "the lamps along the river keep failing"; a vendor writes "LED streetlight
retrofit with fault reporting". Both name the concept *street lighting*, through its
``problem`` and ``solution`` phrases in ``concepts.toml``. Detecting concepts on both
sides bridges the two vocabularies, and gives leads reasons in plain words.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from portal.matching.text import phrase_terms, words

CONCEPTS_FILE = Path(__file__).with_name("concepts.toml")
# The message context of the labels in the catalogs: ``concepts.toml`` holds each label in
# English; ``portal.i18n.extract.concept_labels`` (in babel.cfg) extracts them for the
# translators, and ``portal.matching.reasons.concept_label`` reads them in the reader's
# language. A context keeps "street lighting" the concept apart from any other message.
LABEL_CONTEXT = "concept"
RELATED_WEIGHT = 0.35
TEXT_MATCHES_KEPT = 20_000


def collapsed(phrase: str, stemmed: Sequence[str]) -> bool:
    """Whether analysis shrank a phrase of several words to a single common one: numbers
    and stop words are not matched, so "project 25" would match every "project", "it
    staff" every "staff" and "1:1 devices" every "devices", naming concepts the text
    never meant. Such a phrase is left out rather than matched as that one word."""
    return len(stemmed) == 1 and len(words(phrase)) > 1


# A word as written, any case: ``own_words`` quotes the text, not its lowercased terms.
_WRITTEN_WORD = re.compile(r"[A-Za-z0-9]+(?:['\u2019\-][A-Za-z0-9]+)*")


def own_words(text: str, phrases: Sequence[str]) -> list[str]:
    """The text's own words for each thesaurus phrase found in it: the shortest stretch of
    ``text`` holding every word of the phrase as ``Thesaurus.match`` finds it (stemmed, in
    any order, close together). A phrase is matched by its stem, so the text may say
    "pumping stations" where the thesaurus says "pump stations": a reason quoting the
    city must quote what the city wrote. A phrase not found as written (a place name
    folded into one word) is left out."""
    written = [
        (found.start(), found.end(), set(stemmed))
        for found in _WRITTEN_WORD.finditer(text or "")
        if (stemmed := phrase_terms(found.group()))
    ]
    quoted: list[str] = []
    for phrase in phrases:
        wanted = set(phrase_terms(phrase))
        best: tuple[int, int] | None = None
        for first, (start, _, stems) in enumerate(written):
            if not wanted or not stems & wanted:
                continue
            seen: set[str] = set()
            # as far as Thesaurus.match looks: the phrase's length and two words more
            for _, end, later in written[first : first + len(wanted) + 3]:
                seen |= later & wanted
                if seen == wanted:
                    if best is None or end - start < best[1] - best[0]:
                        best = (start, end)
                    break
        if best is not None and text[best[0] : best[1]] not in quoted:
            quoted.append(text[best[0] : best[1]])
    return quoted


@dataclass(frozen=True)
class Concept:
    id: str
    label: str
    sectors: tuple[str, ...]
    related: tuple[str, ...]


@dataclass
class ConceptMatch:
    """Which concepts a text names, how strongly, and the words that named each."""

    strengths: dict[int, float] = field(default_factory=dict)
    evidence: dict[int, list[str]] = field(default_factory=dict)


@dataclass
class Thesaurus:
    concepts: list[Concept]
    # first stemmed term of a phrase -> [(phrase terms, concept index, original phrase)]
    phrases: dict[str, list[tuple[tuple[str, ...], int, str]]]
    related: sp.csr_matrix  # concepts x concepts: 1 on the diagonal, RELATED_WEIGHT off it
    # text -> its match: a leads page asks about the same need and capabilities for every
    # lead it lists, and again on the next request
    _text_matches: dict[str, ConceptMatch] = field(default_factory=dict, repr=False, compare=False)
    # of the file it was loaded from: part of a stored analysis's recipe
    # (portal.matching.analysis), so that an edited thesaurus never reads older matches
    digest: str = ""

    @classmethod
    def load(cls, path: Path = CONCEPTS_FILE) -> Thesaurus:
        data = path.read_bytes()
        raw = tomllib.loads(data.decode("utf-8"))["concept"]
        concepts = [
            Concept(c["id"], c["label"], tuple(c.get("sectors", ())), tuple(c.get("related", ())))
            for c in raw
        ]
        index = {c.id: i for i, c in enumerate(concepts)}
        phrases: dict[str, list[tuple[tuple[str, ...], int, str]]] = defaultdict(list)
        seen: set[tuple[tuple[str, ...], int]] = set()
        for i, entry in enumerate(raw):
            for phrase in [*entry.get("problem", ()), *entry.get("solution", ())]:
                stemmed = tuple(phrase_terms(phrase))
                if collapsed(phrase, stemmed):
                    continue
                if stemmed and (stemmed, i) not in seen:
                    seen.add((stemmed, i))
                    phrases[stemmed[0]].append((stemmed, i, phrase))
        rows, cols, vals = [], [], []
        for i, concept in enumerate(concepts):
            rows.append(i)
            cols.append(i)
            vals.append(1.0)
            for other in concept.related:
                if other in index and index[other] != i:
                    for a, b in ((i, index[other]), (index[other], i)):
                        rows.append(a)
                        cols.append(b)
                        vals.append(RELATED_WEIGHT)
        related = sp.coo_matrix((vals, (rows, cols)), shape=(len(concepts),) * 2).tocsr()
        related.data = np.minimum(related.data, 1.0)  # a pair listed both ways counts once
        digest = hashlib.blake2b(data, digest_size=8).hexdigest()
        return cls(concepts, dict(phrases), related, digest=digest)

    def match(self, text_terms: Sequence[str]) -> ConceptMatch:
        """Find the phrases in ``text_terms`` (from ``phrase_terms``); a phrase of several
        words matches when all of them stand close together, in any order, so that "the
        queues at the bridge stretch" finds "queue stretches". A concept's strength grows
        with the distinct phrases found, with diminishing returns."""
        positions: dict[str, list[int]] = defaultdict(list)
        for i, term in enumerate(text_terms):
            positions[term].append(i)
        found: dict[int, dict[tuple[str, ...], str]] = defaultdict(dict)
        for term, starts in positions.items():
            for phrase, concept, original in self.phrases.get(term, ()):
                # Cheap test first: every word of the phrase occurs somewhere in the text.
                if len(phrase) > 1 and not all(other in positions for other in phrase[1:]):
                    continue
                window = len(phrase) + 2
                if any(
                    all(
                        any(abs(p - start) <= window for p in positions[other])
                        for other in phrase[1:]
                    )
                    for start in starts
                ):
                    found[concept].setdefault(phrase, original)
        result = ConceptMatch()
        for concept, by_phrase in found.items():
            # Several distinct phrases are much stronger evidence than one.
            result.strengths[concept] = 1.0 - math.exp(-0.7 * len(by_phrase))
            result.evidence[concept] = sorted(by_phrase.values(), key=len, reverse=True)
        return result

    def match_text(self, text: str) -> ConceptMatch:
        """``match(phrase_terms(text))``, remembered for the most recent texts. The
        result is shared: read it, never change it."""
        found = self._text_matches.get(text)
        if found is None:
            if len(self._text_matches) >= TEXT_MATCHES_KEPT:
                self._text_matches.clear()
            found = self._text_matches[text] = self.match(phrase_terms(text))
        return found

    def matrix(self, matches: Iterable[ConceptMatch], rows: int) -> sp.csr_matrix:
        data, r, c = [], [], []
        for row, match in enumerate(matches):
            for concept, strength in match.strengths.items():
                r.append(row)
                c.append(concept)
                data.append(strength)
        return sp.csr_matrix(
            (np.asarray(data, dtype=np.float32), (r, c)), shape=(rows, len(self.concepts))
        )


@cache
def concept_phrases(kind: str) -> tuple[tuple[str, ...], ...]:
    """Each concept's ``kind`` phrases ("problem" or "solution"), in the file's order: the
    project's own text, which the encoder's references are made from."""
    with CONCEPTS_FILE.open("rb") as handle:
        raw = tomllib.load(handle)["concept"]
    return tuple(tuple(entry.get(kind, ())) for entry in raw)


@cache
def thesaurus() -> Thesaurus:
    """The thesaurus of ``concepts.toml``, loaded once per process."""
    return Thesaurus.load()
