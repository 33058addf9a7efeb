"""A reason quotes the need's own words, and names a concept only where both sides name it.

A trade officer checks a reason against the need: a quote the city never wrote ("pump
stations" where it wrote "pumping stations"), a problem named from one passing word, or
an excerpt ending in a list's next number reads as made up.
"""

from __future__ import annotations

from dataclasses import replace

from portal.languages.segment import words as segmented_words
from portal.matching.concepts import own_words, thesaurus
from portal.matching.profiles import CapabilityText, NeedProfile, VendorProfile
from portal.matching.reasons import (
    MIN_CONCEPT_STRENGTH,
    UNSPACED_QUOTE_CHARS,
    Answer,
    _excerpt,
    answer_reason,
    lead_reasons,
)

LAMPS = CapabilityText(
    "LED streetlight retrofit",
    "LED streetlight retrofit with a luminaire that reports faults; solar streetlight option.",
)


def _need(title: str, description: str = "") -> NeedProfile:
    return NeedProfile(1, "n", title, description, ["energy"], "KH", 2, "Siem Reap")


def _vendor(*capabilities: CapabilityText) -> VendorProfile:
    return VendorProfile(1, "v", "Brightway", "", ["energy"], ["KH"], list(capabilities))


def test_own_words_quote_the_text_as_written_not_the_thesaurus_form() -> None:
    text = "Our Pumping Stations are old, and the rubbish bins overflow every week."
    assert own_words(text, ["pump stations", "bins overflowing"]) == [
        "Pumping Stations",
        "bins overflow",
    ]


def test_own_words_span_the_words_between_as_the_match_does() -> None:
    text = "The lamps along the river keep failing at night."
    assert own_words(text, ["lamps failing"]) == ["lamps along the river keep failing"]


def test_own_words_leave_out_a_phrase_the_text_does_not_hold_close_together() -> None:
    text = (
        "Lamps were bought in 2019. Since then the budget office, the council and the"
        " ward chiefs have argued about failing contracts."
    )
    assert own_words(text, ["lamps failing", "street lights"]) == []


def test_own_words_quote_each_stretch_once() -> None:
    text = "Street lights are dark; street lights need fixing."
    assert own_words(text, ["street lights", "streetlights", "street light"]) == ["Street lights"]


def test_an_excerpt_does_not_end_in_the_next_item_of_a_list() -> None:
    part = "We need three things: 1) better lamps on the main roads and bridges; 2) a way to report"
    assert _excerpt(part) == "We need three things: 1) better lamps on the main roads and bridges…"
    lettered = (
        "Two asks come first here, a) brighter lamps on roads and along the river, b) fewer outages"
    )
    assert _excerpt(lettered).endswith("along the river…")


def test_an_excerpt_does_not_end_in_a_word_that_leads_into_the_rest() -> None:
    part = "Today our staff take samples by boat and test them in the laboratory a week later"
    assert _excerpt(part) == "Today our staff take samples by boat and test them in the laboratory…"


def test_a_short_part_is_quoted_whole() -> None:
    assert _excerpt("Dark streets at night") == "Dark streets at night"


# A Thai and a Khmer ask (neither script puts spaces between words).
THAI_ASK = (
    "เราต้องการทราบว่าย่านใดร้อนที่สุดและใครอาศัยอยู่ที่นั่นและเราต้องการแผนที่ความร้อนของเมืองทั้งเมืองในห้าปีข้างหน้า"
)
KHMER_ASK = "យើងចង់ជំនួសអំពូលចាស់ៗ ប្រើថាមពលតិចជាងមុននៅពេលយប់ជ្រៅដែលផ្លូវស្ងាត់គ្មានមនុស្ស និងអាចមើលឃើញពីការិយាល័យ"


def test_a_sentence_in_a_script_without_spaces_is_quoted_whole_unless_it_runs_on() -> None:
    """Readers of Thai, Lao and Khmer preferred the whole sentence to one cut at about
    fourteen words; a run-on sentence is still cut, at a word the segmenter finds."""
    assert _excerpt(THAI_ASK) == THAI_ASK
    assert _excerpt(KHMER_ASK) == KHMER_ASK
    run_on = " ".join([THAI_ASK] * 4)
    cut = _excerpt(run_on)
    assert cut.endswith("…") and run_on.startswith(cut[:-1])
    assert len(cut) <= UNSPACED_QUOTE_CHARS + 1
    # ended at a word boundary: the words of the cut are the run-on's first words
    kept = segmented_words(cut[:-1])
    assert kept == segmented_words(run_on)[: len(kept)]


