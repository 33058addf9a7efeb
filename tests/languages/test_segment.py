"""Words and sentences in every script (portal.languages.segment), without a database."""

from __future__ import annotations

from portal.languages.segment import (
    fold,
    fold_text_same_length,
    reads_as_malay,
    split_sentences,
    stem_malay,
    word_boundary,
    words,
)
from portal.search.schema import ANALYZER


def terms(text: str) -> list[str]:
    return [token.text for token in ANALYZER(text)]


def test_thai_is_cut_into_dictionary_words() -> None:
    assert words("ระบบบำบัดน้ำเสียสำหรับโรงพยาบาล") == [
        "ระบบ",
        "บำบัด",
        "น้ำเสีย",
        "สำหรับ",
        "โรงพยาบาล",
    ]


def test_lao_is_cut_into_dictionary_words() -> None:
    assert words("ລະບົບນ້ຳປະປາສຳລັບເມືອງ") == ["ລະບົບ", "ນ້ຳ", "ປະປາ", "ສຳລັບ", "ເມືອງ"]


def test_khmer_syllables_keep_subscripts_and_finals_whole() -> None:
    # coeng + consonant stays with its base; a bare final joins the open syllable before
    assert words("ទឹកភ្លៀងក្នុងក្រុង") == ["ទឹក", "ភ្លៀង", "ក្នុង", "ក្រុង"]


def test_burmese_syllables_keep_killed_and_stacked_consonants() -> None:
    assert words("ရေပေးဝေရေးစနစ်") == ["ရေ", "ပေး", "ဝေ", "ရေး", "စ", "နစ်"]
    assert words("မြို့တော်") == ["မြို့", "တော်"]


def test_segments_give_back_the_text_with_mixed_scripts() -> None:
    text = "LED ระบบไฟ 2026 ផ្លូវ x-ray"
    assert words(text) == ["LED", "ระบบ", "ไฟ", "2026", "ផ្លូវ", "x-ray"]


def test_english_is_analysed_as_before() -> None:
    assert terms("Detecting leaks in the pipes of HCMC") == ["detect", "leak", "pipe", "hochiminh"]
    assert terms("Streetlights, e-mail and don't") == ["streetlight", "e-mail", "don't"]


def test_vietnamese_folds_to_the_same_terms_with_or_without_diacritics() -> None:
    assert fold("đường phố") == "duong pho"
    assert terms("Hệ thống chiếu sáng đường phố") == terms("he thong chieu sang duong pho")
    # decomposed input (NFD, as some keyboards send it) too
    import unicodedata

    assert terms(unicodedata.normalize("NFD", "chiếu sáng")) == terms("chieu sang")


def test_folding_for_a_scan_keeps_positions() -> None:
    text = "Chiếu sáng đường phố ไฟ"
    folded = fold_text_same_length(text)
    assert len(folded) == len(text)
    assert folded.startswith("Chieu sang duong pho ไฟ")


def test_indonesian_text_is_stemmed_to_roots_and_english_is_not() -> None:
    assert reads_as_malay("Pembangunan jaringan pipa yang baru untuk warga dan kota")
    assert not reads_as_malay("Building a new pipe network for the city and its people")
    assert stem_malay("pembangunan") == "bangun"
    assert stem_malay("membangun") == "bangun"
    assert stem_malay("services") == "services"
    indexed = terms("Pembangunan jaringan pipa yang baru untuk warga dan kota")
    assert "bangun" in indexed and "jaring" in indexed


def test_sentences_in_scripts_without_full_stops() -> None:
    assert split_sentences("ท่อประปาแตก ถนนน้ำท่วมทุกปี") == ["ท่อประปาแตก", "ถนนน้ำท่วมทุกปี"]
    assert split_sentences("ເມືອງນ້ອຍ ນ້ຳປະປາບໍ່ພໍ") == ["ເມືອງນ້ອຍ", "ນ້ຳປະປາບໍ່ພໍ"]
    assert split_sentences("ផ្លូវងងឹត។ ទឹកលិច៕") == ["ផ្លូវងងឹត។", "ទឹកលិច៕"]
    assert split_sentences("ရေမရှိ။ မီးမလာ။") == ["ရေမရှိ။", "မီးမလာ။"]
    assert split_sentences("Pipes leak. Roads “flood!” Why?\nNew line") == [
        "Pipes leak.",
        "Roads “flood!”",
        "Why?",
        "New line",
    ]
    # a space between Thai and a Latin word or a number is not a sentence end
    assert split_sentences("ระบบ LED 200 ดวง") == ["ระบบ LED 200 ดวง"]
    assert split_sentences("") == []


def test_word_boundary_never_cuts_a_thai_word_or_khmer_cluster() -> None:
    thai = "ระบบบำบัดน้ำเสียสำหรับโรงพยาบาล"
    inside = thai.index("น้ำเสีย") + 2
    assert word_boundary(thai, inside) == thai.index("สำหรับ")
    assert word_boundary(thai, inside, forward=False) == thai.index("น้ำเสีย")
    khmer = "ទឹកភ្លៀងក្នុងក្រុង"
    assert word_boundary(khmer, 4) == khmer.index("ក្នុង")


def test_a_khmer_syllable_is_also_indexed_without_a_final_that_may_open_the_next() -> None:
    # "ទន្លេ" (river) then "ងងឹត" (dark): the first ង could be either's, so the index
    # holds both readings and each word, typed alone, finds the text
    indexed = set(terms("ទន្លេងងឹត"))
    assert set(terms("ទន្លេ")) <= indexed
    assert set(terms("ងងឹត")) <= indexed
    # the glides ai and au take no final: ថ្លៃ (price) stays whole before អគ្គិសនី
    assert words("ថ្លៃអគ្គិសនី")[0] == "ថ្លៃ"
