"""Place names as people write them, folded to one word: shared by search and leads.

"HCMC", "Saigon" and "Ho Chi Minh City" are one place; both the search analyser and the
leads' text analysis fold them to one token so that each finds the others.
"""

from __future__ import annotations

import re

# Spellings of the same place that people use interchangeably, folded to one token so
# that "HCMC", "Saigon" and "Ho Chi Minh City" find each other.
PLACE_VARIANTS: dict[str, str] = {
    "hcmc": "hochiminh",
    "saigon": "hochiminh",
    "hochiminh": "hochiminh",
    "vietnam": "vietnam",
    "viet": "vietnam",
    "danang": "danang",
    "phnompenh": "phnompenh",
    "kl": "kualalumpur",
    "kualalumpur": "kualalumpur",
    "bangkok": "bangkok",
    "krungthep": "bangkok",
    "yangon": "yangon",
    "rangoon": "yangon",
    "manila": "manila",
    "metromanila": "manila",
    "jakarta": "jakarta",
    "lao": "laos",
    "laos": "laos",
    "brunei": "brunei",
    "philippine": "philippines",
    "philippines": "philippines",
}

_MULTIWORD_PLACES = {
    "ho chi minh city": "hochiminh",
    "ho chi minh": "hochiminh",
    "viet nam": "vietnam",
    "da nang": "danang",
    "phnom penh": "phnompenh",
    "kuala lumpur": "kualalumpur",
    "metro manila": "manila",
    "krung thep": "bangkok",
}
# One pass over the text for every multi-word place (longest spelling first).
_PLACE_PATTERN = re.compile(
    r"\b(?:"
    + "|".join(
        r"\s+".join(name.split()) for name in sorted(_MULTIWORD_PLACES, key=len, reverse=True)
    )
    + r")\b",
    re.IGNORECASE,
)


def fold_places(text: str) -> str:
    """Join multi-word place names into one word before tokenizing."""
    return _PLACE_PATTERN.sub(
        lambda m: _MULTIWORD_PLACES[" ".join(m.group(0).lower().split())], text
    )
