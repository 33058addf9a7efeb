"""The need directory, the need page and the event page in the reader's language: a
closing day, a questions deadline and a registration deadline as the locale writes a
date, and a budget in the locale's digits. English reads as before (ISO dates,
US$50,000 to US$200,000)."""

from __future__ import annotations

import datetime as dt

import pytest
from babel.dates import format_date
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from missions.page_factories import make_event
from notices.notice_factories import Notice, make_notice

from portal.missions.models import MissionEvent
from portal.needs.services import budget_range_label

CLOSES = dt.date(2099, 3, 10)
QUESTIONS_CLOSE = dt.date(2099, 3, 1)
REGISTRATION_CLOSES = dt.date(2099, 2, 20)


def _day(day: dt.date, locale: str) -> str:
    return format_date(day, format="medium", locale=locale)


@pytest.fixture
def notice(app: Flask) -> Notice:
    """An open need with a budget range, a closing day and an earlier questions deadline."""
    return make_notice(
        closes_on=CLOSES,
        questions_close_on=QUESTIONS_CLOSE,
        budget_min=50_000,
        budget_max=200_000,
    )


@pytest.fixture
def event(app: Flask) -> MissionEvent:
    return make_event(registration_closes=REGISTRATION_CLOSES)


def _get(client: FlaskClient, path: str, locale: str) -> str:
    response = client.get(path, headers={"Accept-Language": locale})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_vietnamese_reader_sees_the_directory_s_dates_and_budgets_in_vietnamese(
    client: FlaskClient, notice: Notice
) -> None:
    page = _get(client, "/needs", "vi")

    assert f"· hạn chót {_day(CLOSES, 'vi')}" in page
    assert "US$50.000 đến US$200.000" in page
    assert "2099-03-10" not in page and "US$50,000" not in page


def test_a_thai_reader_sees_the_need_page_s_dates_in_thai(
    client: FlaskClient, notice: Notice
) -> None:
    page = _get(client, f"/needs/{notice.need.ref}", "th")

    assert _day(CLOSES, "th") in page
    assert f"รับคำถามถึงวันที่ {_day(QUESTIONS_CLOSE, 'th')}" in page
    assert "2099-03-10" not in page and "2099-03-01" not in page


def test_a_vietnamese_reader_sees_the_need_page_s_dates_and_budget_in_vietnamese(
    client: FlaskClient, notice: Notice
) -> None:
    page = _get(client, f"/needs/{notice.need.ref}", "vi")

    assert f"<dd>{_day(CLOSES, 'vi')}</dd>" in page
    assert f"Nhận câu hỏi đến hết {_day(QUESTIONS_CLOSE, 'vi')}." in page
    assert "<dd>US$50.000 đến US$200.000</dd>" in page


def test_an_english_reader_reads_the_need_pages_as_before(
    client: FlaskClient, notice: Notice
) -> None:
    directory = _get(client, "/needs", "en")
    assert "Budget: US$50,000 to US$200,000" in directory
    assert "· closes 2099-03-10" in directory

    page = _get(client, f"/needs/{notice.need.ref}", "en")
    assert "<dd>2099-03-10</dd>" in page
    assert "<dd>US$50,000 to US$200,000</dd>" in page
    assert "Questions are taken until 2099-03-01." in page


@pytest.mark.parametrize(
    ("locale", "sentence"),
    [
        ("vi", "Hạn đăng ký đến hết ngày {day}."),
        ("th", "ปิดรับลงทะเบียนเมื่อสิ้นวันที่ {day}"),
    ],
)
def test_the_event_page_says_when_registration_closes_in_the_reader_s_language(
    client: FlaskClient, event: MissionEvent, locale: str, sentence: str
) -> None:
    page = _get(client, f"/events/{event.ref}", locale)

    assert sentence.format(day=_day(REGISTRATION_CLOSES, locale)) in page
    assert "2099-02-20" not in page


def test_an_english_reader_reads_the_event_page_as_before(
    client: FlaskClient, event: MissionEvent
) -> None:
    page = _get(client, f"/events/{event.ref}", "en")

    assert "Registration closes at the end of 2099-02-20." in page


def test_a_single_sum_and_open_bounds_are_worded_in_the_locale(app: Flask) -> None:
    """Equal bounds read as one sum (the amendment list's wording), a saved search's
    range keeps both; a missing bound words the other."""
    assert budget_range_label(1_000, 1_000) == "US$1,000"
    assert budget_range_label(1_000, 1_000, collapse_equal=False) == "US$1,000 to US$1,000"
    assert budget_range_label(None, 300_000) == "up to US$300,000"
    with force_locale("vi"):
        assert budget_range_label(1_000_000, 1_000_000) == "US$1.000.000"
        assert budget_range_label(1_000, None) == "từ US$1.000"
        assert budget_range_label(None, 300_000) == "đến US$300.000"
    with force_locale("id"):
        assert budget_range_label(1_000, 5_000) == "US$1.000 hingga US$5.000"
