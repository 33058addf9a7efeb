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
from functools import cache
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy.orm import selectinload
from whoosh import query as wq
from whoosh import sorting
from whoosh.highlight import ContextFragmenter, HtmlFormatter
from whoosh.spelling import ListCorrector

from portal.extensions import db
from portal.needs.models import Need
from portal.organizations.models import Organization
from portal.search.index import IndexStore
from portal.search.schema import ANALYZER, fold_places, is_searchable_need, organization_text
from portal.vocab import ASEAN_COUNTRIES, COUNTRY_NAMES, SECTORS

SEARCH_FIELDS = ("title", "text")
KINDS = ("vendor", "need", "buyer")
FACETS = ("kind", "sectors", "country", "markets")
MAX_QUERY_WORDS = 32
WORD = re.compile(r"\w+(?:[-.']\w+)*")


@dataclass(frozen=True)
class SearchFilters:
    kind: str | None = None
    sector: str | None = None
    country: str | None = None
    market: str | None = None

    @classmethod
    def from_args(cls, args: Any) -> tuple[SearchFilters, list[str]]:
        """Filters from a query string; unknown values are dropped with a note saying so."""
        notes: list[str] = []

        def pick(name: str, allowed: Any) -> str | None:
            value = (args.get(name) or "").strip()
            if not value:
                return None
            if value not in allowed:
                notes.append(f"Ignored the unknown {name} “{value[:40]}”.")
                return None
            return value

        return (
            cls(
                kind=pick("kind", KINDS),
                sector=pick("sector", SECTORS),
                country=pick("country", COUNTRY_NAMES),
                market=pick("market", ASEAN_COUNTRIES),
            ),
            notes,
        )

    def as_query(self) -> wq.Query | None:
        """The filter, or None when nothing is selected (filtering costs a pass over
        every posting of the filter's terms, so an empty one is not built)."""
        terms: list[wq.Query] = []
        if self.kind:
            terms.append(wq.Term("kind", self.kind))
        if self.sector:
            terms.append(wq.Term("sectors", self.sector))
        if self.country:
            terms.append(wq.Term("country", self.country))
        if self.market:
            terms.append(wq.Term("markets", self.market))
        return wq.And(terms) if terms else None


# The index's own state document is never a result.
NOT_RESULTS = wq.Term("kind", "__state__")


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
    """The words of a query, without any syntax; at most MAX_QUERY_WORDS of them."""
    return WORD.findall(fold_places(text or ""))[:MAX_QUERY_WORDS]


def _word_query(words: list[str], group: type[wq.CompoundQuery]) -> wq.Query | None:
    clauses = []
    for word in words:
        tokens = [t.text for t in ANALYZER(word)]
        if not tokens:
            continue  # a stop word alone
        per_field = [
            wq.And([wq.Term(f, t) for t in tokens]) if len(tokens) > 1 else wq.Term(f, tokens[0])
            for f in SEARCH_FIELDS
        ]
        clauses.append(wq.Or(per_field))
    if not clauses:
        return None
    return group(clauses)


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
    searcher = (store or IndexStore.from_app()).searcher()
    facets = sorting.Facets()
    for name in FACETS:
        facets.add_field(name, allow_overlap=name in ("sectors", "markets"))
    query = _word_query(words, wq.And) if words else wq.Every()
    if query is None:
        query = wq.Every()
    hits = searcher.search_page(
        query,
        page,
        pagelen=page_size,
        filter=filters.as_query(),
        mask=NOT_RESULTS,
        groupedby=facets,
        maptype=sorting.Count,
    )
    if hits.total == 0 and len(words) > 1:
        any_query = _word_query(words, wq.Or)
        if any_query is not None:
            hits = searcher.search_page(
                any_query,
                page,
                pagelen=page_size,
                filter=filters.as_query(),
                mask=NOT_RESULTS,
                groupedby=facets,
                maptype=sorting.Count,
            )
            results.matched_any = hits.total > 0
    results.total = hits.total
    results.page = hits.pagenum  # a page past the end shows the last one
    results.facets = {
        name: sorted(
            ((str(value), count) for value, count in hits.results.groups(name).items() if value),
            key=lambda item: (-item[1], item[0]),
        )
        for name in FACETS
    }
    if words:
        results.suggestion = _suggestion(searcher, words)
    results.hits = _load_hits(hits, words)
    return results


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


def _suggestion(searcher: Any, words: list[str]) -> str | None:
    """'Did you mean': each word the index does not know, replaced by the closest known
    word of the portal's vocabulary that the index does know."""
    changed = False
    corrected = []
    for word in words:
        if _known(searcher, word) or len(word) < 4:
            corrected.append(word)
            continue
        options = [
            o for o in _spelling().suggest(word.lower(), limit=5, maxdist=2) if _known(searcher, o)
        ]
        if options:
            corrected.append(options[0])
            changed = True
        else:
            corrected.append(word)
    return " ".join(corrected) if changed else None


def _known(searcher: Any, word: str) -> bool:
    tokens = [t.text for t in ANALYZER(word)]
    return not tokens or any(searcher.doc_frequency(f, t) for f in SEARCH_FIELDS for t in tokens)


def _load_hits(hits: Any, words: list[str]) -> list[SearchHit]:
    """Load the page's records from the database; drop any that are no longer public."""
    wanted = [(hit["kind"], hit["record_id"], hit) for hit in hits]
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
    out: list[SearchHit] = []
    for kind, record_id, hit in wanted:
        record: Organization | Need | None
        if kind == "need":
            record = needs.get(record_id)
            visible = record is not None and is_searchable_need(record)
        else:
            record = orgs.get(record_id)
            visible = record is not None and record.is_verified
        if not visible or record is None:
            continue
        hit.results.fragmenter = fragmenter
        hit.results.formatter = formatter
        text = record.description if isinstance(record, Need) else organization_text(record)
        snippet = hit.highlights("text", text=text, top=2) if words else ""
        if not snippet:
            snippet = str(Markup.escape(_first_words(text, 40)))
        # Not an XSS (ruff S704, bandit B704): Whoosh's HtmlFormatter escapes the text it
        # highlights, and the fallback was escaped just above.
        out.append(SearchHit(kind, record, Markup(snippet), hit.score or 0.0))  # noqa: S704 # nosec B704
    return out


def _first_words(text: str, count: int) -> str:
    words = text.split()
    return " ".join(words[:count]) + (" …" if len(words) > count else "")
