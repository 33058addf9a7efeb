"""Search in every ASEAN script: a need is found by the words of its title as people type
them (Thai with or without a space, Vietnamese without diacritics, Khmer, Lao and Burmese
words, an inflected Indonesian form), and its snippet marks whole words."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.db import utc_now
from portal.extensions import db
from portal.languages.segment import words
from portal.needs.models import Need
from portal.organizations.models import Organization, VerificationStatus
from portal.search.queries import search
from portal.search.sync import apply_pending_events

THAI_FILLER = "ชุมชนริมแม่น้ำมีปัญหาน้ำท่วมทุกปีและถนนเสียหาย " * 12

NEEDS = {
    "th": ("TH", "ระบบบำบัดน้ำเสียสำหรับโรงพยาบาลชุมชน", THAI_FILLER + "เราต้องการบำบัดน้ำเสีย"),
    "vi": ("VN", "Hệ thống chiếu sáng đường phố thông minh", "Đèn đường tiết kiệm điện."),
    "km": ("KH", "ប្រព័ន្ធលូបង្ហូរទឹកភ្លៀងក្នុងទីក្រុង", "ផ្លូវលិចទឹករាល់ឆ្នាំ។"),
    "lo": ("LA", "ລະບົບນ້ຳປະປາສຳລັບເມືອງນ້ອຍ", "ນ້ຳປະປາບໍ່ພໍໃຊ້."),
    "my": ("MM", "မြို့တော်ရေပေးဝေရေးစနစ်ပြုပြင်ခြင်း", "ရေပိုက်ဟောင်းများ ပေါက်နေသည်။"),
    "id": (
        "ID",
        "Pembangunan jaringan pipa air bersih",
        "Kami membutuhkan jaringan yang baru untuk warga dan kawasan pesisir.",
    ),
    "en": ("PH", "Water lost before it reaches customers", "Leaks hide under the roads."),
}


@pytest.fixture
def needs(app: Flask) -> dict[str, Need]:
    made = {}
    for language, (country, title, description) in NEEDS.items():
        buyer = Organization(
            ref=f"buyer-{language}",
            kind="buyer",
            name=f"City buyer {language}",
            country=country,
            summary="",
            sectors=["water"],
            markets=[],
            status=VerificationStatus.VERIFIED,
            verified_at=utc_now(),
        )
        need = Need(
            ref=f"need-{language}",
            buyer=buyer,
            title=title,
            description=description,
            sectors=["water"],
        )
        db.session.add_all([buyer, need])
        made[language] = need
    db.session.commit()
    apply_pending_events()
    return made


def found(text: str) -> list[str]:
    return [hit.record.ref for hit in search(text).hits if hit.kind == "need"]


@pytest.mark.parametrize("typed", ["บำบัดน้ำเสีย", "บำบัด น้ำเสีย"])
def test_a_thai_need_is_found_by_two_adjacent_title_words_with_or_without_a_space(
    needs, typed: str
) -> None:
    assert found(typed) == ["need-th"]


@pytest.mark.parametrize("typed", ["chieu sang duong pho", "chiếu sáng đường phố", "Duong"])
def test_a_vietnamese_need_is_found_with_or_without_diacritics(needs, typed: str) -> None:
    assert found(typed) == ["need-vi"]


@pytest.mark.parametrize(
    ("typed", "ref"), [("ទឹកភ្លៀង", "need-km"), ("ປະປາ", "need-lo"), ("ရေပေးဝေ", "need-my")]
)
def test_khmer_lao_and_burmese_needs_are_found_by_a_title_word(needs, typed: str, ref: str) -> None:
    assert found(typed) == [ref]


@pytest.mark.parametrize("typed", ["membangun", "bangunan", "jaring"])
def test_an_indonesian_need_is_found_by_another_form_of_a_title_word(needs, typed: str) -> None:
    assert found(typed) == ["need-id"]


def test_english_search_is_unchanged_beside_other_scripts(needs) -> None:
    assert found("leaks") == ["need-en"]
    assert found("reaching customer") == ["need-en"]


def test_snippets_mark_whole_words_in_every_script(needs, client: FlaskClient) -> None:
    page = client.get("/search?q=น้ำเสีย").get_data(as_text=True)
    assert "<mark>น้ำเสีย</mark>" in page  # deep in a long description, cut at word edges
    page = client.get("/search?q=duong").get_data(as_text=True)
    assert "<mark>Đèn</mark>" not in page
    assert "<mark>đường</mark>" in page
    page = client.get("/search?q=ទឹក").get_data(as_text=True)
    assert "<mark>ទឹក</mark>" in page
    page = client.get("/search?q=ပိုက်").get_data(as_text=True)
    assert "<mark>ပိုက်</mark>" in page


def test_a_long_thai_snippet_starts_and_ends_on_whole_words(needs) -> None:
    (hit,) = [h for h in search("น้ำเสีย").hits if h.kind == "need"]
    text = str(hit.snippet).replace("<mark>", "").replace("</mark>", "")
    for fragment in text.split(" … "):
        fragment = fragment.strip()
        assert fragment in NEEDS["th"][2]
        whole = words(NEEDS["th"][2])
        assert words(fragment)[0] in whole and words(fragment)[-1] in whole


def test_saved_searches_match_an_indonesian_need_as_search_does(needs) -> None:
    from portal.follows.services import SearchCriteria, match_need

    criteria = SearchCriteria(words="membangun")
    assert match_need(criteria, needs["id"]) is not None
    assert match_need(criteria, needs["en"]) is None


def test_without_a_match_in_the_text_a_thai_snippet_is_its_first_whole_words(needs) -> None:
    # a title match only: the snippet is the description's start, cut at a word edge
    (hit,) = [h for h in search("โรงพยาบาล").hits if h.kind == "need"]
    shown = str(hit.snippet).removesuffix(" …")
    description = NEEDS["th"][2]
    assert description.startswith(shown) and len(shown) <= 280
    assert words(description[: len(shown) + 10])[: len(words(shown))] == words(shown)


def test_an_indonesian_word_is_known_by_its_root_so_no_correction_is_offered(needs) -> None:
    assert search("membangun").suggestion is None
