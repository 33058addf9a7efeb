"""Plain-word reasons a trade officer can check: which capability answers which part of
the need, whether the vendor already works in the buyer's country, the shared sector,
whether the money behind the need is there."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from flask_babel import get_locale, gettext, pgettext

from portal.i18n.locales import DEFAULT_LOCALE
from portal.languages.segment import KHMER_OPEN, has_unspaced_script, segment
from portal.matching.asks import ask_starts_at
from portal.matching.concepts import LABEL_CONTEXT, Concept, Thesaurus, own_words
from portal.matching.profiles import NeedProfile, VendorProfile
from portal.matching.text import LIGHT_STOP, terms, words
from portal.vocab import FUNDING_SOURCES, country_name, sector_short_label

MAX_REASONS = 3
QUOTED_WORDS = 14  # a part of the need quoted in a reason is cut to about this many words
# ... and the city's ask to about this many: an ask often lists two or three things ("We
# want the lights to follow the real traffic at every hour, and our staff to see from the
# office what is happening on the main corridors"), and cut at fourteen words it hid the
# one a capability answers. Read absolutely by four readers a set, every changed lead in
# both versions (docs/ranking.md, "How much of the ask"): the part named right rose from
# 0.847 to 0.874 on dev and from 0.753 to 0.789 on dev-b, whether the capability answers
# stayed (0.730 / 0.736, 0.612 / 0.612).
ASK_QUOTED_WORDS = 26
# Shared words rarer than this (BM25 idf over the vendors) are worth quoting; a word in
# about a fifth of all profiles or more ("system", "city", "back") explains nothing.
MIN_QUOTED_IDF = 1.6

WordWeight = Callable[[str], float]


def _quote(phrases: list[str], limit: int = 2) -> str:
    return ", ".join(f"“{p}”" for p in phrases[:limit])


@lru_cache(maxsize=4096)
def _words_by_stem(text: str) -> dict[str, str]:
    """The text's content words by stem, each as first written (read, never changed)."""
    found: dict[str, str] = {}
    for word in words(text):
        stemmed = terms(word)
        if stemmed:
            found.setdefault(stemmed[0], word)
    return found


@lru_cache(maxsize=20_000)
def _distinct_terms(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(terms(text)))


@dataclass(frozen=True)
class Answer:
    """Which capability best answers which part of the need, by their sentence vectors
    (``portal.matching.pieces.best_answer``)."""

    capability: int  # index into the vendor's capabilities
    need_part: str  # the need's title or one of its sentences


# What is left of a numbered list where an excerpt is cut: "…bridges; 2" or "…roads, (b)".
_LIST_MARK = re.compile(r"[\s;,:(]+\(?[0-9]{1,2}[).]?$|[\s;,:]+\(?[a-z][).]$")


# Thai, Lao, Khmer and Burmese write no spaces between words, so a quote in them is cut
# by characters, at a word (or syllable) the segmenter finds: most of their sentences are
# quoted whole. Cut at about fourteen words (as Latin-script quotes are), readers of those
# languages preferred the whole sentence 35 to 0 (19 alike), the cut one leaving out what the
# capability answers (docs/languages.md); this keeps nine in ten of the dev set's
# sentences whole and stops the rare run-on one.
UNSPACED_QUOTE_CHARS = 200


# "and" and "or" in Lao, Thai, Khmer and Burmese. A piece of such a need is joined from
# fragments up to a length (``profiles.sentences``), so it can end on the word that leads
# into the next: a quote ending "…ແລະ" ("…and") is cut there, and says so.
_TRAILING_JOINERS = ("ແລະ", "ຫຼື", "และ", "หรือ", "និង", "ឬ", "နှင့်", "သို့မဟုတ်")


def _excerpt_unspaced(text: str, limit: int = UNSPACED_QUOTE_CHARS) -> str:
    """``_excerpt`` for text in a script written without spaces between words, where
    splitting on spaces finds a whole clause in one "word"."""
    if len(text) <= limit:
        kept = text.rstrip(" .,;:。")
        for joiner in _TRAILING_JOINERS:
            if kept.endswith(joiner):
                return kept[: -len(joiner)].rstrip(" ,;:、") + "…"
        return text.rstrip(".,;:。")
    cut = 0
    for _, _, end, script in segment(text):
        if script == KHMER_OPEN:  # a second reading of the syllable that follows
            continue
        if end > limit:
            break
        cut = end
    return text[: cut or limit].rstrip(" ,;:.、") + "…"


def _excerpt(text: str, limit: int = QUOTED_WORDS) -> str:
    if has_unspaced_script(text):
        return _excerpt_unspaced(text)
    found = text.split()
    cut = " ".join(found[:limit])
    if len(found) > limit:
        cut = _LIST_MARK.sub("", cut)
        # nor in a word that leads into the rest ("…test them in the laboratory a…")
        kept = cut.split()
        while len(kept) > 1 and kept[-1].lower() in LIGHT_STOP:
            kept.pop()
        cut = " ".join(kept)
    cut = cut.rstrip(".,;:")
    return cut + ("…" if len(found) > limit else "")


