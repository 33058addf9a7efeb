"""Amendments: a published notice's closing date, budget or questions deadline changed
through the need form or the deadline form is numbered and recorded old -> new; a draft
or closed need changes freely."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient
from notices.notice_factories import make_notice, signals_sent
from organizations.directory_factories import count_rows, log_in, make_need, make_org

from portal.db import utc_today
from portal.extensions import db
from portal.needs.models import Need, NeedStatus
from portal.needs.services import update_need
from portal.notices import services
from portal.notices.models import NoticeAmendment
from portal.organizations.models import OrganizationKind

IN_30_DAYS = utc_today() + dt.timedelta(days=30)
IN_60_DAYS = utc_today() + dt.timedelta(days=60)


def _edit(need: Need, editor: Any = None, **changes: Any) -> Need:
    values: dict[str, Any] = {
        "title": need.title,
        "description": need.description,
        "sectors": need.sectors,
        "budget_min": need.budget_min,
        "budget_max": need.budget_max,
        "closes_on": need.closes_on,
        "notice": need.notice,
        "funding_source": need.funding_source,
        "funding_stage": need.funding_stage,
    }
    values.update(changes)
    return update_need(need, editor=editor, **values)


def _changes(amendment: services.PublicAmendment) -> list[tuple[str, Any, Any]]:
    return [(change.field, change.old, change.new) for change in amendment.changes]


def test_a_published_notice_s_new_deadline_and_budget_are_numbered_amendments(app: Any) -> None:
    notice = make_notice(closes_on=IN_30_DAYS, budget_min=100_000, budget_max=200_000)

    with signals_sent() as sent:
        _edit(notice.need, notice.buyer_member, closes_on=IN_60_DAYS)
        _edit(notice.need, notice.buyer_member, budget_min=150_000, budget_max=300_000)
        _edit(notice.need, notice.buyer_member, title="Same deadline, new title")

    first, second = services.amendments_of(notice.need)
    assert (first.number, second.number) == (1, 2)
    assert _changes(first) == [("closes_on", IN_30_DAYS.isoformat(), IN_60_DAYS.isoformat())]
    assert _changes(second) == [
        ("budget_min", 100_000, 150_000),
        ("budget_max", 200_000, 300_000),
    ]
    assert [change.old_text for change in second.changes] == ["US$100,000", "US$200,000"]
    assert [(kind, sender, kwargs["amendment"].number) for kind, sender, kwargs in sent] == [
        ("amended", notice.need, 1),
        ("amended", notice.need, 2),
    ]
    assert all(kwargs["actor"] is notice.buyer_member for _, _, kwargs in sent)


def test_a_removed_closing_date_is_an_amendment_too(app: Any) -> None:
    notice = make_notice(closes_on=IN_30_DAYS)
    _edit(notice.need, closes_on=None)
    [amendment] = services.amendments_of(notice.need)
    assert _changes(amendment) == [("closes_on", IN_30_DAYS.isoformat(), None)]
    assert amendment.changes[0].new_text == "not set"


@pytest.mark.parametrize(
    "make",
    [
        lambda: make_need(make_org(OrganizationKind.BUYER, verified=False), "Draft"),
        lambda: make_need(make_org(OrganizationKind.BUYER), "Closed", status=NeedStatus.CLOSED),
        lambda: make_need(
            make_org(OrganizationKind.BUYER), "Expired", closes_on=dt.date(2000, 1, 1)
        ),
    ],
    ids=["unverified-buyer", "closed", "expired"],
)
def test_edits_to_an_unpublished_need_make_no_amendment(app: Any, make: Any) -> None:
    need = make()
    with signals_sent() as sent:
        _edit(need, closes_on=IN_60_DAYS, budget_min=1, budget_max=2)
    assert sent == [] and count_rows(NoticeAmendment) == 0


def test_the_need_form_amends_and_the_need_page_shows_the_history(client: FlaskClient) -> None:
    notice = make_notice(closes_on=IN_30_DAYS)
    log_in(client, notice.buyer_member)
    version = str(notice.need.version)  # what the edit form was opened on

    response = client.post(
        f"/needs/{notice.need.ref}/edit",
        data={
            "title": notice.need.title,
            "description": "",
            "closes_on": IN_60_DAYS.isoformat(),
            "notice": "rfp",
            "funding_source": "",
            "funding_stage": "",
            "version": version,
        },
    )

    assert response.status_code == 302
    page = client.get(f"/needs/{notice.need.ref}").get_data(as_text=True)
    assert "Amendment 1" in page
    assert f"Closing date: {IN_30_DAYS.isoformat()} → {IN_60_DAYS.isoformat()}" in page
    assert "Add a note for bidders" in page


def test_the_buyer_adds_a_note_to_an_amendment_afterwards(client: FlaskClient) -> None:
    notice = make_notice(closes_on=IN_30_DAYS)
    _edit(notice.need, closes_on=IN_60_DAYS)
    db.session.commit()
    log_in(client, notice.buyer_member)
    url = f"/needs/{notice.need.ref}/amendments/1/note"

    assert client.get(url).status_code == 200
    response = client.post(url, data={"note": "More time for site visits."})

    assert response.status_code == 302
    assert response.headers["Location"].endswith("#amendments")
    [amendment] = services.amendments_of(notice.need)
    assert amendment.note == "More time for site visits."
    assert "More time for site visits." in client.get(f"/needs/{notice.need.ref}").get_data(
        as_text=True
    )
    too_long = client.post(url, data={"note": "x" * 1001})
    assert too_long.status_code == 400
    assert "Field cannot be longer than 1000 characters." in too_long.get_data(as_text=True)
    assert client.get(f"/needs/{notice.need.ref}/amendments/2/note").status_code == 404


def test_outsiders_may_not_write_an_amendment_s_note(client: FlaskClient) -> None:
    notice = make_notice(closes_on=IN_30_DAYS)
    _edit(notice.need, closes_on=IN_60_DAYS)
    db.session.commit()
    log_in(client, notice.vendor_member)
    url = f"/needs/{notice.need.ref}/amendments/1/note"
    assert client.post(url, data={"note": "Forged."}).status_code == 403
    assert services.amendments_of(notice.need)[0].note == ""


# --- the questions deadline ------------------------------------------------------------


def test_the_buyer_sets_the_questions_deadline_an_amendment_once_published(
    client: FlaskClient,
) -> None:
    notice = make_notice(closes_on=IN_60_DAYS)
    log_in(client, notice.buyer_member)
    url = f"/needs/{notice.need.ref}/questions/deadline"

    assert client.get(url).status_code == 200
    response = client.post(
        url, data={"questions_close_on": IN_30_DAYS.isoformat(), "note": "Site visit first."}
    )

    assert response.status_code == 302
    assert notice.need.questions_close_on == IN_30_DAYS
    [amendment] = services.amendments_of(notice.need)
    assert _changes(amendment) == [("questions_close_on", None, IN_30_DAYS.isoformat())]
    assert amendment.changes[0].old_text == "the closing date"
    assert amendment.note == "Site visit first."
    page = client.get(f"/needs/{notice.need.ref}").get_data(as_text=True)
    assert f"Questions are taken until {IN_30_DAYS.isoformat()}." in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"questions_close_on": "2000-01-01"}, "The questions deadline cannot be in the past."),
        (
            {"questions_close_on": (IN_60_DAYS + dt.timedelta(days=1)).isoformat()},
            "must not be after the closing date",
        ),
        ({"questions_close_on": "not a date"}, "Not a valid date value."),
        ({"questions_close_on": "", "note": "x" * 1001}, "cannot be longer than 1000"),
    ],
    ids=["past", "after-closing", "not-a-date", "note-too-long"],
)
def test_bad_questions_deadlines_are_refused_beside_the_field(
    client: FlaskClient, data: dict[str, str], message: str
) -> None:
    notice = make_notice(closes_on=IN_60_DAYS)
    log_in(client, notice.buyer_member)
    response = client.post(f"/needs/{notice.need.ref}/questions/deadline", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Need, notice.need.id).questions_close_on is None  # type: ignore[union-attr]
    assert count_rows(NoticeAmendment) == 0
