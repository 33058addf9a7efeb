"""Free-text search over vendors, buyers and needs, with facets, snippets and suggestions.

Whatever a visitor types is reduced to plain words before it reaches Whoosh: no query
syntax is interpreted, so unbalanced quotes, brackets or ``AND OR ~~ :::`` are simply
searched as the words they contain. Hits are loaded from the database by id, and only
records that are public right now are shown, so a stale index never leaks a closed need
or an unverified organization.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy.orm import selectinload
from whoosh.highlight import SCORE, ContextFragmenter, HtmlFormatter, highlight
from whoosh.spelling import ListCorrector

from portal.extensions import db
from portal.languages.segment import (
    MALAY,
    QUERY_WORD,
    fold_text_same_length,
    has_unspaced_script,
    word_boundary,
)
from portal.needs.models import Need
from portal.organizations.models import Organization
from portal.places import fold_places
from portal.search.evaluate import Query, evaluate
from portal.search.index import IndexStore
from portal.search.schema import ANALYZER, is_searchable_need, organization_text
from portal.vocab import (
    ASEAN_COUNTRIES,
    COUNTRY_NAMES,
    FUNDING_SOURCES,
    FUNDING_STAGES,
    NOTICE_TYPES,
    SECTORS,
)

SEARCH_FIELDS = ("title", "text")
KINDS = ("vendor", "need", "buyer")
FACETS = ("kind", "sectors", "country", "markets", "notice", "funding_source", "funding_stage")
MAX_QUERY_WORDS = 32
WORD = re.compile(r"\w+(?:[-.']\w+)*")


@dataclass(frozen=True)
class SearchFilters:
    kind: str | None = None
    sector: str | None = None
    country: str | None = None
    market: str | None = None
    # needs only: choosing one leaves vendors and buyers out, as they have none
    notice: str | None = None
    funding_source: str | None = None
    funding_stage: str | None = None

    @classmethod
    def from_args(cls, args: Any) -> tuple[SearchFilters, list[str]]:
        """Filters from a query string; unknown values are dropped with a note saying so."""
        notes: list[str] = []

        def pick(name: str, allowed: Any, what: str | None = None) -> str | None:
            value = (args.get(name) or "").strip()
            if not value:
                return None
            if value not in allowed:
                notes.append(f"Ignored the unknown {what or name} “{value[:40]}”.")
                return None
            return value

        return (
            cls(
                kind=pick("kind", KINDS),
                sector=pick("sector", SECTORS),
                country=pick("country", COUNTRY_NAMES),
                market=pick("market", ASEAN_COUNTRIES),
                notice=pick("notice", NOTICE_TYPES, "notice type"),
                funding_source=pick("funding_source", FUNDING_SOURCES, "funding source"),
                funding_stage=pick("funding_stage", FUNDING_STAGES, "funding stage"),
            ),
            notes,
        )

    def as_terms(self) -> dict[str, str]:
        """The selected facet values, by index field."""
        chosen = {
            "kind": self.kind,
            "sectors": self.sector,
            "country": self.country,
            "markets": self.market,
            "notice": self.notice,
            "funding_source": self.funding_source,
            "funding_stage": self.funding_stage,
        }
        return {name: value for name, value in chosen.items() if value}


# The index's own state document is never a result.
NOT_RESULTS = {"kind": "__state__"}


@dataclass
class SearchHit:
    kind: str
    record: Organization | Need
    snippet: Markup
    score: float


@dataclass
class SearchResults:
    text: str
    hits: list[SearchHit] = field(default_factory=list)
    total: int = 0
    page: int = 1
    page_size: int = 20
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    suggestion: str | None = None
    matched_any: bool = False  # no record had every word; these have some of them

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def plain_words(text: str) -> list[str]:
    """The words of a query, without any syntax; at most MAX_QUERY_WORDS of them.

    A run of Thai, Lao, Khmer or Burmese is one typed word here; the analyser segments
    it into the words it was indexed as, all of which a match must then hold.
    """
    return QUERY_WORD.findall(fold_places(text or ""))[:MAX_QUERY_WORDS]


class _MarkFormatter(HtmlFormatter):
    """Escapes the text and wraps matches in <mark>."""

    template = "<%(tag)s>%(t)s</%(tag)s>"

    def __init__(self) -> None:
        super().__init__(tagname="mark", between=" … ")


def search(
    text: str,
    filters: SearchFilters | None = None,
    page: int = 1,
    page_size: int = 20,
    store: IndexStore | None = None,
) -> SearchResults:
    filters = filters or SearchFilters()
    page = max(1, page)
    results = SearchResults(text=text, page=page, page_size=page_size)
    words = plain_words(text)
    variants = [found for found in (word_variants(word) for word in words) if found]
    analysed = [found[0] for found in variants]
    searcher = (store or IndexStore.from_app()).searcher()
    query = Query(
        analysed,
        require_all=True,
        filters=filters.as_terms(),
        exclude=NOT_RESULTS,
        alternatives=[found[1:] for found in variants],
    )
    found = evaluate(searcher, query, SEARCH_FIELDS, FACETS, top=page * page_size)
    if found.total == 0 and len(analysed) > 1:
        query.require_all = False
        found = evaluate(searcher, query, SEARCH_FIELDS, FACETS, top=page * page_size)
        results.matched_any = found.total > 0
    results.total = found.total
    results.page = min(page, results.pages)  # a page past the end shows the last one
    if results.page != page:
        found = evaluate(searcher, query, SEARCH_FIELDS, FACETS, top=results.page * page_size)
    results.facets = {
        name: sorted(
            ((value, count) for value, count in found.facets[name].items() if value),
            key=lambda item: (-item[1], item[0]),
        )
        for name in FACETS
    }
    if words:
        results.suggestion = _suggestion(searcher, words)
    first = (results.page - 1) * page_size
    page_docs = found.top[first : first + page_size]
    terms = {t for found in variants for tokens in found for t in tokens}
    results.hits = _load_hits(searcher, page_docs, terms)
    return results


def _tokens(word: str, language: str | None = None) -> list[str]:
    return [token.text for token in ANALYZER(word, language=language)]


def word_variants(word: str) -> list[list[str]]:
    """The ways a typed word may have been indexed: as analysed for English (or its
    script) and, when different, as an Indonesian/Malay root (a query is too short to
    tell its language, the indexed text was not)."""
    found = [_tokens(word)]
    malay = _tokens(word, MALAY)
    if malay != found[0]:
        found.append(malay)
    return [tokens for tokens in found if tokens]


@cache
def _spelling() -> ListCorrector:
    """Real words to suggest: the thesaurus's phrases on both sides and the sector names.

    The index holds stems ("detect"), which are no suggestion to show a person.
    """
    from portal.matching.concepts import CONCEPTS_FILE

    with CONCEPTS_FILE.open("rb") as handle:
        concepts = tomllib.load(handle)["concept"]
    vocabulary = {
        word
        for concept in concepts
        for phrase in [*concept["problem"], *concept["solution"], concept["label"]]
        for word in WORD.findall(phrase.lower())
        if len(word) > 3 and word.isalpha()
    }
    vocabulary.update(w for s in SECTORS.values() for w in WORD.findall(s.label.lower()))
    return ListCorrector(sorted(vocabulary))


@lru_cache(maxsize=4096)
def _spelling_options(word: str) -> tuple[str, ...]:
    """Close words of the vocabulary (static, so worth remembering: tens of ms each)."""
    return tuple(_spelling().suggest(word, limit=5, maxdist=2))


def _suggestion(searcher: Any, words: list[str]) -> str | None:
    """'Did you mean': each word the index does not know, replaced by the closest known
    word of the portal's vocabulary that the index does know."""
    changed = False
    corrected = []
    for word in words:
        if _known(searcher, word) or len(word) < 4:
            corrected.append(word)
            continue
        options = [o for o in _spelling_options(word.lower()) if _known(searcher, o)]
        if options:
            corrected.append(options[0])
            changed = True
        else:
            corrected.append(word)
    return " ".join(corrected) if changed else None


