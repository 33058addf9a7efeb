"""Words and sentences in every ASEAN script: segmentation, diacritics folding, stemming.

Thai, Lao, Khmer and Burmese are written without spaces between words, so a tokenizer
that splits on spaces and punctuation sees a whole clause as one "word", and one that
splits on non-letters (Python's ``\\w`` excludes their combining vowel signs) cuts words
into arbitrary pieces. Here text is cut into runs of one script by a cheap Unicode-range
check; only runs in those four scripts reach a segmenter, so English text pays nothing:

* Thai: PyThaiNLP's ``newmm`` (dictionary maximal matching, dictionary bundled in the
  wheel, no download at run time).
* Lao: LaoNLP's ``word_tokenize`` (the same algorithm with a bundled Lao dictionary).
* Khmer and Burmese: syllables, by each script's well-known orthographic rules. The
  Khmer word segmenters on PyPI pull in scikit-learn (khmer-nltk) or torch, and the
  Burmese ones are unmaintained or model-based; a syllable is a unit that both the
  indexed text and a query reduce to identically, so a word of a title still finds it.

Latin-script words are folded (Vietnamese typed with or without diacritics find each
other) and stemmed: Porter for English, Sastrawi for text that reads as Indonesian or
Malay.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import cache, lru_cache
from typing import Any

from whoosh.analysis import Filter, Token, Tokenizer
from whoosh.lang.porter import stem as porter_stem

THAI, LAO, KHMER, MYANMAR, OTHER = "thai", "lao", "khmer", "myanmar", "other"
# A Khmer syllable without the final consonant joined to it, indexed beside the whole
# syllable: whether a bare consonant closes the syllable before it or opens the next
# cannot be told without a dictionary, so both readings are searchable.
KHMER_OPEN = "khmer-open"

_THAI = "\u0e00-\u0e7f"
_LAO = "\u0e80-\u0eff"
_KHMER = "\u1780-\u17ff\u19e0-\u19ff"
_MYANMAR = "\u1000-\u109f\uaa60-\uaa7f\ua9e0-\ua9ff"
_SEA = _THAI + _LAO + _KHMER + _MYANMAR
_HAS_SEA = re.compile(f"[{_SEA}]")
# A letter, digit or combining mark of any other script.
_LETTER = f"(?:[^\\W{_SEA}]|[\u0300-\u036f])"
# A run of one script without spaces, or a word of any other script (letters, digits
# and combining marks, so that Vietnamese typed in decomposed form stays one word).
_RUN = re.compile(
    f"(?P<{THAI}>[{_THAI}]+)|(?P<{LAO}>[{_LAO}]+)|(?P<{KHMER}>[{_KHMER}]+)"
    f"|(?P<{MYANMAR}>[{_MYANMAR}]+)"
    f"|(?P<{OTHER}>{_LETTER}+(?:[-.']{_LETTER}+)*)"
)
# The words of a query as a person typed them: a SEA-script run stays whole here and is
# segmented by the analyser, exactly as indexed text is.
QUERY_WORD = re.compile(f"[{_SEA}]+|[\\w\u0300-\u036f]+(?:[-.'][\\w\u0300-\u036f]+)*")
_ENGLISH_WORD = re.compile(r"\w+(?:[-.']\w+)*")


def has_unspaced_script(text: str) -> bool:
    """Whether text holds Thai, Lao, Khmer or Burmese (scripts without word spaces)."""
    return _HAS_SEA.search(text) is not None


def script_of(text: str) -> str:
    """The script of a run (by its first character): one of the four, or OTHER."""
    code = ord(text[0]) if text else 0
    if 0x0E00 <= code <= 0x0E7F:
        return THAI
    if 0x0E80 <= code <= 0x0EFF:
        return LAO
    if 0x1780 <= code <= 0x17FF or 0x19E0 <= code <= 0x19FF:
        return KHMER
    if 0x1000 <= code <= 0x109F or 0xAA60 <= code <= 0xAA7F or 0xA9E0 <= code <= 0xA9FF:
        return MYANMAR
    return OTHER


# ---------------------------------------------------------------- segmenters per script


@cache
def _thai_tokenize() -> Any:
    from pythainlp.tokenize import word_tokenize  # loads its dictionary on first use

    return word_tokenize


@cache
def _lao_tokenize() -> Any:
    from laonlp.tokenize import word_tokenize

    return word_tokenize


def _khmer_syllables(run: str) -> list[str]:
    """Khmer orthographic syllables.

    A cluster is a base letter (consonant or independent vowel) with its subscript
    consonants (COENG U+17D2 + consonant) and its signs; a following bare consonant
    cluster (no vowel of its own) is the final of an open syllable before it.
    """
    clusters: list[str] = []
    i, size = 0, len(run)
    while i < size:
        j = i + 1
        if "\u1780" <= run[i] <= "\u17b3":
            while j < size:
                if run[j] == "\u17d2" and j + 1 < size and "\u1780" <= run[j + 1] <= "\u17b3":
                    j += 2
                elif "\u17b4" <= run[j] <= "\u17d1" or run[j] in "\u17d3\u17dd":
                    j += 1
                else:
                    break
        clusters.append(run[i:j])
        i = j
    syllables: list[str] = []
    open_vowel = False
    for cluster in clusters:
        has_vowel = any("\u17b6" <= ch <= "\u17c5" for ch in cluster)
        # nikahit, reahmuk, yuukaleapintu end a syllable; so do the glides ai and au
        closes = any("\u17c6" <= ch <= "\u17c8" or ch in "\u17c3\u17c5" for ch in cluster)
        bare = (
            "\u1780" <= cluster[0] <= "\u17a2"
            and not has_vowel
            and not closes
            and "\u17d2" not in cluster
        )
        if bare and open_vowel and syllables:
            syllables[-1] += cluster
            open_vowel = False
            continue
        syllables.append(cluster)
        open_vowel = has_vowel and not closes
    return syllables


def _myanmar_syllables(run: str) -> list[str]:
    """Burmese syllables by the usual break rule: a syllable starts at a consonant or an
    independent vowel, unless it follows a virama (stacked) or is killed by an asat or
    virama after it (a final consonant); digits and punctuation stand alone."""
    syllables: list[str] = []
    start = 0
    for i in range(1, len(run)):
        ch = run[i]
        following = run[i + 1] if i + 1 < len(run) else ""
        starts = (
            ("\u1000" <= ch <= "\u1021" or ch in "\u1023\u1024\u1025\u1026\u1027\u1029\u102a\u103f")
            and run[i - 1] != "\u1039"
            and following not in ("\u103a", "\u1039")
        ) or "\u1040" <= ch <= "\u104f"
        if starts or "\u1040" <= run[i - 1] <= "\u104f":
            syllables.append(run[start:i])
            start = i
    syllables.append(run[start:])
    return syllables


@lru_cache(maxsize=50_000)
def segment_run(script: str, run: str) -> tuple[str, ...]:
    """The words (Thai, Lao) or syllables (Khmer, Burmese) of a run of one script."""
    if script == THAI:
        pieces = _thai_tokenize()(run, engine="newmm", keep_whitespace=False)
    elif script == LAO:
        pieces = _lao_tokenize()(run)
    elif script == KHMER:
        pieces = _khmer_syllables(run)
    elif script == MYANMAR:
        pieces = _myanmar_syllables(run)
    else:
        return (run,)
    # A segmenter must give back the run itself, cut; anything else (a normalising
    # tokenizer) would put highlights in the wrong place, so fall back to the whole run.
    if "".join(pieces) != run:
        return (run,)
    return tuple(p for p in pieces if p)


def segment(text: str) -> Iterator[tuple[str, int, int, str]]:
    """Each word of ``text`` as (word, start, end, script); English takes a fast path."""
    if text.isascii():
        for match in _ENGLISH_WORD.finditer(text):
            yield match.group(), match.start(), match.end(), OTHER
        return
    for match in _RUN.finditer(text):
        script = match.lastgroup or OTHER
        if script == OTHER:
            yield match.group(), match.start(), match.end(), OTHER
            continue
        offset = match.start()
        for piece in segment_run(script, match.group()):
            if script == KHMER:
                open_part = _khmer_open_part(piece)
                if open_part:
                    yield open_part, offset, offset + len(open_part), KHMER_OPEN
            yield piece, offset, offset + len(piece), script
            offset += len(piece)


def _khmer_open_part(syllable: str) -> str:
    """The syllable before a bare final consonant (with an optional sign) joined to it."""
    end = len(syllable) - 1
    if end > 0 and "\u17c9" <= syllable[end] <= "\u17d1":
        end -= 1
    if (
        end > 0
        and "\u1780" <= syllable[end] <= "\u17a2"
        and "\u17b6" <= syllable[end - 1] <= "\u17c5"
    ):
        return syllable[:end]
    return ""


def words(text: str) -> list[str]:
    """The words of a text, segmented: a convenience for tests and callers outside
    the search index."""
    return [word for word, _, _, script in segment(text) if script != KHMER_OPEN]


# ---------------------------------------------------------------- folding and stemming


def _fold_char(ch: str) -> str:
    if ch in "đĐ":
        return "d" if ch == "đ" else "D"
    base = unicodedata.normalize("NFD", ch)
    return base[0] if base else ch


@lru_cache(maxsize=100_000)
def fold(word: str) -> str:
    """A Latin-script word without diacritics: NFD, combining marks dropped, đ → d."""
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFD", word.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold_text_same_length(text: str) -> str:
    """``text`` with each precomposed Latin letter replaced by its base letter, one
    character for one, so that positions found in it are positions in ``text``."""
    if text.isascii():
        return text
    return "".join(ch if ch.isascii() or script_of(ch) != OTHER else _fold_char(ch) for ch in text)


# Words that are frequent in Indonesian and Malay and rare in English and Filipino: a
# text holding three different ones reads as Indonesian or Malay.
_MALAY_WORDS = [
    "yang",
    "dan",
    "untuk",
    "dengan",
    "dari",
    "pada",
    "dalam",
    "ini",
    "itu",
    "tidak",
    "akan",
    "kami",
    "kita",
    "atau",
    "serta",
    "oleh",
    "bagi",
    "juga",
    "sudah",
    "belum",
    "lebih",
    "telah",
    "adalah",
    "merupakan",
    "tersebut",
    "kepada",
    "setelah",
    "karena",
    "kerana",
    "bagaimana",
    "mereka",
    "sebagai",
    "ialah",
    "supaya",
    "agar",
]
_MALAY_MARKERS = frozenset(_MALAY_WORDS + [word.capitalize() for word in _MALAY_WORDS])
MALAY = "ms"
# Put before a field's value by the search documents of a record that reads as
# Indonesian or Malay as a whole, so that its short title (too short to tell) is stemmed
# the same way as its description. Not a word character: never indexed itself.
MALAY_HINT = "\u2063"


def reads_as_malay(text: str) -> bool:
    """Whether Latin text reads as Indonesian or Malay (three distinct marker words).

    Splitting on spaces and intersecting with a set is ten times faster than a regular
    expression, and every English text of an import passes here.
    """
    return len(_MALAY_MARKERS.intersection(text.split())) >= 3


@cache
def _sastrawi() -> Any:
    from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

    return StemmerFactory().create_stemmer()


@lru_cache(maxsize=100_000)
def stem_malay(word: str) -> str:
    """The Indonesian root of a word (Sastrawi: affixes removed only when the root is in
    its dictionary, so a loanword or an English word stays as it is)."""
    if not word.isalpha():
        return word
    return _sastrawi().stem(word) or word


@lru_cache(maxsize=100_000)
def stem_english(word: str) -> str:
    return porter_stem(word)


# ---------------------------------------------------------------- sentences

_SENTENCE_END = re.compile(
    # Latin and others: . ! ? (and the ideographic/fullwidth ones) before a space
    "(?:(?<=[.!?\u3002\uff01\uff1f])|(?<=[.!?][\"'\u201d\u2019)\\]]))\\s+"
    # Khmer khan and bariyoosan, Burmese section mark: a sentence ends there
    r"|(?<=[\u17d4\u17d5\u104b])\s*"
    # Thai and Lao separate sentences by a space between two letters of their script
    f"|(?<=[{_THAI}{_LAO}])[ \\t\u00a0]+(?=[{_THAI}{_LAO}])"
    # a line break always ends one
    r"|\s*\n\s*"
)


def split_sentences(text: str) -> list[str]:
    """Sentences of a text in any script, stripped, empty ones dropped.

    Thai and Lao have no full stop in common use: a space between two words of those
    scripts marks a sentence (or clause) boundary. Khmer ends sentences with ។ or ៕,
    Burmese with ။; Latin-script languages with . ! or ? followed by a space.
    """
    return [part.strip() for part in _SENTENCE_END.split(text or "") if part and part.strip()]


# ---------------------------------------------------------------- the Whoosh analyser


class ScriptTokenizer(Tokenizer):
    """Words in every script; SEA-script runs segmented, others as RegexTokenizer would.

    A Latin-script value that reads as Indonesian or Malay marks its tokens with
    ``language = "ms"`` (as does a call with ``language="ms"``), for ``ScriptStemFilter``.
    """

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        language: str | None = None,
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = value
            token.boost = 1.0
            token.script = script_of(value)
            token.language = language
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar = start_char
                token.endchar = start_char + len(value)
            yield token
            return
        if language is None and (value.startswith(MALAY_HINT) or reads_as_malay(value)):
            language = MALAY
        for position, (text, start, end, script) in enumerate(segment(value)):
            token.text = text
            token.boost = 1.0
            token.stopped = False
            token.script = script
            token.language = language
            if keeporiginal:
                token.original = text
            if positions:
                token.pos = start_pos + position
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


class FoldFilter(Filter):
    """Latin-script words without diacritics (after lowercasing)."""

    def __call__(self, tokens: Iterator[Any]) -> Iterator[Any]:
        for token in tokens:
            if not token.text.isascii() and getattr(token, "script", OTHER) == OTHER:
                token.text = fold(token.text)
            yield token


class ScriptStemFilter(Filter):
    """Porter for English, Sastrawi for Indonesian/Malay, nothing for the SEA scripts
    (their words do not inflect)."""

    def __call__(self, tokens: Iterator[Any]) -> Iterator[Any]:
        for token in tokens:
            if getattr(token, "script", OTHER) == OTHER and not token.stopped:
                if getattr(token, "language", None) == MALAY:
                    token.text = stem_malay(token.text)
                else:
                    token.text = stem_english(token.text)
            yield token


def word_boundary(text: str, index: int, forward: bool = True) -> int:
    """The nearest word boundary at or after (or before) ``index``, so that a window of a
    long text cut there does not split a Thai word or a Khmer cluster in half. Only a
    margin around ``index`` is segmented."""
    if index <= 0 or index >= len(text):
        return max(0, min(index, len(text)))
    margin = 48
    base = max(0, index - margin)
    ends = {base}
    for _, start, end, script in segment(text[base : index + margin]):
        if script != KHMER_OPEN:
            ends.update((base + start, base + end))
    if forward:
        after = [b for b in ends if b >= index]
        return min(after) if after else index
    before = [b for b in ends if b <= index]
    return max(before) if before else index