def concept_label(concept: Concept) -> str:
    """The concept's label in the reader's language; in English (``concepts.toml``'s own
    words) without a request, as CLI commands and exports print reasons."""
    return pgettext(LABEL_CONTEXT, concept.label)


# A concept names the reason only when the capability and the part of the need it answers
# each name it with at least two of its phrases (1 - e^(-0.7 * 2)): one phrase is as often
# a side remark ("mountains", "gates") or a word that only touches the concept (a need
# about remote patients mentions "clinics"; that is not an "electronic health records"
# problem). Read by a reader on both development sets, blind, against the rule that asked
# two phrases of the capability alone: preferred 38 to 9 on dev and 29 to 11 on dev-b
# (docs/ranking.md, "Reasons judged by a reader").
MIN_CONCEPT_STRENGTH = 0.75


def reads_the_needs_language(need: NeedProfile) -> bool:
    """Whether the reasons are being written in the language the need is written in: the
    request's or the mail's language (English for commands and exports) against the
    need's (English when undecided)."""
    locale = get_locale()
    reader = locale.language if locale is not None else DEFAULT_LOCALE
    return reader == (need.language or DEFAULT_LOCALE)


def answer_reason(
    need: NeedProfile,
    vendor: VendorProfile,
    thesaurus: Thesaurus,
    answer: Answer,
    weak: bool = False,
) -> str:
    """Name the capability that answers the need and quote the part of the need it
    answers. For a reader who may not read the need's language, name instead the concept
    the capability shares with that part, in the reader's language, when both clearly name
    one. For a ``weak`` lead (one a page folds away: the ranking doubts the vendor solves
    the need) the capability only "relates to" that part: its closest capability is named,
    not claimed as an answer.

    A reader of the need's own language is better served by its words: read blind in
    pairs, the quoted part beat the concept form (with its few quoted words: "smoke",
    "Dust", "jobs") 16 to 1 and 13 to 3 on dev, 14 to 3 and 10 to 2 on dev-b
    (docs/ranking.md, "Which part of the need: the ask")."""
    capability = vendor.capabilities[answer.capability]
    if reads_the_needs_language(need):
        return _quoted_part(capability.title, answer.need_part, need.language, weak)
    part_match = thesaurus.match_text(answer.need_part)
    cap_match = thesaurus.match_text(f"{capability.title}. {capability.description}")
    shared = [
        (strength * part_match.strengths[concept], concept)
        for concept, strength in cap_match.strengths.items()
        if strength >= MIN_CONCEPT_STRENGTH
        and part_match.strengths.get(concept, 0.0) >= MIN_CONCEPT_STRENGTH
    ]
    if shared:
        _, concept = max(shared)
        quoted = own_words(answer.need_part, part_match.evidence[concept])
        if quoted:
            return _concept_reason(capability.title, thesaurus.concepts[concept], quoted, weak)
    return _quoted_part(capability.title, answer.need_part, need.language, weak)


def _concept_reason(capability: str, concept: Concept, quoted: list[str], weak: bool) -> str:
    """The concept form: the capability answers (a ``weak`` lead's: relates to) the need's
    problem of that concept, with the need's own words for it."""
    if weak:
        return gettext(
            "“%(capability)s” relates to the need's %(concept)s problem (%(quoted)s)",
            capability=capability,
            concept=concept_label(concept),
            quoted=_quote(quoted),
        )
    return gettext(
        "“%(capability)s” answers the need's %(concept)s problem (%(quoted)s)",
        capability=capability,
        concept=concept_label(concept),
        quoted=_quote(quoted),
    )


# An ask that begins further into its sentence than this many words is quoted from where
# it begins: "Before the next wave of projects — street lights, drainage gates, bins — we
# want a common, cheap way…" would otherwise be cut before the city says what it wants.
ASK_LEAD_WORDS = 6


def _from_the_ask(need_part: str, language: str | None) -> tuple[str, bool]:
    """The part of the need to quote (from the city's ask on, when it states one late in
    the sentence) and whether it states the ask."""
    start = ask_starts_at(need_part, language)
    if start is None or len(need_part[:start].split()) <= ASK_LEAD_WORDS:
        return need_part, start is not None
    return "…" + need_part[start:], True


def _quoted_part(
    capability: str, need_part: str, language: str | None = None, weak: bool = False
) -> str:
    part, asks = _from_the_ask(need_part, language)
    quoted = _excerpt(part, ASK_QUOTED_WORDS if asks else QUOTED_WORDS)
    if weak:
        return gettext(
            "“%(capability)s” relates to “%(need_part)s”", capability=capability, need_part=quoted
        )
    return gettext(
        "“%(capability)s” answers “%(need_part)s”", capability=capability, need_part=quoted
    )


