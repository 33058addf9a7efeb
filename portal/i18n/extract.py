"""Babel extractors for messages kept outside Python and the templates.

``babel.cfg`` names each by its dotted path, so ``make translations`` and the catalog test
(``tests/i18n``) read these files as they read the ``_()`` calls of the source.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from portal.matching.concepts import LABEL_CONTEXT

_CONCEPT_TABLE = re.compile(r"^\s*\[\[\s*concept\s*\]\]")
_LABEL_KEY = re.compile(r"^\s*label\s*=")


def concept_labels(
    fileobj: IO[bytes],
    keywords: Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[int, str, tuple[str, str], list[str]]]:
    """Each concept's ``label`` in ``concepts.toml`` (the thesaurus stays the one source
    of the English labels), as a ``pgettext`` call in the context ``LABEL_CONTEXT``: what
    ``portal.matching.reasons.concept_label`` asks the catalog for. Each comes with its
    line and, for the translator, the concept's id."""
    text = fileobj.read().decode("utf-8")
    concepts = tomllib.loads(text).get("concept", [])
    # tomllib gives the values but not their lines: count the [[concept]] tables to know
    # which concept a ``label =`` line belongs to.
    label_lines: dict[int, int] = {}
    index = -1
    for number, line in enumerate(text.splitlines(), start=1):
        if _CONCEPT_TABLE.match(line):
            index += 1
        elif index >= 0 and _LABEL_KEY.match(line):
            label_lines.setdefault(index, number)
    for index, concept in enumerate(concepts):
        label = concept.get("label")
        if label:
            comment = f"concept {concept.get('id', index)}: “answers the need's … problem”"
            yield label_lines.get(index, 0), "pgettext", (LABEL_CONTEXT, label), [comment]
