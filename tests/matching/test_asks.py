"""Which sentence of a need states the city's ask, and the reason quoting it: a reason
that quotes the story around the ask tells a trade officer where words met, not what the
capability would do for the city."""

from __future__ import annotations

import numpy as np
import pytest

from portal.matching.asks import ask_starts_at, asking_pieces, states_an_ask
from portal.matching.concepts import thesaurus
from portal.matching.pieces import ASK_PREFERENCE, TITLE_PREFERENCE, best_answer
from portal.matching.profiles import CapabilityText, NeedProfile, VendorProfile
from portal.matching.reasons import ASK_LEAD_WORDS, Answer, answer_reason


@pytest.mark.parametrize(
    ("sentence", "language"),
    [
        ("We want the lights to react to how many vehicles are really waiting.", "en"),
        ("We would like residents to submit from the village hall or their phone.", "en"),
        ("We are looking for a partner who can run the network for five years.", None),
        ("The city seeks a firm to map every drain in the old quarter.", "en"),
        ("Help us find where the water goes.", "en"),
        ("We are asking for: a list of buildings, roads and schools.", "en"),
        ("The Council wants answers: which barangays go under water?", "en"),
        ("Kami ingin warga dapat mengajukan permohonan dari balai desa.", "id"),
        ("Kami memerlukan sebuah firma untuk menasihati kami.", "ms"),
        ("Kailangan naming masundan ang kasaysayan ng bawat pasyente.", "fil"),
        ("Nais naming malaman kung kailan tumataas ang ilog.", "tl"),
        ("Chúng tôi muốn các camera tự nhận biết sự việc bất thường.", "vi"),
        ("เราต้องการทราบว่าย่านใดร้อนที่สุด", "th"),
        ("យើងចង់ជំនួសអំពូលចាស់ៗ", "km"),
        ("ພວກເຮົາຕ້ອງການຮູ້ວ່າລະດັບນ້ຳຂຶ້ນເທົ່າໃດ", "lo"),
    ],
)
def test_an_ask_is_recognised_as_cities_write_it(sentence: str, language: str | None) -> None:
    assert states_an_ask(sentence, language)


@pytest.mark.parametrize(
    ("sentence", "language"),
    [
        ("Last year a water company in another province had its computers locked.", "en"),
        ("Our laboratory takes samples three times per day by hand.", "en"),
        ("Bandung produces around 1,500 tonnes of waste each day.", None),
        ("Ada 214 jenis surat yang diterbitkan oleh 23 kantor.", "id"),
        ("Chúng tôi đã lắp đặt đèn vào năm 2012.", "vi"),
        # a language the portal has no cues for is read by the vectors alone
        ("We want the lights to react.", "fr"),
    ],
)
def test_a_story_is_not_an_ask(sentence: str, language: str | None) -> None:
    assert not states_an_ask(sentence, language)


def test_the_title_is_never_read_as_the_ask() -> None:
    pieces = ["We need help with dark streets", "Lamps fail every week.", "We want LED lamps."]
    assert asking_pieces(pieces, "en") == [False, False, True]


def _unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_the_ask_is_quoted_unless_another_part_is_clearly_closer() -> None:
    # need pieces: the title, a story sentence, the ask; one capability
    story_close = np.stack([_unit(1, 0, 0), _unit(0, 1, 0), _unit(0, 1, 0.8)])
    vendor = np.stack([_unit(0, 0, 1), _unit(0, 1, 0.2)])  # company line, capability
    similarity = story_close @ vendor[1]
    assert similarity[1] > similarity[2] > similarity[0]  # the story is the closest

    _, part, _ = best_answer(story_close, vendor)
    assert part == 1  # by the vectors alone: the story
    _, part, _ = best_answer(story_close, vendor, asks=[False, False, True])
    assert part == 2  # the ask, within ASK_PREFERENCE of the story
    assert similarity[1] - similarity[2] < ASK_PREFERENCE

    # a part more than ASK_PREFERENCE closer than the ask is still quoted
    far_ask = np.stack([_unit(1, 0, 0), _unit(0, 1, 0), _unit(1, 0, 0.3)])
    assert (far_ask @ vendor[1])[1] - (far_ask @ vendor[1])[2] > ASK_PREFERENCE
    _, part, _ = best_answer(far_ask, vendor, asks=[False, False, True])
    assert part == 1
    assert TITLE_PREFERENCE < ASK_PREFERENCE  # the ask is preferred to the title too


