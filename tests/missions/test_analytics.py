"""Event analytics for staff: the figures computed on a small event built here, with the
exact numbers expected; their cost (the same few queries whatever the event's size); the
CSV; the page with its charts; the staff dashboard's line per event."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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
    staff_user,
)

from portal.extensions import db
from portal.introductions.services import propose_introduction
from portal.missions import analytics
from portal.missions.analytics import Figure
from portal.missions.models import (
    Meeting,
    MeetingOutcome,
    MeetingRequest,
    MissionEvent,
    Participant,
    RequestStatus,
)

START = dt.datetime(2099, 3, 9, 2, 0, tzinfo=dt.UTC)  # 09:00 in Bangkok


def _request(sender: Participant, target: Participant, status: str, **fields: Any) -> Any:
    request = MeetingRequest(
        event_id=sender.event_id,
        from_id=sender.id,
        to_id=target.id,
        pair=MeetingRequest.pair_of(sender.id, target.id),
        status=status,
        **fields,
    )
    db.session.add(request)
    db.session.flush()
    return request


def _meeting(request: MeetingRequest, slot: int, *, published: bool = True) -> Meeting:
    starts = START + dt.timedelta(minutes=20 * slot)
    meeting = Meeting(
        event_id=request.event_id,
        request_id=request.id,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=20),
        table_number=1,
        published=published,
    )
    db.session.add(meeting)
    db.session.flush()
    return meeting


def _said(
    request: MeetingRequest,
    side: Participant,
    attendance: str,
    rating: str,
    introduction: Any = None,
) -> None:
    db.session.add(
        MeetingOutcome(
            request_id=request.id,
            participant_id=side.id,
            attendance=attendance,
            rating=rating,
            introduction_id=introduction.id if introduction is not None else None,
        )
    )
    db.session.flush()


@dataclass
class Built:
    event: MissionEvent
    other: MissionEvent


@pytest.fixture
def built(app: Flask) -> Built:
    """Five participants (one not verified, one online), eight requests in every status,
    four meetings (three published) and what their sides said, one introduction; and a
    second event whose figures must not leak into the first."""
    event = make_event(ref="an-1", name="Analytics Matchmaking")
    v1 = make_org(VENDOR, "Vendor One", sectors=["mobility", "energy"])
    v2 = make_org(VENDOR, "Vendor Two", sectors=["mobility"])
    v3 = make_org(VENDOR, "Vendor Three", verified=False)
    b1 = make_org(BUYER, "Buyer One", country="TH", sectors=["water"])
    b2 = make_org(BUYER, "Buyer Two", country="VN", sectors=["mobility", "water"])
    p = {
        "v1": make_participant(event, v1),
        "v2": make_participant(event, v2, mode="online"),
        "v3": make_participant(event, v3),
        "b1": make_participant(event, b1),
        "b2": make_participant(event, b2),
    }
    r1 = _request(p["v1"], p["b1"], RequestStatus.ACCEPTED, must_meet=True)
    r2 = _request(p["v2"], p["b1"], RequestStatus.ACCEPTED)
    r3 = _request(p["v1"], p["b2"], RequestStatus.ACCEPTED, proposed_by_staff=True)
    _request(p["v3"], p["b2"], RequestStatus.DECLINED)
    _request(p["b2"], p["v2"], RequestStatus.PENDING)
    _request(p["v3"], p["b1"], RequestStatus.WITHDRAWN)
    _request(p["v1"], p["v2"], RequestStatus.EXPIRED)
    r8 = _request(p["v2"], p["v3"], RequestStatus.ACCEPTED)
    _meeting(r1, 0)
    _meeting(r2, 1)
    _meeting(r3, 2)
    _meeting(r8, 3, published=False)
    introduction = propose_introduction(staff_user(), vendor=v1, buyer=b1)
    _said(r1, p["v1"], "held", "cooperation", introduction)
    _said(r1, p["b1"], "held", "cooperation", introduction)
    _said(r2, p["v2"], "no-show", "not-held")  # b1 said nothing: a no-show
    _said(r3, p["v1"], "held", "interesting")  # one side's "held" outweighs a no-show
    _said(r3, p["b2"], "no-show", "not-held")

    other = make_event(ref="an-2", name="Other Matchmaking")
    o1, o2 = make_participant(other, v2), make_participant(other, b2)
    other_request = _request(o1, o2, RequestStatus.ACCEPTED)
    _meeting(other_request, 0)
    other_introduction = propose_introduction(staff_user(), vendor=v2, buyer=b2)
    _said(other_request, o1, "held", "cooperation", other_introduction)
    db.session.commit()
    return Built(event, other)


def test_registrations_by_kind_attendance_country_and_sector(built: Built) -> None:
    figures = analytics.registrations(built.event)
    assert figures.total == 5
    assert figures.by_kind == [
        Figure("vendor", "U.S. vendors", 3),
        Figure("buyer", "ASEAN buyers", 2),
    ]
    assert figures.by_mode == [Figure("on-site", "On site", 4), Figure("online", "Online", 1)]
    assert figures.by_country == [
        Figure("US", "United States", 3),
        Figure("TH", "Thailand", 1),
        Figure("VN", "Viet Nam", 1),
    ]
    assert figures.by_sector == [
        Figure("mobility", "Mobility", 3),
        Figure("water", "Water", 2),
        Figure("energy", "Energy", 1),
    ]


def test_requests_by_status(built: Built) -> None:
    figures = analytics.requests(built.event)
    assert figures.sent == 8
    assert [(f.key, f.count) for f in figures.by_status] == [
        ("pending", 1),
        ("accepted", 4),
        ("declined", 1),
        ("withdrawn", 1),
        ("expired", 1),
    ]
    assert (figures.must_meet, figures.proposed_by_staff) == (1, 1)
    assert figures.count(RequestStatus.ACCEPTED) == 4


def test_meetings_placed_held_and_no_show_from_the_outcomes(built: Built) -> None:
    figures = analytics.meetings(built.event)
    assert (figures.placed, figures.published) == (4, 3)
    assert (figures.held, figures.no_show, figures.not_reported) == (2, 1, 1)


def test_ratings_count_each_side_s_word(built: Built) -> None:
    assert [(f.key, f.count) for f in analytics.ratings(built.event)] == [
        ("not-held", 2),
        ("no-interest", 0),
        ("interesting", 1),
        ("cooperation", 2),
    ]


def test_introductions_that_came_of_the_event(built: Built) -> None:
    figures = analytics.event_analytics(built.event)
    assert figures.introductions == 1  # both sides' rows name the same one
    assert figures.introductions_by_state == [Figure("approved", "Approved by staff", 1)]


def test_an_event_with_nothing_yet_has_zeros_not_errors(app: Flask) -> None:
    figures = analytics.event_analytics(make_event(ref="an-empty"))
    assert figures.registrations.total == 0
    assert figures.registrations.by_country == []
    assert figures.requests.sent == 0
    assert {f.count for f in figures.requests.by_status} == {0}
    assert (figures.meetings.placed, figures.meetings.held) == (0, 0)
    assert {f.count for f in figures.ratings} == {0}
    assert (figures.introductions, figures.introductions_by_state) == (0, [])


@pytest.fixture
def statements(app: Flask) -> Iterator[list[str]]:
    """The queries run while the test body runs (the test session's savepoints aside)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def test_the_figures_cost_the_same_queries_whatever_the_event_s_size(
    built: Built, statements: list[str]
) -> None:
    assert built.other.id and built.event.id  # loaded before counting
    statements.clear()
    analytics.event_analytics(built.other)  # two participants
    small = len(statements)
    statements.clear()
    analytics.event_analytics(built.event)  # five, and eight requests
    assert len(statements) == small <= 5


