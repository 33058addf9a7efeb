"""Which language a text is written in, offline, for the languages ASEAN buyers write in.

Khmer, Lao, Burmese and Thai each have a script of their own, so counting letters per
Unicode block settles them without any model. Vietnamese is Latin with letters no other
language here uses (ơ, ư, đ, ạ, ế...). The remaining Latin-script languages (English,
Indonesian, Malay, Filipino) go to py3langid, restricted to them: a 4.5 MB model that
loads in well under a second (docs/languages.md says why this one).

Indonesian and Malay share most of their words, and a title is often too short to tell
them apart; when the model hesitates between the two, the buyer's country decides (a
Malaysian or Bruneian buyer writes Malay, an Indonesian one Indonesian).
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

from babel import Locale, UnknownLocaleError
from flask_babel import get_locale, gettext

from portal.i18n.lazy import LazyText

# The codes stored in needs.language: ISO 639-1, except ``fil`` (Filipino has no
# two-letter code of its own; ``tl`` is Tagalog, which detectors report).
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "vi": "Vietnamese",
    "th": "Thai",
    "id": "Indonesian",
    "ms": "Malay",
    "fil": "Filipino",
    "km": "Khmer",
    "lo": "Lao",
    "my": "Burmese",
    "other": "another language",
}

# Fewer letters than this, and no language is claimed: "CCTV" or "Smart city" says little.
MIN_LETTERS = 12
# Below this probability of the winner between Indonesian and Malay, the buyer's
# country decides (measured on the dev set's needs: docs/languages.md).
ID_MS_CONFIDENCE = 0.9
# Countries whose officials write Malay when they write Bahasa.
MALAY_COUNTRIES = frozenset({"MY", "BN", "SG"})

_SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0E00, 0x0E7F, "th"),
    (0x0E80, 0x0EFF, "lo"),
    (0x1780, 0x17FF, "km"),
    (0x19E0, 0x19FF, "km"),
    (0x1000, 0x109F, "my"),
    (0xA9E0, 0xA9FF, "my"),
    (0xAA60, 0xAA7F, "my"),
)
# Letters of Vietnamese alone among the languages here (tone marks on vowels, ơ, ư, đ).
_VIETNAMESE_ONLY = set("ăâđêôơưĂÂĐÊÔƠƯ") | {chr(c) for c in range(0x1EA0, 0x1EFA)}
_LATIN_CANDIDATES = ("en", "id", "ms", "tl")


def _script_of(char: str) -> str | None:
    """The ASEAN script of a letter, "latin", "other", or None for a non-letter."""
    code = ord(char)
    for low, high, language in _SCRIPT_RANGES:
        if low <= code <= high:
            # Thai, Lao, Khmer and Burmese vowel signs are marks, not letters: count them.
            return language
    if not unicodedata.category(char).startswith("L"):
        return None
    if code < 0x250 or 0x1E00 <= code <= 0x1EFF:
        return "latin"
    return "other"


@cache
def _latin_classifier() -> Any:
    """py3langid's model, limited to the Latin-script languages the portal tells apart;
    loaded once per process, on first use."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(_LATIN_CANDIDATES))
    return identifier


def latin_language_scores(text: str) -> list[tuple[str, float]]:
    """Each Latin-script candidate with its probability, best first (codes as stored)."""
    ranked = _latin_classifier().rank(text)
    total = sum(float(score) for _, score in ranked) or 1.0
    return [("fil" if code == "tl" else code, float(score) / total) for code, score in ranked]


def detect_language(text: str, country: str | None = None) -> str | None:
    """The language ``text`` is written in (a key of LANGUAGE_NAMES), or None when it is
    too short to tell. ``country`` (ISO 3166-1 alpha-2 of the writer) settles Indonesian
    against Malay when the text alone does not."""
    counts: dict[str, int] = {}
    for char in text:
        script = _script_of(char)
        if script is not None:
            counts[script] = counts.get(script, 0) + 1
    letters = sum(counts.values())
    if letters < MIN_LETTERS:
        return None
    script, count = max(counts.items(), key=lambda item: item[1])
    if script == "other":
        return "other"
    if script != "latin":
        return script
    vietnamese = sum(1 for char in text if char in _VIETNAMESE_ONLY)
    if vietnamese >= max(2, count // 25):
        return "vi"
    scores = latin_language_scores(text)
    best, probability = scores[0]
    if best in ("id", "ms") and probability < ID_MS_CONFIDENCE and country:
        runner_up = scores[1][0]
        if runner_up in ("id", "ms"):
            return "ms" if country.upper() in MALAY_COUNTRIES else "id"
    return best


def detect_need_language(title: str, description: str, country: str | None) -> str | None:
    """A need's language, from its title and description together."""
    return detect_language(f"{title}\n{description}", country)


def language_name(code: str | None) -> str | None:
    """The name of a stored code in the current language (Babel's names; English outside
    a request or mail), for pages and exports."""
    if not code or code not in LANGUAGE_NAMES:
        return None
    if code == "other":
        return gettext("another language")
    locale = get_locale()
    if locale is None or locale.language == "en":
        return LANGUAGE_NAMES[code]
    try:
        return Locale.parse(code).get_display_name(locale) or LANGUAGE_NAMES[code]
    except (ValueError, UnknownLocaleError):
        return LANGUAGE_NAMES[code]


# The names as choices and filters show them, read in each request's language.
LANGUAGE_LABELS: dict[str, LazyText] = {
    code: LazyText(language_name, code) for code in LANGUAGE_NAMES
}
