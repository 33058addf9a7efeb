"""Language detection of needs: each ASEAN language on short texts written for these
tests, Indonesian against Malay, and what is too short to tell."""

from __future__ import annotations

import pytest

from portal.languages.detect import (
    LANGUAGE_NAMES,
    detect_language,
    detect_need_language,
    language_name,
)

# (expected code, a title a city official might write, a sentence of description)
SAMPLES: list[tuple[str, str, str]] = [
    (
        "en",
        "Smart parking sensors for the old town",
        "We want drivers to find a free space without circling the market streets.",
    ),
    (
        "vi",
        "Cảm biến đỗ xe thông minh cho khu phố cổ",
        "Chúng tôi muốn người lái xe tìm được chỗ trống mà không phải đi vòng quanh chợ.",
    ),
    (
        "th",
        "เซ็นเซอร์ที่จอดรถอัจฉริยะสำหรับเมืองเก่า",
        "เราต้องการให้ผู้ขับขี่หาที่จอดว่างได้โดยไม่ต้องวนรอบตลาด",
    ),
    (
        "id",
        "Sensor parkir pintar untuk kawasan kota tua",
        "Kami ingin pengemudi menemukan tempat kosong tanpa harus berputar-putar di sekitar "
        "pasar. Pemerintah kota akan membiayai proyek ini dari anggaran daerah.",
    ),
    (
        "ms",
        "Penderia tempat letak kereta pintar untuk bandar lama",
        "Kami mahu pemandu mencari petak kosong tanpa perlu berpusing-pusing di sekitar "
        "pasar. Majlis bandaraya akan membiayai projek ini daripada peruntukan kerajaan negeri.",
    ),
    (
        "fil",
        "Matalinong sensor ng paradahan para sa lumang bayan",
        "Nais naming mahanap ng mga drayber ang bakanteng puwesto nang hindi umiikot sa palengke.",
    ),
    (
        "km",
        "ឧបករណ៍ចាប់សញ្ញាចំណតរថយន្តឆ្លាតវៃសម្រាប់ទីក្រុងចាស់",
        "យើងចង់ឱ្យអ្នកបើកបររកកន្លែងចតទំនេរបានដោយមិនចាំបាច់បើកជុំវិញផ្សារ។",
    ),
    (
        "lo",
        "ເຊັນເຊີບ່ອນຈອດລົດອັດສະລິຍະສຳລັບເມືອງເກົ່າ",
        "ພວກເຮົາຕ້ອງການໃຫ້ຄົນຂັບລົດຊອກຫາບ່ອນຈອດຫວ່າງໄດ້ໂດຍບໍ່ຕ້ອງຂັບອ້ອມຕະຫຼາດ",
    ),
    (
        "my",
        "မြို့ဟောင်းအတွက် စမတ်ကားရပ်နားရန်နေရာ အာရုံခံကိရိယာ",
        "ယာဉ်မောင်းများ ဈေးပတ်လည်မောင်းစရာမလိုဘဲ ကားရပ်စရာနေရာ ရှာတွေ့စေလိုပါသည်။",
    ),
]


@pytest.mark.parametrize(("expected", "title", "description"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_each_language_is_told_from_title_and_description(
    expected: str, title: str, description: str
) -> None:
    assert detect_need_language(title, description, None) == expected


@pytest.mark.parametrize(
    ("expected", "title"),
    [(code, title) for code, title, _ in SAMPLES if code not in ("id", "ms")],
    ids=[code for code, _, _ in SAMPLES if code not in ("id", "ms")],
)
def test_a_title_alone_is_enough_outside_bahasa(expected: str, title: str) -> None:
    assert detect_language(title) == expected


def test_vietnamese_is_told_by_its_letters_even_in_capitals() -> None:
    assert detect_language("HỆ THỐNG CHIẾU SÁNG CÔNG CỘNG") == "vi"


def test_a_bahasa_title_too_close_to_call_follows_the_buyers_country() -> None:
    """Shared words ("sistem", "pintar", "untuk", "kota") leave the model unsure: a
    Malaysian or Bruneian buyer writes Malay, an Indonesian one Indonesian."""
    title = "Sistem lampu jalan pintar untuk kota"
    assert detect_language(title, "MY") == "ms"
    assert detect_language(title, "BN") == "ms"
    assert detect_language(title, "ID") == "id"


def test_a_clear_text_is_not_overruled_by_the_country() -> None:
    _, title, description = SAMPLES[4]  # Malay, with words Indonesian does not use
    assert detect_need_language(title, description, "ID") == "ms"
    _, title, description = SAMPLES[0]
    assert detect_need_language(title, description, "MY") == "en"


@pytest.mark.parametrize("text", ["", "CCTV", "Smart city", "  1,000 LED  ", "ไฟ LED"])
def test_too_short_to_tell_is_none(text: str) -> None:
    assert detect_language(text, "TH") is None


def test_a_language_outside_asean_is_other() -> None:
    assert detect_language("智能停车传感器用于老城区的市场街道") == "other"
    assert detect_language("Умные датчики парковки для старого города") == "other"


def test_mixed_text_goes_by_the_script_most_of_it_is_in() -> None:
    assert detect_language("ระบบไฟถนนอัจฉริยะ LED สำหรับเทศบาลนคร") == "th"


def test_every_code_has_a_name() -> None:
    assert language_name("fil") == "Filipino"
    assert language_name(None) is None
    assert set(LANGUAGE_NAMES) >= {"en", "vi", "th", "id", "ms", "fil", "km", "lo", "my"}