def test_the_dashboard_line_per_event(built: Built, statements: list[str]) -> None:
    lines = {h.event.ref: h for h in analytics.headlines()}
    assert len(statements) <= 6  # grouped over every event, not one event at a time
    first, other = lines["an-1"], lines["an-2"]
    assert (first.participants, first.requests, first.accepted) == (5, 8, 4)
    assert (first.placed, first.held, first.introductions) == (4, 2, 1)
    assert (other.participants, other.requests, other.accepted) == (2, 1, 1)
    assert (other.placed, other.held, other.introductions) == (1, 1, 1)


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_csv_has_every_figure(built: Built) -> None:
    out = io.StringIO()
    written = analytics.write_csv(out, analytics.event_analytics(built.event))
    rows = _csv(out.getvalue())
    assert len(rows) == written
    assert list(rows[0]) == list(analytics.CSV_COLUMNS)
    found = {(row["figure"], row["key"]): row["count"] for row in rows}
    assert found[("registrations", "total")] == "5"
    assert found[("registrations by country", "TH")] == "1"
    assert found[("registrations by sector", "mobility")] == "3"
    assert found[("requests", "sent")] == "8"
    assert found[("requests", "declined")] == "1"
    assert found[("meetings", "held")] == "2"
    assert found[("meetings", "no-show")] == "1"
    assert found[("ratings", "cooperation")] == "2"
    assert found[("introductions", "total")] == "1"
    assert {row["event"] for row in rows} == {"an-1"}


