"""What the portal reads in a need: the thesaurus concepts it is about.

Staff and vendors often do not read the language a need is written in. The concepts the
portal matched (in the reader's language, with concepts.toml's English beside it) say
what it is about and why its leads are what they are. A need in English names them with
the thesaurus's own phrases. A need in another language shares no phrase with the
thesaurus, so it is read through its confident leads: the concept each answering
capability names, with the part of the need it answers (``LeadsModel.concepts_answered``).
Comparing such a need's e5 vectors with each concept's phrases directly was tried and
agreed with the English twin's concepts about half the time (a Thai need about failing
street lamps read as "flood early warning"): docs/languages.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.matching.concepts import Concept, own_words, thesaurus
from portal.matching.profiles import NeedProfile
from portal.matching.services import current_model
from portal.matching.store.vectors import is_multilingual
from portal.needs.models import Need

# An English need's concepts shown at most, strongest first (named by most phrases).
CONCEPTS_SHOWN = 5
QUOTED_PHRASES = 3


@dataclass(frozen=True)
class ReadConcept:
    """A concept the need is about, and the need's own words that named it."""

    concept: Concept
    words: tuple[str, ...]


@dataclass(frozen=True)
class ReadNeed:
    concepts: tuple[ReadConcept, ...]
    # True when read through the need's leads (a need not in English), not its phrases
    through_leads: bool


def read_need(need: Need) -> ReadNeed:
    """The concepts ``need`` is about, as the leads engine reads its current text."""
    profile = NeedProfile.of(need)
    thes = thesaurus()
    if is_multilingual(profile):
        if not need.is_open:
            return ReadNeed((), True)
        answered = current_model().concepts_answered(profile)
        return ReadNeed(
            tuple(ReadConcept(thes.concepts[c], (words,)) for c, words in answered), True
        )
    match = thes.match_text(profile.text)
    strongest = sorted(match.strengths.items(), key=lambda item: (-item[1], item[0]))
    read = []
    for concept, _ in strongest:
        quoted = own_words(profile.text, match.evidence[concept])
        if quoted:
            read.append(ReadConcept(thes.concepts[concept], tuple(quoted[:QUOTED_PHRASES])))
        if len(read) == CONCEPTS_SHOWN:
            break
    return ReadNeed(tuple(read), False)
