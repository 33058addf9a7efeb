"""Dates in the reader's language where pages and mails printed them with strftime: the
agenda's day headings and the day-before reminder (weekday and month named, on the
agenda's clock), the API tokens page, the verification history, and the schedule's
"table N". English reads as before."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from api.api_factories import make_token
from babel import Locale
from babel.dates import format_date
from flask import Flask
from flask.testing import FlaskClient
from introductions.intro_factories import make_member
from missions.agenda_factories import Scheduled, scheduled_event
from missions.page_factories import staff_user
from organizations.directory_factories import log_in, make_org, make_user

from portal.accounts.models import Role, User
from portal.api.models import ApiToken
from portal.extensions import db
from portal.i18n.formatting import localized_datetime
from portal.mail.models import OutboxMessage
from portal.missions import agenda, agenda_mail
from portal.organizations.models import OrganizationKind, OrganizationReview
from portal.organizations.services import verify_organization
from portal.timezones import UTC_ZONE, to_local


def _speak(client: FlaskClient, locale: str) -> None:
    """The language switch: a member's own setting changes with it."""
    assert client.post("/language", data={"locale": locale, "next": "/"}).status_code == 302


@pytest.fixture
def made(app: Flask, tmp_path: Path) -> Scheduled:
    return scheduled_event(tmp_path)


def _first_day(made: Scheduled, ref: str) -> tuple[dt.date, agenda.AgendaItem]:
    item = agenda.agenda_of(made.participant(ref)).items[0]
    return item.starts.date(), item


def test_a_thai_member_reads_the_agenda_days_in_thai(client: FlaskClient, made: Scheduled) -> None:
    member = make_member(made.organization("city"))
    log_in(client, member)
    _speak(client, "th")
    day, item = _first_day(made, "city")  # Bangkok's day: the agenda's clock

    page = client.get("/events/ev-1/agenda").text

    heading = format_date(day, format="full", locale="th")
    assert "มีนาคม" in heading and heading.startswith("วัน")
    assert f"<h2>{heading}</h2>" in page
    assert f"{day:%A}" not in page and f"{day:%B}" not in page
    if not item.meeting.online:
        assert f"<td>โต๊ะ {item.meeting.table_number}" in page


def test_an_english_member_reads_the_agenda_days_as_before(
    client: FlaskClient, made: Scheduled
) -> None:
    log_in(client, make_member(made.organization("city")))
    day, item = _first_day(made, "city")
    page = client.get("/events/ev-1/agenda").text
    assert f"<h2>{day:%A %d %B %Y}</h2>" in page
    assert f"<td>{item.place}" in page


def _reminder(made: Scheduled, ref: str, member: User) -> OutboxMessage:
    day, _ = _first_day(made, ref)
    zone = made.participant(ref).event.time_zone
    local = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(8), tzinfo=_zone(zone))
    agenda_mail.send_reminders(local.astimezone(dt.UTC))
    db.session.commit()
    return db.session.scalars(
        sa.select(OutboxMessage).where(
            OutboxMessage.recipient == member.email, OutboxMessage.subject.like("%ev-1%")
        )
    ).all()[-1]


def _zone(name: str | None):  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo(name or "UTC")


def test_the_reminder_names_the_day_in_its_vietnamese_recipients_language(
    client: FlaskClient, made: Scheduled
) -> None:
    member = make_member(made.organization("city"))
    member.locale = "vi"
    english = make_member(made.organization("city"))
    db.session.commit()
    # Queued while someone reads a Thai page: the recipient's language wins.
    with client.application.test_request_context("/", headers={"Accept-Language": "th"}):
        message = _reminder(made, "city", member)
    day, item = _first_day(made, "city")
    body = message.body_text

    assert format_date(day, format="full", locale="vi") in body  # "Thứ Ba, 9 tháng 3, 2027"
    assert "tháng 3" in body
    assert f"{day:%A}" not in body and f"{day:%B}" not in body
    # Each meeting's line: the weekday and the slot the Vietnamese way, on Bangkok's clock.
    weekday = format_date(day, format="EEE", locale="vi")
    assert f"{weekday} {format_date(day, format='medium', locale='vi')} {item.starts:%H:%M}" in body
    if not item.meeting.online:
        assert f"bàn {item.meeting.table_number}".lower() in body.lower()

    [to_english] = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.recipient == english.email)
    ).all()
    assert f"({day:%A %d %B %Y})" in to_english.body_text
    assert f"{item.starts:%a %Y-%m-%d %H:%M}-{item.ends:%H:%M}  {item.place}" in (
        to_english.body_text
    )


def test_the_api_tokens_page_writes_its_dates_in_thai(app: Flask, client: FlaskClient) -> None:
    member = make_member(make_org(OrganizationKind.VENDOR, "Token Vendor"))
    make_token(member, "CRM sync")
    db.session.commit()
    token = db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == member.id)).one()
    log_in(client, member)

    english = client.get("/account/api-tokens").text
    assert f"{token.created_at:%Y-%m-%d %H:%M} UTC" in english

    _speak(client, "th")
    page = client.get("/account/api-tokens").text
    made_at = localized_datetime(to_local(token.created_at, UTC_ZONE), Locale.parse("th"))
    assert made_at in page and "น." in made_at
    assert f"{token.created_at:%Y-%m-%d}" not in page


def test_the_verification_history_writes_its_dates_in_vietnamese(
    app: Flask, client: FlaskClient
) -> None:
    vendor = make_org(OrganizationKind.VENDOR, "Review Me", verified=False)
    staff = make_user(Role.ADMIN)
    verify_organization(vendor, staff)
    db.session.commit()
    review = db.session.scalars(sa.select(OrganizationReview)).one()
    log_in(client, staff)

    english = client.get(f"/vendors/{vendor.ref}").text
    assert f"{review.created_at:%Y-%m-%d %H:%M} UTC: " in english

    _speak(client, "vi")
    page = client.get(f"/vendors/{vendor.ref}").text
    when = localized_datetime(to_local(review.created_at, UTC_ZONE), Locale.parse("vi"))
    assert f"{when}: " in page and "thg" in when
    assert f"{review.created_at:%Y-%m-%d %H:%M}" not in page


def test_the_schedule_names_a_table_in_one_message(app: Flask, tmp_path: Path) -> None:
    scheduled_event(tmp_path, publish=False)
    client = app.test_client()
    log_in(client, staff_user())

    english = client.post("/events/ev-1/schedule", data={}).text
    assert "<td>table 1</td>" in english

    _speak(client, "vi")
    page = client.post("/events/ev-1/schedule", data={}).text
    assert "<td>bàn 1</td>" in page and "<td>table 1</td>" not in page