def test_marks_for_more_pieces_than_the_need_has_are_ignored() -> None:
    need = np.stack([_unit(1, 0), _unit(0, 1)])
    vendor = np.stack([_unit(1, 1), _unit(0, 1)])
    assert best_answer(need, vendor, asks=[False, True, True, True])[1] == 1
    assert best_answer(need, vendor, asks=[False])[1] == 1


def test_where_the_ask_begins_in_each_kind_of_script() -> None:
    sentence = "Before the next wave of projects, we want one cheap network for all devices."
    assert sentence[ask_starts_at(sentence, "en") :].startswith("we want")
    assert ask_starts_at("Lamps fail every week.", "en") is None
    thai = "ก่อนโครงการใหม่ เราต้องการเครือข่ายเดียว"
    assert thai[ask_starts_at(thai, "th") :].startswith("เราต้องการ")


def test_a_late_ask_is_quoted_from_where_it_begins() -> None:
    """A quote cut at about fourteen words would end before the city says what it wants."""
    late = (
        "Before the next wave of projects — street lights, drainage gates, bins — we want a "
        "common, cheap way for all these devices to send their readings to the city."
    )
    need = NeedProfile(1, "n", "Devices", late, ["connectivity"], "ID", 2, "Surabaya")
    vendor = VendorProfile(
        1, "v", "Meshworks", "", [], [], [CapabilityText("LoRaWAN networks", "City IoT.")]
    )
    reason = answer_reason(need, vendor, thesaurus(), Answer(0, late))
    assert reason.startswith("“LoRaWAN networks” answers “…we want a common, cheap way")
    # an ask in the first few words is quoted from the start of its sentence
    early = "So we want a common, cheap way for all these devices to send their readings."
    reason = answer_reason(need, vendor, thesaurus(), Answer(0, early))
    assert reason.startswith("“LoRaWAN networks” answers “So we want")
    assert ASK_LEAD_WORDS >= 3


def test_an_ask_is_quoted_far_enough_to_show_what_else_it_lists() -> None:
    """An ask often lists two or three things; cut at fourteen words it hid the one a
    capability answers. Other parts of the need are still cut at fourteen."""
    from portal.matching.reasons import ASK_QUOTED_WORDS, QUOTED_WORDS

    ask = (
        "We want the lights to follow the real traffic at every hour, and our staff to see "
        "from the office what is happening on the main corridors."
    )
    story = (
        "Every evening the queues on the ring road grow longer while the side streets stay "
        "empty and the old controllers keep their fixed plans from years ago."
    )
    need = NeedProfile(1, "n", "Queues", f"{story} {ask}", ["mobility"], "TH", 2, "Khon Kaen")
    vendor = VendorProfile(
        1, "v", "Signalworks", "", [], [], [CapabilityText("Traffic operations centres", "")]
    )
    quoted_ask = answer_reason(need, vendor, thesaurus(), Answer(0, ask))
    assert "our staff to see from the office" in quoted_ask
    assert len(ask.split()) > QUOTED_WORDS
    assert len(quoted_ask.split("answers “")[1].split()) <= ASK_QUOTED_WORDS
    quoted_story = answer_reason(need, vendor, thesaurus(), Answer(0, story))
    assert quoted_story.endswith("…”")
    assert len(quoted_story.split("answers “")[1].split()) <= QUOTED_WORDS
