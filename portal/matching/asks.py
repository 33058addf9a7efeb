"""Which sentences of a need say what the city asks for.

A need tells its story (what goes wrong, since when, what was tried) and then, most often
in one sentence, asks: "We want the lights to react to how many vehicles are really
waiting". A reason that quotes the ask tells a trade officer which part of the need a
capability answers; one that quotes the story ("Last year a water company in another
province had its computers locked") only says where the words met. Readers preferred
the ask, blind and in pairs, on both development sets (docs/ranking.md, "Which part of
the need: the ask").

The sentence is found by how cities write an ask in each language the portal reads, not
by its meaning: the sentence vectors say what a sentence is about, and an ask and its
background are about the same thing. The cues are the first person plural with a verb
of wanting, needing or seeking (and, in English, the agency asking in the third person).
A language without cues here is read as before: by the vectors alone.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Latin-script languages: whole words, any case.
_WORD_CUES: dict[str, str] = {
    "en": (
        r"\bwe\s+(?:(?:would|'d|also|urgently|really|still)\s+)?"
        r"(?:want|need|would like|like|are looking|look|are seeking|seek|ask|are asking"
        r"|request|are requesting|invite|require|hope|wish|aim|intend|plan)\b"
        r"|\b(?:the|our)\s+(?:city|council|municipality|agency|utility|department|office"
        r"|government|province|authority)\s+(?:wants|needs|seeks|is seeking"
        r"|is looking|requires|would like|intends|plans|hopes)\b"
        r"|\bour\s+(?:goal|aim|objective|wish)\b|\bhelp us\b"
    ),
    "id": r"\bkami\s+(?:(?:juga|sangat|masih)\s+)?(?:ingin|menginginkan|membutuhkan|butuh|perlu"
    r"|memerlukan|mencari|sedang mencari|berharap|mengharapkan)\b",
    "ms": r"\bkami\s+(?:(?:juga|sangat|masih)\s+)?(?:mahu|mahukan|ingin|inginkan|memerlukan|perlu"
    r"|perlukan|mencari|sedang mencari|berharap|mengharapkan)\b",
    "fil": r"\b(?:kailangan|nais|gusto|hinahanap|hangad)\s+(?:namin|naming)\b",
    "vi": r"\bchúng tôi\s+(?:(?:cũng|rất|đang)\s+)?(?:muốn|cần|mong muốn|mong|tìm|đang tìm"
    r"|hy vọng|yêu cầu)\b",
}
# Scripts written without spaces between words: the cue as written, anywhere.
_TEXT_CUES: dict[str, tuple[str, ...]] = {
    "th": ("เราต้องการ", "เราอยาก", "เรากำลังมองหา", "เราหวังว่า", "เรามองหา"),
    "lo": ("ພວກເຮົາຕ້ອງການ", "ພວກເຮົາຢາກ", "ພວກເຮົາກຳລັງຊອກຫາ"),
    "km": ("យើងចង់", "យើងត្រូវការ", "យើងកំពុងស្វែងរក", "យើងស្វែងរក"),
    "my": ("လိုချင်", "လိုအပ်", "ရှာဖွေနေ"),
}
# Tagalog is written "tl" by some detectors and "fil" by others.
_ALIASES = {"tl": "fil", None: "en"}


@lru_cache(maxsize=16)
def _pattern(language: str) -> re.Pattern[str] | None:
    cue = _WORD_CUES.get(language)
    return re.compile(cue, re.IGNORECASE) if cue else None


def ask_starts_at(sentence: str, language: str | None) -> int | None:
    """Where in ``sentence``, written in ``language`` (None: undecided, read as English),
    the city's ask begins (the first cue), or None when it asks for nothing in the way
    cities write an ask."""
    code = _ALIASES.get(language, language)
    if code is None:
        return None
    pattern = _pattern(code)
    if pattern is not None:
        found = pattern.search(sentence)
        return found.start() if found is not None else None
    starts = [sentence.find(cue) for cue in _TEXT_CUES.get(code, ())]
    return min((start for start in starts if start >= 0), default=None)


def states_an_ask(sentence: str, language: str | None) -> bool:
    """Whether ``sentence`` asks for something in the way cities write an ask."""
    return ask_starts_at(sentence, language) is not None


def asking_pieces(pieces: list[str], language: str | None) -> list[bool]:
    """For each of a need's pieces (its title, then each sentence: ``NeedProfile.pieces``),
    whether it states the ask. The title names the problem and is never read as the ask:
    it has its own preference (``pieces.TITLE_PREFERENCE``)."""
    return [index > 0 and states_an_ask(piece, language) for index, piece in enumerate(pieces)]
