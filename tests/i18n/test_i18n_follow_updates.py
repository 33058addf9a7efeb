"""What a follower is told about a need (an amendment, a public answer, a deadline
reminder), in the reader's language: the row keeps what happened, and "My followed
needs" and the mail word it for whoever reads them. The buyer's note, the question and
the answer stay as written; a row written before the details were kept shows its
English summary."""

from __future__ import annotations

import datetime as dt
import html

import pytest
import sqlalchemy as sa
from babel.dates import format_date
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from follows.follow_factories import Scene, deliver, make_scene
from organizations.directory_factories import log_in, make_user

from portal.accounts.models import Role, User
from portal.accounts.services import set_locale
from portal.db import utc_now
from portal.extensions import db
from portal.follows import alerts, services
from portal.follows.models import FollowUpdate, UpdateKind
from portal.follows.updates import update_lines, update_text
from portal.notices.amendments import amend
from portal.notices.services import answer_question, ask_question
from portal.notifications import services as notifications
from portal.notifications.models import MailMode

CHANGES = [
    {"field": "closes_on", "old": "2026-03-10", "new": "2026-03-24"},
    {"field": "budget_max", "old": 200_000, "new": 250_000},
    {"field": "document", "old": None, "new": "tor.pdf"},
]
NOTE = "Thêm thời gian khảo sát hiện trường. More time for site visits."
QUESTION = "Is LoRaWAN acceptable?"
ANSWER = "Yes, or NB-IoT."


def _vi(day: str) -> str:
    return format_date(dt.date.fromisoformat(day), format="medium", locale="vi")


@pytest.fixture
def scene(app: Flask) -> Scene:
    """A need closing in two days (a reminder is due), followed by a vendor member."""
    scene = make_scene(closes_in_days=2)
    services.follow(scene.member, scene.need)
    db.session.commit()
    return scene


def _news(scene: Scene, *, buyer_locale: str = "en") -> None:
    """An amendment and a public answer, written in a buyer's request of ``buyer_locale``
    (the language of the request that writes the rows is not the followers'), then the
    worker's reminder pass; the mail delivered to the SMTP server."""
    buyer = make_user(Role.BUYER, scene.buyer)
    asker = make_user(Role.VENDOR, scene.vendor)
    with force_locale(buyer_locale):
        amend(scene.need, CHANGES, note=NOTE, actor=buyer)
        question = ask_question(scene.need, asker, QUESTION)
        answer_question(question, ANSWER, actor=buyer)
    db.session.commit()
    assert alerts.send_deadline_reminders(utc_now()) == 1
    deliver()


def _rows(user: User) -> dict[str, FollowUpdate]:
    rows = db.session.scalars(sa.select(FollowUpdate).where(FollowUpdate.user_id == user.id))
    return {row.kind: row for row in rows}


def _mail(mailbox, user: User, subject_part: str) -> str:
    [message] = [m for m in mailbox.to(user.email) if subject_part in m["Subject"]]
    return mailbox.body(message).replace("\r\n", "\n")  # a plain-ASCII body keeps CRLF


def test_a_vietnamese_follower_reads_the_news_in_vietnamese(
    client: FlaskClient, scene: Scene, mailbox
) -> None:
    set_locale(scene.member, "vi")
    db.session.commit()
    _news(scene, buyer_locale="th")

    amended = (
        f"Bản sửa đổi số 1: Hạn chót: từ {_vi('2026-03-10')} thành {_vi('2026-03-24')}; "
        "Ngân sách đến (USD): từ 200.000 thành 250.000; Tài liệu: đã thêm tor.pdf"
    )
    closes_on = scene.need.closes_on.isoformat()
    reminded = f"Còn 2 ngày nữa là hạn chót, ngày {_vi(closes_on)}."
    body = _mail(mailbox, scene.member, "Bản sửa đổi mới")
    assert amended in body and NOTE in body
    body = _mail(mailbox, scene.member, "Câu trả lời mới")
    assert f"Câu hỏi: {QUESTION}\nCâu trả lời: {ANSWER}" in body
    subject = f"Hạn chót {_vi(closes_on)}: {scene.need.title}"
    body = _mail(mailbox, scene.member, subject)
    assert reminded in body
    assert "Closes" not in body and "Amendment" not in body

    log_in(client, scene.member)
    page = client.get("/followed").get_data(as_text=True)
    assert amended in page and f"Câu hỏi: {QUESTION}" in page and reminded in page
    assert "Closing date" not in page and "Closes in" not in page