def capability_reason(
    need: NeedProfile,
    vendor: VendorProfile,
    thesaurus: Thesaurus,
    word_weight: WordWeight | None = None,
    answer: Answer | None = None,
    weak: bool = False,
) -> str | None:
    """The capability that best answers the need: by the sentence vectors when ``answer``
    says which, else the one sharing the strongest concept with it, or failing that the
    one covering most of the need's distinctive words (``word_weight`` gives a stemmed
    word's idf; without it every word of four letters or more counts). ``weak``: the
    lead is one a page folds away, so the capability is said to relate to the need, not
    to answer it (``answer_reason``)."""
    if answer is not None and 0 <= answer.capability < len(vendor.capabilities):
        return answer_reason(need, vendor, thesaurus, answer, weak)
    need_match = thesaurus.match_text(need.text)
    # the need's own words for each of its concepts, found once whichever capability asks
    quoted: dict[int, list[str]] = {}
    best: tuple[float, str, int] | None = None  # weight, capability title, concept
    for capability in vendor.capabilities or []:
        cap_match = thesaurus.match_text(f"{capability.title}. {capability.description}")
        for concept, strength in cap_match.strengths.items():
            if concept in need_match.strengths:
                weight = strength * need_match.strengths[concept]
                if weight <= 0 or (best is not None and weight <= best[0]):
                    continue
                if concept not in quoted:
                    quoted[concept] = own_words(need.text, need_match.evidence[concept])
                if quoted[concept]:
                    best = (weight, capability.title, concept)
    if best is not None:
        _, title, concept = best
        return _concept_reason(title, thesaurus.concepts[concept], quoted[concept], weak)
    # No shared concept: name the need's words the best capability also uses.
    need_words = _words_by_stem(need.text)

    def weight(term: str) -> float:
        if word_weight is not None:
            return word_weight(term)
        return MIN_QUOTED_IDF if len(term) >= 4 else 0.0

    best_overlap: tuple[float, str, list[str]] | None = None
    for capability in vendor.capabilities or []:
        weighted = [
            (weight(t), need_words[t])
            for t in _distinct_terms(capability.title + " " + capability.description)
            if t in need_words
        ]
        weighted = sorted((w, word) for w, word in weighted if w >= MIN_QUOTED_IDF)[::-1]
        total = sum(w for w, _ in weighted)
        # One shared word is as often a coincidence ("back" up, cash "back") as a reason.
        if len(weighted) >= 2 and (best_overlap is None or total > best_overlap[0]):
            best_overlap = (total, capability.title, [word for _, word in weighted])
    if best_overlap is not None:
        return gettext(
            "“%(capability)s” covers %(quoted)s from the need",
            capability=best_overlap[1],
            quoted=_quote(best_overlap[2], 3),
        )
    return None


# Funding stages at which the money is committed and still to be spent on a contract:
# "funded" (the budget line or loan is approved) and "procurement" (it is being tendered).
# Not "awarded": the contract has gone to someone, so calling the need funded would tell
# a vendor the money is there for it; nor "idea" or "feasibility": no money yet.
FUNDED_STAGES = frozenset({"funded", "procurement"})


def funded_reason(need: NeedProfile) -> str | None:
    """A supporting reason when the money behind the need is committed; None otherwise."""
    if need.funding_stage not in FUNDED_STAGES or need.funding_source is None:
        return None
    source = FUNDING_SOURCES.get(need.funding_source)
    source = gettext(source) if source else need.funding_source
    if need.funding_stage == "procurement":
        return gettext("Funded (%(source)s) and in procurement", source=source)
    return gettext("Funded (%(source)s)", source=source)


def lead_reasons(
    need: NeedProfile,
    vendor: VendorProfile,
    thesaurus: Thesaurus,
    word_weight: WordWeight | None = None,
    answer: Answer | None = None,
    weak: bool = False,
) -> list[str]:
    """The capability that answers the need first; market, sector and funding only
    support it. Funding is never the first or only reason, and reasons are only words:
    they never change the ranking or which leads are shown. ``weak``: a lead under the
    shown threshold, whose capability only relates to the need."""
    reasons: list[str] = []
    capability = capability_reason(need, vendor, thesaurus, word_weight, answer, weak)
    if capability:
        reasons.append(capability)
    if need.country in vendor.markets:
        reasons.append(
            gettext(
                "Already serves %(country)s, the buyer's country",
                country=country_name(need.country),
            )
        )
    shared = [s for s in need.sectors if s in vendor.sectors]
    if shared:
        labels = [sector_short_label(s).lower() for s in shared[:2]]
        if len(labels) == 2:
            sectors = gettext("%(first)s and %(second)s", first=labels[0], second=labels[1])
        else:
            sectors = labels[0]
        reasons.append(gettext("Works in %(sectors)s, the need's sector", sectors=sectors))
    if not reasons:
        reasons.append(gettext("Its profile uses several of the need's key words"))
    funded = funded_reason(need)
    if funded:
        # After at least one other reason, and in the last place kept: whether the money
        # exists is what a vendor weighs a bid by, so it goes before a shared sector.
        reasons = [*reasons[: MAX_REASONS - 1], funded]
    return reasons[:MAX_REASONS]
