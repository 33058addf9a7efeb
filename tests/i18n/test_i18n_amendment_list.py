"""The need page's amendment list in the reader's language: a value no longer set, a
questions deadline that was the closing date, an amended date and a sum as the locale
writes them. English reads as before (ISO dates, US$200,000)."""

from __future__ import annotations

import datetime as dt

import pytest
from babel.dates import format_date
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from notices.notice_factories import Notice, make_notice

from portal.extensions import db
from portal.notices.amendments import amend
from portal.notices.services import Change, amendments_of

CHANGES = [
    {"field": "closes_on", "old": "2027-03-10", "new": None},
    {"field": "questions_close_on", "old": None, "new": "2027-03-01"},
    {"field": "budget_max", "old": 200_000, "new": 250_000},
]


def _day(iso: str, locale: str) -> str:
    return format_date(dt.date.fromisoformat(iso), format="medium", locale=locale)


@pytest.fixture
def notice(app: Flask) -> Notice:
    """A published notice with one amendment of each kind of value."""
    notice = make_notice()
    amend(notice.need, CHANGES)
    db.session.commit()
    return notice


def _page(client: FlaskClient, notice: Notice, locale: str) -> str:
    response = client.get(f"/needs/{notice.need.ref}", headers={"Accept-Language": locale})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_vietnamese_reader_reads_the_amendment_list_in_vietnamese(
    client: FlaskClient, notice: Notice
) -> None:
    page = _page(client, notice, "vi")

    assert f"Hạn chót: {_day('2027-03-10', 'vi')} → chưa đặt" in page
    assert f"Hạn đặt câu hỏi: hạn chót → {_day('2027-03-01', 'vi')}" in page
    assert "Ngân sách đến (USD): US$200.000 → US$250.000" in page
    for english in ("not set", "the closing date", "US$200,000", "2027-03-10"):
        assert english not in page


def test_a_thai_reader_reads_the_amendment_list_in_thai(
    client: FlaskClient, notice: Notice
) -> None:
    page = _page(client, notice, "th")

    assert f"วันปิดรับ: {_day('2027-03-10', 'th')} → ไม่ได้กำหนด" in page
    assert f"วันสิ้นสุดการรับคำถาม: วันปิดรับ → {_day('2027-03-01', 'th')}" in page
    assert "งบประมาณไม่เกิน (USD): US$200,000 → US$250,000" in page
    assert "not set" not in page and "the closing date" not in page


def test_an_english_reader_reads_it_as_before(client: FlaskClient, notice: Notice) -> None:
    page = _page(client, notice, "en")

    assert "Closing date: 2027-03-10 → not set" in page
    assert "Questions deadline: the closing date → 2027-03-01" in page
    assert "Budget up to (USD): US$200,000 → US$250,000" in page


def test_a_document_s_missing_side_is_worded_too(app: Flask) -> None:
    """The page words a document's change as added or removed; the values still say
    "none" in the reader's language wherever they are shown."""
    added = Change("document", None, "tor.pdf")
    with force_locale("vi"):
        assert (added.old_text, added.new_text) == ("không có", "tor.pdf")
    with force_locale("th"):
        assert added.old_text == "ไม่มี"
    assert added.old_text == "none"


def test_a_stored_value_this_code_cannot_read_is_shown_as_stored(app: Flask) -> None:
    with force_locale("vi"):
        assert Change("closes_on", "not a date", None).old_text == "not a date"


def test_the_service_words_the_list_in_the_locale_being_rendered(notice: Notice) -> None:
    [amendment] = amendments_of(notice.need)
    with force_locale("vi"):
        assert [(c.old_text, c.new_text) for c in amendment.changes] == [
            (_day("2027-03-10", "vi"), "chưa đặt"),
            ("hạn chót", _day("2027-03-01", "vi")),
            ("US$200.000", "US$250.000"),
        ]
