"""What the sentence encoders read of a need: its sentences, in every script."""

from __future__ import annotations

from portal.matching.profiles import NeedProfile, sentences

# A water utility's need in Thai (written for this test): clauses apart by spaces, no
# full stop, as Thai is written.
LEAKS_TH = (
    "น้ำประปารั่วจากท่อเก่าในเขตเมือง ทำให้น้ำสูญเสียเกือบครึ่งหนึ่งก่อนถึงบ้านเรือน "
    "ประชาชนร้องเรียนเรื่องแรงดันน้ำต่ำในช่วงเช้า "
    "ค่าไฟของสถานีสูบน้ำสูงขึ้นทุกปี "
    "เราต้องการระบบตรวจหาจุดรั่วที่ซ่อนอยู่ใต้ถนน และแผนที่แสดงท่อที่ควรเปลี่ยนก่อน"
)
LAMPS_TH = (
    "ไฟถนนริมแม่น้ำเสียทีละดวงและค่าไฟฟ้าสำหรับไฟถนนสูงขึ้นทุกเดือน ประชาชนไม่กล้าเดินริมแม่น้ำตอนกลางคืนเพราะถนนมืด"
)


def test_english_is_split_at_its_full_stops_as_it_always_was() -> None:
    # its pieces, and so their stored vectors' fingerprints, do not change
    english = "The lamps fail at night along the river. Our bill grows every month too."
    assert sentences(english) == [
        "The lamps fail at night along the river.",
        "Our bill grows every month too.",
    ]


def test_thai_clauses_are_joined_into_sentence_sized_pieces() -> None:
    found = sentences(LEAKS_TH)
    # seven clauses, not seven pieces: each piece about an English sentence long
    assert 2 <= len(found) <= 3
    assert all(len(piece) >= 70 for piece in found)
    # nothing is lost or reordered: the clauses are joined with the space between them
    assert " ".join(found) == LEAKS_TH


def test_a_short_thai_need_is_one_piece() -> None:
    assert sentences(LAMPS_TH) == [LAMPS_TH]


def test_a_full_stop_ends_a_piece_in_a_script_without_spaces() -> None:
    # Lao writes a full stop where a sentence ends; the piece ends there, however short
    first = "ນ້ຳປະປາຮົ່ວຈາກທໍ່ເກົ່າ ໃນເຂດເມືອງທຸກມື້."
    second = "ພວກເຮົາຕ້ອງການລະບົບກວດຫາຈຸດຮົ່ວ ທີ່ເຊື່ອງຢູ່ໃຕ້ຖະໜົນ ແລະ ແຜນທີ່ຂອງທໍ່ທີ່ຄວນປ່ຽນກ່ອນ."
    assert sentences(f"{first} {second}") == [first, second]


def test_the_title_comes_first_then_each_piece_of_the_description() -> None:
    need = NeedProfile(
        id=1,
        ref="n-1",
        title="ท่อประปารั่ว",
        description=LEAKS_TH,
        sectors=["water"],
        country="TH",
        buyer_id=1,
        buyer_name="Water works",
    )
    assert need.pieces == ["ท่อประปารั่ว", *sentences(LEAKS_TH)]
