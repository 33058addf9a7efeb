"""The event pages in the reader's language: why the scheduler left an accepted request
out, the slot times (on the event's clock), and the status of a meeting request. Without
a request (the ``portal events`` commands, their JSON) the scheduler's reasons are English
and name organizations by reference."""

from __future__ import annotations

import contextvars
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from missions.page_factories import (
    BUYER,
    VENDOR,
    log_in,
    make_event,
    make_member,
    make_org,
    make_participant,
    make_request,
    staff_user,
)

from portal.accounts.models import User
from portal.extensions import db
from portal.missions import services
from portal.missions.models import (
    Meeting,
    MeetingRequest,
    MissionEvent,
    Participant,
    RequestStatus,
)
from portal.missions.scheduler import Unplaced, Why
from portal.needs.models import NeedStatus
from portal.organizations.models import VerificationStatus
from portal.vocab import STATUS_LABELS
from portal.webhooks.models import DeliveryStatus


def _speak(client: FlaskClient, locale: str) -> None:
    """The language switch: a member's own setting changes with it."""
    assert client.post("/language", data={"locale": locale, "next": "/"}).status_code == 302


@dataclass
class Fair:
    event: MissionEvent
    cog: Participant  # attends the afternoon only
    port: Participant  # attends the morning only
    city: Participant  # at most one meeting
    acme: Participant
    bolt: Participant
    city_member: User


@pytest.fixture
def fair(app: Flask) -> Fair:
    """Two accepted requests the scheduler cannot place: one pair attends no session in
    common, and Hue City asked for one meeting at most and is asked twice."""
    event = make_event(ref="fair", tables=1, online=True)
    cog = make_participant(event, make_org(VENDOR, "Cog & Wheel Works"), attends=[1])
    port = make_participant(event, make_org(BUYER, "Port Authority"), attends=[0])
    city = make_participant(event, make_org(BUYER, "Hue City"), max_meetings=1)
    acme = make_participant(event, make_org(VENDOR, "Acme Traffic"))
    bolt = make_participant(event, make_org(VENDOR, "Bolt Energy"))
    make_request(cog, port, RequestStatus.ACCEPTED)
    make_request(acme, city, RequestStatus.ACCEPTED)
    make_request(bolt, city, RequestStatus.ACCEPTED)
    return Fair(event, cog, port, city, acme, bolt, make_member(city.organization))


def test_vietnamese_staff_read_why_a_request_is_not_placed_in_vietnamese(
    client: FlaskClient, fair: Fair
) -> None:
    log_in(client, staff_user())
    _speak(client, "vi")

    page = client.post("/events/fair/schedule", data={}).text

    # The sides by name (escaped once), the sentence in Vietnamese.
    apart = "Cog &amp; Wheel Works và Port Authority không cùng tham dự phiên nào"
    assert f"Cog &amp; Wheel Works và Port Authority: {apart}" in page
    assert "Hue City đã đạt số cuộc gặp tối đa (1)" in page
    assert "attend no session in common" not in page
    assert "meeting cap" not in page
    assert "&amp;amp;" not in page


def test_without_a_request_the_reasons_are_english(fair: Fair) -> None:
    """What ``portal events schedule`` prints and its JSON holds: references, English."""
    result = services.schedule_event(fair.event)
    reasons = {u.why: u for u in result.schedule.unplaced}
    assert set(reasons) == {Why.NO_COMMON_SESSION, Why.CAP_REACHED}

    cog, port = fair.cog.organization, fair.port.organization
    apart = reasons[Why.NO_COMMON_SESSION]
    assert apart.reason == f"{cog.ref} and {port.ref} attend no session in common"
    cap = reasons[Why.CAP_REACHED]
    assert cap.reason == f"{fair.city.organization.ref} reached its meeting cap (1)"
    assert {"a": apart.a, "b": apart.b, "reason": apart.reason} in result.as_json()["unplaced"]

    # The page's helper, with names: English when no request sets a language.
    names = {cog.ref: cog.name, port.ref: port.name}
    assert services.unplaced_reason(apart, names) == (
        "Cog & Wheel Works and Port Authority attend no session in common"
    )


