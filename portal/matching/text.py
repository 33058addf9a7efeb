"""Turning free text into the terms the lead ranking compares.

Fast on purpose: a regular expression, a stop list and a cached Porter stemmer, so that
100,000 vendor profiles are analysed in seconds rather than minutes.
"""

from __future__ import annotations

import re
from functools import lru_cache

from whoosh.analysis import STOP_WORDS
from whoosh.lang.porter import stem as porter_stem

from portal.places import PLACE_VARIANTS, fold_places

_WORD = re.compile(r"[a-z0-9]+(?:['\-][a-z0-9]+)*")

# Words that say nothing about what is needed or offered: how organizations describe
# themselves and their requests in general.
GENERIC_WORDS = frozenset(
    (  # noqa: SIM905 - a word list reads better as one string
        "also able about across after again against all almost along already although among "
        "any anyone around because been before being between both can cannot could does "
        "done during each either else enough even ever every few first from further get gets "
        "got had has have having here how however into its just last less like made make "
        "makes many may more most much must need needs new next not now often once one only "
        "other our out over own per rather same several should since some such than that "
        "their them then there these they this those through thus too two under until upon "
        "used using very want wants was way ways well were what when where whether which "
        "while who whom whose why will with within without would year years yet you your we us"
    ).split()
)

# Ranking drops the generic words too; phrase matching keeps them ("lights out" must not
# shrink to "lights").
LIGHT_STOP = frozenset(STOP_WORDS)
STOP = LIGHT_STOP | GENERIC_WORDS


@lru_cache(maxsize=500_000)
def stem(word: str) -> str:
    return porter_stem(word)


def words(text: str) -> list[str]:
    """Lowercased words with places folded (``Ho Chi Minh City`` is one word)."""
    return _WORD.findall(fold_places(text or "").lower())


def terms(text: str, stop: frozenset[str] = STOP) -> list[str]:
    """Stemmed content words of ``text``, in order, repeats kept."""
    out = []
    for word in words(text):
        word = PLACE_VARIANTS.get(word, word)
        if len(word) < 2 or word in stop or word.isdigit():
            continue
        out.append(stem(word.replace("'", "")))
    return out


def phrase_terms(text: str) -> list[str]:
    """Stemmed words with only the lightest stop list, for finding thesaurus phrases."""
    return terms(text, LIGHT_STOP)


def both_terms(text: str) -> tuple[list[str], list[str]]:
    """``(terms(text), phrase_terms(text))`` from one pass over the text."""
    ranking: list[str] = []
    phrases: list[str] = []
    for word in words(text):
        word = PLACE_VARIANTS.get(word, word)
        if len(word) < 2 or word in LIGHT_STOP or word.isdigit():
            continue
        stemmed = stem(word.replace("'", ""))
        phrases.append(stemmed)
        if word not in GENERIC_WORDS:
            ranking.append(stemmed)
    return ranking, phrases