def test_the_row_keeps_what_happened_and_its_english_wording(app: Flask, scene: Scene) -> None:
    _news(scene, buyer_locale="th")  # a Thai buyer's request: the summary is still English

    rows = _rows(scene.member)
    assert rows[UpdateKind.AMENDMENT].details == {"number": 1, "changes": CHANGES, "note": NOTE}
    assert rows[UpdateKind.ANSWER].details == {"question": QUESTION, "answer": ANSWER}
    assert rows[UpdateKind.REMINDER].details == {
        "closes_on": scene.need.closes_on.isoformat(),
        "days": 2,
    }
    assert rows[UpdateKind.AMENDMENT].summary == (
        "Amendment 1: Closing date: 2026-03-10 -> 2026-03-24; "
        "Budget up to (USD): 200,000 -> 250,000; Document: tor.pdf added\n" + NOTE
    )
    assert rows[UpdateKind.ANSWER].summary == f"Question: {QUESTION}\nAnswer: {ANSWER}"


def test_an_english_follower_reads_english(client: FlaskClient, scene: Scene, mailbox) -> None:
    _news(scene, buyer_locale="vi")

    amended = (
        "Amendment 1: Closing date: 2026-03-10 -> 2026-03-24; "
        "Budget up to (USD): 200,000 -> 250,000; Document: tor.pdf added"
    )
    closes_on = scene.need.closes_on.isoformat()
    reminded = f"Closes in 2 days, on {closes_on}."
    assert amended in _mail(mailbox, scene.member, "New amendment")
    body = _mail(mailbox, scene.member, "New answer")
    assert f"Question: {QUESTION}\nAnswer: {ANSWER}" in body
    assert reminded in _mail(mailbox, scene.member, f"Closes {closes_on}")

    log_in(client, scene.member)
    page = html.unescape(client.get("/followed").get_data(as_text=True))
    assert amended in page and f"Question: {QUESTION}" in page and reminded in page


def test_a_thai_member_in_digest_mode_reads_the_weekly_mail_in_thai(
    app: Flask, scene: Scene, mailbox
) -> None:
    set_locale(scene.member, "th")
    notifications.set_mode(scene.member, MailMode.DIGEST)
    db.session.commit()
    amend(scene.need, CHANGES[:1])
    db.session.commit()
    alerts.run_saved_search_alerts(utc_now())  # the weekly clock starts
    alerts.run_saved_search_alerts(utc_now() + dt.timedelta(days=8))
    deliver()

    [message] = mailbox.to(scene.member.email)
    old, new = (
        format_date(dt.date.fromisoformat(day), format="medium", locale="th")
        for day in ("2026-03-10", "2026-03-24")
    )
    assert f"การแก้ไขเพิ่มเติมครั้งที่ 1: วันปิดรับ: จาก {old} เป็น {new}" in mailbox.body(message)


def test_a_row_written_before_the_details_shows_its_summary_as_written(
    client: FlaskClient, scene: Scene
) -> None:
    written = "Amendment 1: Closing date: 2026-03-10 -> 2026-03-24\nMore time for site visits."
    db.session.add(
        FollowUpdate(
            user_id=scene.member.id,
            need_id=scene.need.id,
            kind=UpdateKind.AMENDMENT,
            key="amendment:1",
            summary=written,
            created_at=utc_now(),
        )
    )
    set_locale(scene.member, "vi")
    db.session.commit()
    [row] = _rows(scene.member).values()
    assert row.details is None
    with force_locale("vi"):
        assert update_lines(row) == written.splitlines()
        assert update_text(row) == written

    log_in(client, scene.member)
    page = client.get("/followed").get_data(as_text=True)
    assert "Amendment 1: Closing date: 2026-03-10 -&gt; 2026-03-24" in page


def test_details_this_code_cannot_read_fall_back_to_the_summary(app: Flask, scene: Scene) -> None:
    row = FollowUpdate(
        user_id=scene.member.id,
        need_id=scene.need.id,
        kind=UpdateKind.REMINDER,
        key="reminder:x",
        summary="Closes in 2 days, on 2026-03-24.",
        details={"closes_on": "not a date", "days": 2},
    )
    with force_locale("vi"):
        assert update_lines(row) == ["Closes in 2 days, on 2026-03-24."]


@pytest.mark.parametrize(
    ("locale", "closes", "questions"),
    [
        ("vi", "· hạn chót {}", "· nhận câu hỏi đến {}"),
        ("th", "· ปิดรับ {}", "· รับคำถามถึง {}"),
        ("en", "· closes {}", "· questions until {}"),
    ],
)
def test_my_followed_needs_dates_its_deadlines_the_reader_s_way(
    client: FlaskClient, scene: Scene, locale: str, closes: str, questions: str
) -> None:
    """The closing date and the questions deadline as the locale writes a date; English
    keeps ISO dates, as the rest of its pages do."""
    closes_on = scene.need.closes_on
    scene.need.questions_close_on = closes_on - dt.timedelta(days=1)
    set_locale(scene.member, locale)
    db.session.commit()

    log_in(client, scene.member)
    page = client.get("/followed").get_data(as_text=True)

    def written(day: dt.date) -> str:
        return day.isoformat() if locale == "en" else format_date(day, "medium", locale=locale)

    assert closes.format(written(closes_on)) in page
    assert questions.format(written(scene.need.questions_close_on)) in page
    if locale != "en":
        assert closes_on.isoformat() not in page