def _known(searcher: Any, word: str) -> bool:
    variants = word_variants(word)  # an Indonesian word is known by its root
    return not variants or any(
        searcher.doc_frequency(f, t) for f in SEARCH_FIELDS for tokens in variants for t in tokens
    )


def _load_hits(
    searcher: Any, page_docs: list[tuple[float, int]], tokens: set[str]
) -> list[SearchHit]:
    """Load the page's records from the database; drop any that are no longer public."""
    wanted = []
    for score, docnum in page_docs:
        stored = searcher.stored_fields(docnum)
        wanted.append((stored["kind"], stored["record_id"], score))
    org_ids = [rid for kind, rid, _ in wanted if kind in ("vendor", "buyer")]
    need_ids = [rid for kind, rid, _ in wanted if kind == "need"]
    orgs = (
        {
            o.id: o
            for o in db.session.scalars(
                sa.select(Organization)
                .where(Organization.id.in_(org_ids))
                .options(selectinload(Organization.capabilities))
            )
        }
        if org_ids
        else {}
    )
    needs = (
        {n.id: n for n in db.session.scalars(sa.select(Need).where(Need.id.in_(need_ids)))}
        if need_ids
        else {}
    )
    formatter = _MarkFormatter()
    fragmenter = ContextFragmenter(maxchars=220, surround=60)
    terms = frozenset(tokens)
    out: list[SearchHit] = []
    for kind, record_id, score in wanted:
        record: Organization | Need | None
        if kind == "need":
            record = needs.get(record_id)
            visible = record is not None and is_searchable_need(record)
        else:
            record = orgs.get(record_id)
            visible = record is not None and record.is_verified
        if not visible or record is None:
            continue
        text = record.description if isinstance(record, Need) else organization_text(record)
        snippet = _snippet(text, terms, fragmenter, formatter) if terms else ""
        if not snippet:
            snippet = str(Markup.escape(_first_words(text, 40)))
        # Not an XSS (ruff S704, bandit B704): Whoosh's HtmlFormatter escapes the text it
        # highlights, and the fallback was escaped just above.
        out.append(SearchHit(kind, record, Markup(snippet), score))  # noqa: S704 # nosec B704
    return out


