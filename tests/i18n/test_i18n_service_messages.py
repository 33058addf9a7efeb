"""What the services refuse, and what the lead and saved-search pages say about it, in the
reader's language; without a request (CLI commands, workers) the same errors are English."""

from __future__ import annotations

import contextvars

import pytest
from flask import Flask
from flask.testing import FlaskClient
from follows.follow_factories import Scene, make_scene
from matching.feedback_factories import Market, build_market, log_in

from portal.extensions import db
from portal.follows import services as follows
from portal.follows.services import FollowError, SearchCriteria


def _speak(client: FlaskClient, locale: str) -> None:
    """The language switch: a member's own setting changes with it."""
    assert client.post("/language", data={"locale": locale, "next": "/"}).status_code == 302


def _lead(market: Market, vendor_ref: str | None = None) -> str:
    return f"/needs/{market.lamps.ref}/leads/{vendor_ref or market.lumenark.ref}"


@pytest.fixture
def market(client: FlaskClient, app: Flask) -> Market:
    """A market whose buyer is logged in and reads Vietnamese."""
    built = build_market()
    log_in(client, built.buyer_member)
    _speak(client, "vi")
    return built


def test_a_vietnamese_buyer_reads_the_dismissal_its_reason_and_the_undo_in_vietnamese(
    client: FlaskClient, market: Market
) -> None:
    page = client.post(
        f"{_lead(market)}/dismiss", data={"reason": "not_relevant"}, follow_redirects=True
    ).text
    assert "Đã bỏ qua “Lumenark Lighting” (không liên quan)." in page
    assert "Không liên quan" in page  # the reason's badge in the list of dismissed vendors
    assert "Dismissed" not in page and "Not relevant" not in page

    page = client.post(f"{_lead(market)}/undo", follow_redirects=True).text
    assert "Cơ hội tiềm năng đã trở lại danh sách của bạn." in page
    page = client.post(f"{_lead(market)}/undo", follow_redirects=True).text
    assert "Cơ hội tiềm năng đó chưa bị bỏ qua." in page


def test_a_service_error_in_the_dismissal_flash_is_vietnamese(
    client: FlaskClient, market: Market
) -> None:
    # An unverified vendor is never a lead: the service refuses, the view flashes why.
    page = client.post(
        f"{_lead(market, market.pending.ref)}/dismiss",
        data={"reason": "too_small"},
        follow_redirects=True,
    ).text
    assert "Không có gì thay đổi: Nhà cung cấp này không nằm trong các cơ hội tiềm năng." in page


@pytest.fixture
def scene(app: Flask) -> Scene:
    return make_scene()


def test_a_vietnamese_vendor_reads_a_saved_search_refusal_and_description_in_vietnamese(
    client: FlaskClient, scene: Scene
) -> None:
    follows.save_search(
        scene.member,
        name="Lũ",
        criteria=SearchCriteria(words="flood", budget_min=1000, budget_max=5000),
    )
    db.session.commit()
    log_in(client, scene.member)
    _speak(client, "vi")

    response = client.post(
        "/saved-searches/new", data={"name": "Lũ", "words": "x", "frequency": "weekly"}
    )
    assert response.status_code == 400
    assert "bạn đã có một tìm kiếm đã lưu với tên này" in response.text

    listing = client.get("/saved-searches").text
    assert "“flood”; ngân sách US$1.000 đến US$5.000" in listing


def _refusal_of_empty_criteria() -> str:
    try:
        follows.checked_criteria(SearchCriteria())
    except FollowError as error:
        return str(error)
    raise AssertionError("empty criteria were accepted")


def _in_a_vietnamese_request(app: Flask) -> str:
    with app.test_request_context(headers={"Accept-Language": "vi"}):
        return _refusal_of_empty_criteria()


def test_without_a_request_a_service_error_is_english(app: Flask) -> None:
    """CLI commands and workers run in an app context with no request: the default locale."""
    assert _refusal_of_empty_criteria() == "give some words or choose at least one filter"

    # A request of its own, in an empty context as a server runs it (Flask-Babel keeps the
    # locale in the app context's ``g``, which the fixture's context would share).
    vietnamese = contextvars.Context().run(_in_a_vietnamese_request, app)
    assert vietnamese == "hãy nhập vài từ khóa hoặc chọn ít nhất một bộ lọc"
