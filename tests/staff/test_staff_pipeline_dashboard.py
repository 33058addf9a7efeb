"""The staff pipeline dashboard of introductions: counts, funnel, breakdowns, median days,
oldest waiting, filters, SVG charts that pass the CSP, and the CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from introductions.intro_factories import Pair, make_pair, walk_to
from organizations.directory_factories import PASSWORD

from portal.accounts.models import User
from portal.cleaning import spreadsheet_safe
from portal.extensions import db
from portal.introductions.models import Introduction, IntroState
from portal.staff import dashboard


@pytest.fixture
def pair(app: Flask) -> Pair:
    return make_pair()


def _log_in(client: FlaskClient, user: User) -> None:
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


def test_dashboard_counts_introductions_per_state_with_a_funnel_and_breakdowns(
    client: FlaskClient, pair: Pair
) -> None:
    walk_to(pair, IntroState.WON)
    walk_to(pair, IntroState.UNDER_REVIEW)
    _log_in(client, pair.staff)
    page = client.get("/staff/dashboard")
    assert page.status_code == 200
    text = page.text
    assert "2 introduction(s) match" in text
    assert "<td>Won</td><td>1</td>" in text and "<td>Under staff review</td><td>1</td>" in text
    month = f"{dt.datetime.now(dt.UTC):%Y-%m}"
    assert (
        f'<tr><td class="nowrap">{month}</td><td>2</td><td>1</td><td>1</td><td>1</td></tr>' in text
    )
    assert "<td>Viet Nam</td><td>2</td>" in text
    assert "Median days in each state" in text and "Stays measured" in text
    assert "/staff/verification" in text


def test_dashboard_charts_are_inline_svg_with_titles_and_no_style_or_script(
    client: FlaskClient, pair: Pair
) -> None:
    walk_to(pair, IntroState.INTRODUCED)
    _log_in(client, pair.staff)
    text = client.get("/staff/dashboard").text
    # No chart for the sectors: the pair's need and vendor name none (the table says so).
    assert text.count('<svg class="chart"') == 4
    assert "No sector: neither the needs nor the vendors name one." in text
    assert '<title id="chart-states-title">' in text and '<desc id="chart-funnel-desc">' in text
    assert "style=" not in text and "<script" not in text


def test_dashboard_lists_the_oldest_waiting_introduction_with_a_link(
    client: FlaskClient, pair: Pair
) -> None:
    waiting = walk_to(pair, IntroState.REQUESTED)
    _log_in(client, pair.staff)
    text = client.get("/staff/dashboard").text
    assert f'href="/introductions/{waiting.id}"' in text


def test_median_days_in_a_state_come_from_the_audit_trail(pair: Pair) -> None:
    introduction = walk_to(pair, IntroState.APPROVED)
    result = dict(
        (state, days) for state, days, _ in dashboard.median_days_in_state([introduction.id])
    )
    assert set(result) == {IntroState.REQUESTED, IntroState.UNDER_REVIEW}
    assert all(days >= 0 for days in result.values())


def test_dashboard_filters_by_state_and_country(client: FlaskClient, pair: Pair) -> None:
    walk_to(pair, IntroState.WON)
    walk_to(pair, IntroState.REQUESTED)
    _log_in(client, pair.staff)
    assert "1 introduction(s) match" in client.get("/staff/dashboard?state=won").text
    assert "0 introduction(s) match" in client.get("/staff/dashboard?country=TH").text
    assert "2 introduction(s) match" in client.get("/staff/dashboard?country=VN").text


def test_dashboard_refuses_bad_filters_with_a_form_error(client: FlaskClient, pair: Pair) -> None:
    _log_in(client, pair.staff)
    for query in (
        "date_from=yesterday",
        "state=nonsense",
        "date_from=2026-05-02&date_to=2026-05-01",
    ):
        response = client.get(f"/staff/dashboard?{query}")
        assert response.status_code == 400, query
        assert "Please correct the filters" in response.text
    assert client.get("/staff/dashboard/introductions.csv?state=nonsense").status_code == 400


def test_introductions_csv_export_has_outcomes_respects_filters_and_defuses_formulas(
    client: FlaskClient, pair: Pair
) -> None:
    pair.vendor.name = '=HYPERLINK("http://evil.example")'
    db.session.commit()
    won = walk_to(pair, IntroState.WON)
    walk_to(pair, IntroState.REQUESTED)
    _log_in(client, pair.staff)
    response = client.get("/staff/dashboard/introductions.csv?state=won")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["id"] for row in rows] == [str(won.id)]
    assert rows[0]["outcome"] == "won" and rows[0]["buyer_country"] == "VN"
    assert rows[0]["vendor"].startswith("'=")


@pytest.mark.parametrize("who", ["vendor_member", "buyer_member"])
def test_members_cannot_see_the_introductions_dashboard_or_export(
    client: FlaskClient, pair: Pair, who: str
) -> None:
    _log_in(client, getattr(pair, who))
    assert client.get("/staff/dashboard").status_code == 403
    assert client.get("/staff/dashboard/introductions.csv").status_code == 403


def test_spreadsheet_safe_prefixes_formula_cells_only() -> None:
    assert spreadsheet_safe("=1+1") == "'=1+1"
    assert spreadsheet_safe("+1") == "'+1"
    assert spreadsheet_safe("-1") == "'-1"
    assert spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet_safe("Lumen Grid") == "Lumen Grid"


def test_the_dashboard_shows_waiting_times_in_the_staff_members_own_zone(
    client: FlaskClient, pair: Pair
) -> None:
    waiting: Introduction = walk_to(pair, IntroState.REQUESTED)
    waiting.state_changed_at = dt.datetime(2026, 3, 2, 2, 30, tzinfo=dt.UTC)
    pair.staff.timezone = "America/New_York"
    db.session.commit()
    _log_in(client, pair.staff)
    assert "since 2026-03-01 21:30 EST" in client.get("/staff/dashboard").text


def test_an_empty_dashboard_says_so_instead_of_empty_charts_and_bare_headers(
    client: FlaskClient, pair: Pair
) -> None:
    """Regression: with no introductions the median-days table was headers only."""
    _log_in(client, pair.staff)
    text = client.get("/staff/dashboard").text
    assert "0 introduction(s) match" in text
    assert '<svg class="chart"' not in text
    assert text.count("No introduction matches.") == 3
    assert "No introduction has moved on from a state yet" in text


def test_charts_are_drawn_at_their_natural_size_so_labels_stay_readable() -> None:
    """Regression: a 570-unit drawing squeezed into a narrow column made 12px labels
    about 8px. The drawing is now as wide as it needs in CSS pixels (it only shrinks in a
    column narrower than that) and its labels are 14px; long labels are cut, the table
    beside the chart has them whole."""
    long = "Cybersecurity of city systems and data"
    svg = str(dashboard.bar_chart("c", "Title", "Desc", [(long, 3), ("Water", 1)]))
    width = int(svg.split('width="', 1)[1].split('"', 1)[0])
    assert f'viewBox="0 0 {width} ' in svg and width <= 440
    assert ">Cybersecurity of city sys…<title>" in svg
    assert f"<title>{long}</title>" in svg
