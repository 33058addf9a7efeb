"""Thesaurus phrases match what their author wrote, not a word left over from them."""

from __future__ import annotations

from portal.matching.concepts import collapsed, thesaurus
from portal.matching.text import phrase_terms


def test_a_phrase_that_analysis_shrinks_to_one_common_word_is_left_out() -> None:
    # numbers and stop words are not matched, so these would match "project", "staff"
    # and "devices" anywhere
    for phrase in ("project 25", "it staff", "1:1 devices", "us suppliers"):
        assert collapsed(phrase, phrase_terms(phrase)), phrase
    for phrase in ("leak", "street lamps", "lamps failing", "lights out"):
        assert not collapsed(phrase, phrase_terms(phrase)), phrase


def test_common_words_alone_name_no_concept() -> None:
    found = thesaurus().match(phrase_terms("The project staff carry devices to every level."))
    labels = {thesaurus().concepts[c].id for c in found.strengths}
    assert not labels & {"critical_communications", "gov_cloud_modernisation", "smart_classrooms"}
    # the whole phrase still names its concept through the rest of its words
    lamps = thesaurus().match(phrase_terms("The street lamps keep failing at night."))
    assert lamps.strengths