def test_a_reader_of_the_needs_language_reads_the_part_in_its_words() -> None:
    """Quoted, the city's words say more than the concept's name with a few of them."""
    part = "Street lamps along the canal keep failing and whole blocks are left with dark streets."
    reason = answer_reason(_need(part), _vendor(LAMPS), thesaurus(), Answer(0, part))
    assert reason == f"“LED streetlight retrofit” answers “{_excerpt(part)}”"


def test_a_concept_named_by_both_sides_is_quoted_in_the_needs_words() -> None:
    """For a reader who may not read the need's language (here a need detected as Khmer,
    read in English), the concept the capability and the part share names the problem
    in the reader's language, with the need's own words."""
    part = "Street lamps along the canal keep failing and whole blocks are left with dark streets."
    need = replace(_need(part), language="km")
    reason = answer_reason(need, _vendor(LAMPS), thesaurus(), Answer(0, part))
    assert reason.startswith(
        "“LED streetlight retrofit” answers the need's street lighting problem"
    )
    quoted = reason.partition("(")[2]
    for words in quoted.rstrip(")").split("”, “"):
        assert words.strip("“”") in part


def test_a_concept_the_need_names_with_one_passing_word_is_not_the_problem() -> None:
    """One phrase of the need is not enough to name its problem: the part is quoted."""
    part = "Tourists walk back to their guesthouses along dark streets by the river."
    thes = thesaurus()
    lighting = next(i for i, c in enumerate(thes.concepts) if c.id == "streetlighting")
    assert 0 < thes.match_text(part).strengths[lighting] < MIN_CONCEPT_STRENGTH
    assert thes.match_text(f"{LAMPS.title}. {LAMPS.description}").strengths[lighting] >= (
        MIN_CONCEPT_STRENGTH
    )
    reason = answer_reason(
        replace(_need(part), language="km"), _vendor(LAMPS), thes, Answer(0, part)
    )
    assert "problem" not in reason
    assert reason == f"“LED streetlight retrofit” answers “{_excerpt(part)}”"


def test_before_vectors_the_reason_also_quotes_the_needs_own_words() -> None:
    need = _need("Dark streets", "The street lamps along the river keep failing.")
    first = lead_reasons(need, _vendor(LAMPS), thesaurus())[0]
    assert first.startswith("“LED streetlight retrofit” answers the need's street lighting problem")
    for words in first.partition("(")[2].rstrip(")").split("”, “"):
        assert words.strip("“”") in need.text


def test_a_weak_lead_relates_to_the_part_it_does_not_claim_to_answer() -> None:
    """A lead a page folds away is one the ranking doubts solves the need: its closest
    capability and the part of the need it is closest to are still named, but as related,
    not as an answer, in both forms of the reason."""
    part = "Street lamps along the canal keep failing and whole blocks are left with dark streets."
    need = _need(part)
    weak = answer_reason(need, _vendor(LAMPS), thesaurus(), Answer(0, part), weak=True)
    assert weak == f"“LED streetlight retrofit” relates to “{_excerpt(part)}”"
    read_elsewhere = replace(need, language="km")
    concept = answer_reason(read_elsewhere, _vendor(LAMPS), thesaurus(), Answer(0, part), True)
    assert concept.startswith(
        "“LED streetlight retrofit” relates to the need's street lighting problem ("
    )
    # with no sentence vectors, the reason found by the thesaurus says the same
    by_concepts = lead_reasons(need, _vendor(LAMPS), thesaurus(), weak=True)[0]
    assert " relates to the need's " in by_concepts and " answers " not in by_concepts
    assert " answers " in lead_reasons(need, _vendor(LAMPS), thesaurus())[0]


def test_a_quote_in_lao_that_ends_on_and_says_it_goes_on() -> None:
    """A Lao need's piece is joined from fragments up to a length, so it can end on "ແລະ"
    ("and"); quoted, it drops the dangling word and ends in an ellipsis."""
    piece = "ພວກເຮົາຕ້ອງການບັນທຶກທີ່ຖືກຕ້ອງ ເປັນແບບສາມມິຕິ, ແລະ"
    assert _excerpt(piece) == "ພວກເຮົາຕ້ອງການບັນທຶກທີ່ຖືກຕ້ອງ ເປັນແບບສາມມິຕິ…"
    whole = "ພວກເຮົາຕ້ອງການບັນທຶກທີ່ຖືກຕ້ອງ ເປັນແບບສາມມິຕິ."
    assert _excerpt(whole) == "ພວກເຮົາຕ້ອງການບັນທຶກທີ່ຖືກຕ້ອງ ເປັນແບບສາມມິຕິ"