SNIPPET_WINDOW = 360  # characters of a long text that are analysed for a snippet


def _snippet(text: str, terms: frozenset[str], fragmenter: Any, formatter: Any) -> str:
    """Up to two highlighted fragments around the query's words.

    Analysing a whole vendor profile for every hit costs milliseconds each; a cheap
    case-insensitive scan for the stems' first letters finds where the words are, and
    only a window around the first such place is analysed and highlighted.
    """
    excerpt = text
    if len(text) > SNIPPET_WINDOW:
        pattern = "|".join(re.escape(term[:4]) for term in sorted(terms) if term)
        # indexed Latin words are folded (Vietnamese without diacritics): scan the same
        found = re.search(pattern, fold_text_same_length(text), re.IGNORECASE) if pattern else None
        start = max(0, (found.start() if found else 0) - SNIPPET_WINDOW // 3)
        # cut at word boundaries: never half a Thai word or a Khmer cluster
        start = word_boundary(text, start)
        end = word_boundary(text, start + SNIPPET_WINDOW, forward=False)
        excerpt = text[start:end]
    return highlight(excerpt, terms, ANALYZER, fragmenter, formatter, top=2, order=SCORE)


FIRST_WORDS_CHARS = 280  # Thai, Lao, Khmer and Burmese have few spaces to count words by


def _first_words(text: str, count: int) -> str:
    words = text.split()
    shown = " ".join(words[:count])
    if len(shown) > FIRST_WORDS_CHARS and has_unspaced_script(shown):
        shown = shown[: word_boundary(shown, FIRST_WORDS_CHARS, forward=False)].rstrip()
    return shown + (" …" if shown != " ".join(words) else "")
