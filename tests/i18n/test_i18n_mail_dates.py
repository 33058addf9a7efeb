"""Dates inside mails come out as the recipient's locale writes them, as on the pages:
the questions deadline, a saved-search match's closing date, when a meeting request
expires. English keeps ISO dates."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from babel.dates import format_date
from flask import Flask, render_template
from flask_babel import force_locale

DAY = dt.date(2027, 3, 10)


def _question_mail(locale: str) -> str:
    person = SimpleNamespace(full_name="Lan", email="lan@example.org")
    question = SimpleNamespace(organization=SimpleNamespace(name="Aquasonic"), body="When?")
    need = SimpleNamespace(title="Leaks")
    with force_locale(locale):
        return render_template(
            "mail/notice_question_asked.txt",
            person=person,
            question=question,
            need=need,
            deadline=DAY,
            link="http://127.0.0.1/needs/n-1",
        )


def _match_mail(locale: str) -> str:
    need = SimpleNamespace(title="Leaks", buyer=SimpleNamespace(name="Hue"), closes_on=DAY)
    item = SimpleNamespace(need=need, search_name="water", reasons=[], link="l", mute_need_url="m")
    with force_locale(locale):
        return render_template("mail/_saved_search_items.txt", news=SimpleNamespace(matches=[item]))


def _meeting_request_mail(locale: str) -> str:
    request = SimpleNamespace(proposed_by_staff=False, must_meet=False, message="")
    with force_locale(locale):
        return render_template(
            "mail/mission_request_received.txt",
            person=SimpleNamespace(full_name="Lan", email="lan@example.org"),
            request=request,
            requester=SimpleNamespace(name="Aquasonic"),
            requested=SimpleNamespace(name="Hue Water"),
            event=SimpleNamespace(name="Smart Water Mission", registration_closes=DAY),
            link="http://127.0.0.1/missions/1/requests",
        )


MAILS = [_question_mail, _match_mail, _meeting_request_mail]


@pytest.mark.parametrize("render", MAILS)
@pytest.mark.parametrize("locale", ["vi", "th"])
def test_a_date_in_a_mail_is_written_the_recipients_way(app: Flask, render, locale: str) -> None:
    with app.test_request_context():
        text = render(locale)
    assert format_date(DAY, format="medium", locale=locale) in text
    assert "2027-03-10" not in text


@pytest.mark.parametrize("render", MAILS)
def test_english_mail_keeps_the_iso_date(app: Flask, render) -> None:
    with app.test_request_context():
        assert "2027-03-10" in render("en")
