"""The locales the interface ships, each named in its own language for the switch."""

from __future__ import annotations

DEFAULT_LOCALE = "en"

# Babel's locale id (also the BCP 47 tag for <html lang>) -> the language's own name.
LOCALES: dict[str, str] = {
    "en": "English",
    "vi": "Tiếng Việt",
    "th": "ไทย",
    "id": "Bahasa Indonesia",
    "ms": "Bahasa Melayu",
    "fil": "Filipino",
}

# Tags browsers send for a shipped language under another name: Tagalog is the base of
# Filipino (browsers offer both), "in" is Indonesian's withdrawn ISO 639 code, "zsm" is
# Standard Malay's ISO 639-3 code.
ALIASES: dict[str, str] = {"tl": "fil", "in": "id", "zsm": "ms"}

# Translated locales only: English is the source language, its catalog is the msgids.
TRANSLATED_LOCALES: tuple[str, ...] = tuple(code for code in LOCALES if code != DEFAULT_LOCALE)


def is_shipped(code: object) -> bool:
    """Whether ``code`` is exactly one of our locale ids (input from a form or a column)."""
    return isinstance(code, str) and code in LOCALES


def shipped_match(tag: str) -> str | None:
    """Our locale for a BCP 47 language tag (``fil-PH``, ``th``, ``tl``), or None."""
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    primary = ALIASES.get(primary, primary)
    return primary if primary in LOCALES else None


def N_(message: str) -> str:
    """Mark ``message`` for the catalog where it is translated later, by whoever shows it
    (``pybabel extract`` knows ``N_`` by default)."""
    return message