def _meeting_times(event: MissionEvent) -> tuple[dt.datetime, dt.datetime]:
    """The one placed meeting's start and end on the event's clock."""
    [meeting] = db.session.scalars(sa.select(Meeting).where(Meeting.event_id == event.id))
    zone = ZoneInfo(event.time_zone)
    return meeting.starts_at.astimezone(zone), meeting.ends_at.astimezone(zone)


def test_thai_staff_read_the_slot_times_in_thai(client: FlaskClient, fair: Fair) -> None:
    log_in(client, staff_user())
    _speak(client, "th")

    page = client.post("/events/fair/schedule", data={}).text
    start, end = _meeting_times(fair.event)
    # On the event's clock (Bangkok), as Thai writes a date and a time.
    assert f"9 มี.ค. 2099 {start:%H:%M} น.\N{EN DASH}{end:%H:%M} น." in page
    assert "2099-03-09" not in page

    grid = client.get("/events/fair/grid").text
    assert "<th>9 มี.ค. 2099 09:00 น.</th>" in grid  # the first slot's row
    assert "2099-03-09" not in grid


def test_english_staff_read_the_slot_times_as_before(client: FlaskClient, fair: Fair) -> None:
    log_in(client, staff_user())

    page = client.post("/events/fair/schedule", data={}).text
    start, end = _meeting_times(fair.event)
    assert f"<td>{start:%Y-%m-%d %H:%M}\N{EN DASH}{end:%H:%M}</td>" in page
    assert "<th>2099-03-09 09:00</th>" in client.get("/events/fair/grid").text


def _place(fair: Fair, a: Participant, b: Participant, slot: int, table: int | None) -> Meeting:
    """The meeting of ``a``'s request to ``b`` where the test wants it, as a hand edit or
    changed data can leave one (no scheduler, no check)."""
    request = db.session.scalar(
        sa.select(MeetingRequest).where(
            MeetingRequest.from_id == a.id, MeetingRequest.to_id == b.id
        )
    )
    assert request is not None
    when = services.slot_times(fair.event)[slot]
    meeting = Meeting(
        event_id=fair.event.id,
        request_id=request.id,
        starts_at=when.start.astimezone(dt.UTC),
        ends_at=when.end.astimezone(dt.UTC),
        table_number=table,
        online=table is None,
    )
    db.session.add(meeting)
    db.session.commit()
    return meeting


# Cog & Wheel Works attends the afternoon only; its meeting with Port Authority is left at
# nine in the morning.
ATTENDS_VI = (
    "Cog &amp; Wheel Works không tham dự phiên diễn ra lúc 9 thg 3, 2099 09:00 "
    "(người tham gia chỉ gặp trong các khung giờ thuộc những phiên mình tham dự)"
)
ATTENDS_EN = (
    "Cog & Wheel Works does not attend the session of 2099-03-09 09:00 "
    "(a participant meets only in slots of the sessions it attends)"
)


def test_vietnamese_staff_read_the_rules_the_grid_breaks_in_vietnamese(
    client: FlaskClient, fair: Fair
) -> None:
    _place(fair, fair.cog, fair.port, 0, 1)
    log_in(client, staff_user())
    _speak(client, "vi")

    page = client.get("/events/fair/grid").text

    assert "Các quy tắc mà những cuộc gặp đã lưu đang vi phạm" in page
    assert ATTENDS_VI in page  # the participant by name, the slot on the event's clock
    assert "does not attend" not in page and "sessions it attends" not in page