def test_csv_cells_are_not_formulas(app: Flask) -> None:
    """A country or sector code as typed into an import could start a formula."""
    event = make_event(ref="an-csv")
    organization = make_org(VENDOR, "Formula Co", country="=1", sectors=["=SUM(A1:A9)"])
    make_participant(event, organization)
    out = io.StringIO()
    analytics.write_csv(out, analytics.event_analytics(event))
    rows = _csv(out.getvalue())
    country = next(row for row in rows if row["figure"] == "registrations by country")
    sector = next(row for row in rows if row["figure"] == "registrations by sector")
    assert (country["key"], country["label"]) == ("'=1", "'=1")
    assert (sector["key"], sector["label"]) == ("'=SUM(A1:A9)", "'=SUM(A1:A9)")
    assert not any(cell[:1] in "=+-@" for row in rows for cell in row.values() if cell)


# --- the pages --------------------------------------------------------------------------


def test_staff_see_the_analytics_page_with_its_charts(client: FlaskClient, built: Built) -> None:
    log_in(client, staff_user())
    page = client.get("/events/an-1/analytics")
    assert page.status_code == 200
    text = page.text
    assert "Analytics · Analytics Matchmaking" in text
    assert "5 registrations;" in text and "8 meeting requests sent, 4 accepted;" in text
    assert "4 meetings placed, 2 held;" in text and "1 introduction opened" in text
    # Charts drawn on the server: an SVG with a title and a description, no script.
    assert text.count('<svg class="chart" role="img"') == 8
    assert '<title id="chart-country-title">Registrations by country</title>' in text
    assert '<desc id="chart-ratings-desc">' in text
    assert "<script" not in text.split("<main", 1)[1].split("</main>", 1)[0]
    assert "/events/an-1/analytics.csv" in text


def test_an_empty_event_s_page_draws_no_empty_charts(client: FlaskClient, app: Flask) -> None:
    make_event(ref="an-none")
    log_in(client, staff_user())
    page = client.get("/events/an-none/analytics")
    assert page.status_code == 200
    assert '<svg class="chart"' not in page.text
    assert "No registration yet." in page.text


def test_staff_download_the_csv(client: FlaskClient, built: Built) -> None:
    log_in(client, staff_user())
    response = client.get("/events/an-1/analytics.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="an-1-analytics.csv"'
    rows = _csv(response.text)
    assert {"event": "an-1", "figure": "meetings", "key": "placed", "count": "4"}.items() <= {
        **next(row for row in rows if (row["figure"], row["key"]) == ("meetings", "placed"))
    }.items()


def test_the_event_page_links_analytics_for_staff_only(client: FlaskClient, built: Built) -> None:
    log_in(client, make_member(built.event.participants[0].organization))
    assert "/events/an-1/analytics" not in client.get("/events/an-1").text
    assert client.get("/events/an-1/analytics").status_code == 403
    assert client.get("/events/an-1/analytics.csv").status_code == 403
    log_in(client, staff_user())
    assert "/events/an-1/analytics" in client.get("/events/an-1").text


def test_an_unknown_event_has_no_analytics(client: FlaskClient, app: Flask) -> None:
    log_in(client, staff_user())
    assert client.get("/events/no-such/analytics").status_code == 404
    assert client.get("/events/no-such/analytics.csv").status_code == 404


def test_the_staff_dashboard_lists_events_with_their_headlines(
    client: FlaskClient, built: Built
) -> None:
    log_in(client, staff_user())
    page = client.get("/staff/dashboard")
    assert page.status_code == 200
    assert "Trade-mission events" in page.text
    row = page.text.split('href="/events/an-1/analytics">Analytics Matchmaking</a>', 1)[1]
    cells = row.split("</tr>", 1)[0]
    assert [c.split("</td>")[0] for c in cells.split("<td>")[1:]] == ["5", "8", "4", "4", "2", "1"]