def test_thai_staff_read_why_a_move_is_refused_in_thai(client: FlaskClient, fair: Fair) -> None:
    meeting = _place(fair, fair.acme, fair.city, 0, 1)
    log_in(client, staff_user())
    _speak(client, "th")

    # Both are on site: the meeting cannot go online.
    response = client.post(
        f"/events/fair/meetings/{meeting.id}/move", data={"slot": "0", "place": "online"}
    )

    assert response.status_code == 400
    assert (
        "ถูกปฏิเสธ: Acme Traffic และ Hue City อยู่ ณ สถานที่จัดงานทั้งคู่แต่ไม่มีโต๊ะ "
        "(การประชุมระหว่างผู้เข้าร่วมสองฝ่ายที่อยู่ ณ สถานที่จัดงานต้องใช้โต๊ะ)"
    ) in response.text
    assert "on site but have no table" not in response.text

    moved = client.post(
        f"/events/fair/meetings/{meeting.id}/move",
        data={"slot": "1", "place": "1"},
        follow_redirects=True,
    ).text
    assert "ย้ายการประชุมแล้ว" in moved  # a draft meeting: no one is mailed
    assert "Meeting moved." not in moved


def test_without_a_request_the_broken_rules_are_english(
    fair: Fair, runner, client: FlaskClient
) -> None:
    """`portal events show` prints the rules by reference, as before; the pages' helper
    names the sides but reads English when no request asks for a language."""
    _place(fair, fair.cog, fair.port, 0, 1)
    log_in(client, staff_user())
    _speak(client, "vi")
    assert ATTENDS_VI in client.get("/events/fair/grid").text

    shown = runner.invoke(args=["events", "show", "fair"])
    assert shown.exit_code == 0, shown.output
    ref = fair.cog.organization.ref
    assert (
        f"breaks a rule: {ref} does not attend the session of 2099-03-09 09:00 "
        "(a participant meets only in slots of the sessions it attends)"
    ) in shown.output

    [broken] = services.stored_violations(fair.event)
    assert services.violation_text(broken, services.organization_names(fair.event)) == (ATTENDS_EN)


def _reason_in_a_thai_request(app: Flask) -> str:
    item = Unplaced(7, "acme", "city", Why.ONE_BOOKED, who="city")
    with app.test_request_context(headers={"Accept-Language": "th"}):
        return services.unplaced_reason(item, {"city": "Hue City"})


def test_a_request_in_another_language_reads_the_reason_in_it(app: Flask) -> None:
    # A request of its own, in an empty context as a server runs it (Flask-Babel keeps
    # the locale in the app context's ``g``, which the fixture's context would share).
    thai = contextvars.Context().run(_reason_in_a_thai_request, app)
    assert thai == "Hue City มีตารางเต็มแล้วในช่วงการประชุมที่ทั้งสองฝ่ายเข้าร่วม"


def test_a_vietnamese_participant_reads_request_statuses_in_vietnamese(
    client: FlaskClient, fair: Fair
) -> None:
    declined = make_request(fair.cog, fair.city, RequestStatus.DECLINED)
    log_in(client, fair.city_member)
    _speak(client, "vi")

    page = client.get("/events/fair/requests").text
    assert "<strong>Acme Traffic</strong> · đã chấp nhận" in page
    assert "<strong>Cog &amp; Wheel Works</strong> · đã từ chối" in page
    assert '<option value="accepted">Đã chấp nhận</option>' in page  # the status filter
    assert "· accepted" not in page and "· declined" not in page

    # A refusal names the status in a sentence: the word is Vietnamese too.
    page = client.post(
        f"/events/fair/requests/{declined.id}/answer",
        data={"answer": "accept"},
        follow_redirects=True,
    ).text
    assert "Yêu cầu này ở trạng thái đã từ chối; không thể trả lời nữa." in page


def test_staff_read_the_status_of_every_request_in_vietnamese(
    client: FlaskClient, fair: Fair
) -> None:
    log_in(client, staff_user())
    _speak(client, "vi")
    page = client.get("/events/fair/requests").text
    assert "<td>đã chấp nhận</td>" in page
    assert "<td>accepted</td>" not in page


def test_every_status_a_page_or_message_quotes_has_a_label() -> None:
    """A status added without a label would reach pages raw (``status_label`` falls back
    to the code)."""
    quoted = {*RequestStatus, *NeedStatus, *VerificationStatus, *DeliveryStatus}
    assert quoted <= set(STATUS_LABELS)
