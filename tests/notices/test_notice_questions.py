"""Questions and answers: a vendor asks (private to its organization, the buyer and
staff), the buyer is mailed, answers in public with the asker anonymised; a deadline."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from notices.notice_factories import Notice, make_notice, signals_sent
from organizations.directory_factories import (
    count_rows,
    log_in,
    make_member,
    make_org,
    make_user,
)

from portal.accounts.models import Role
from portal.db import utc_today
from portal.extensions import db
from portal.mail.models import OutboxMessage
from portal.needs.models import NeedStatus
from portal.notices import services
from portal.notices.models import NoticeQuestion
from portal.notifications.services import unsubscribe
from portal.organizations.models import OrganizationKind

QUESTION = "Can the sensors run on solar power alone?"
ANSWER = "Yes; mains power is available at half of the sites."


def _ask(client: FlaskClient, notice: Notice, body: str = QUESTION) -> int:
    log_in(client, notice.vendor_member)
    response = client.post(f"/needs/{notice.need.ref}/questions/new", data={"body": body})
    assert response.status_code == 302, response.get_data(as_text=True)
    return db.session.scalars(sa.select(NoticeQuestion.id)).one()


def _mail_to(address: str) -> list[OutboxMessage]:
    return list(
        db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.recipient == address))
    )


def test_a_vendor_asks_and_only_its_organization_the_buyer_and_staff_see_it(
    client: FlaskClient,
) -> None:
    notice = make_notice()
    _ask(client, notice)

    own_page = client.get(f"/needs/{notice.need.ref}").get_data(as_text=True)
    assert QUESTION in own_page and "waiting for an answer" in own_page
    for other in (make_member(make_org(OrganizationKind.VENDOR)), None):
        if other is None:
            client.post("/logout")
        else:
            log_in(client, other)
        assert QUESTION not in client.get(f"/needs/{notice.need.ref}").get_data(as_text=True)
    for insider in (notice.buyer_member, make_user(Role.STAFF)):
        log_in(client, insider)
        page = client.get(f"/needs/{notice.need.ref}").get_data(as_text=True)
        assert QUESTION in page and "Waiting for your answer (1)" in page
        assert notice.vendor.name in page  # the buyer knows who asks


def test_the_buyer_s_members_are_mailed_a_new_question(client: FlaskClient) -> None:
    notice = make_notice()
    second_member = make_member(notice.buyer)
    quiet_member = make_member(notice.buyer)
    unsubscribe(quiet_member)
    db.session.commit()

    _ask(client, notice)

    for member in (notice.buyer_member, second_member):
        [mail] = _mail_to(member.email)
        assert notice.need.title in mail.subject
        assert QUESTION in mail.body_text and notice.vendor.name in mail.body_text
        assert f"/needs/{notice.need.ref}#questions" in mail.body_text
    assert _mail_to(quiet_member.email) == []
    assert _mail_to(notice.vendor_member.email) == []


def test_the_buyer_answers_in_public_and_the_asker_is_not_named(client: FlaskClient) -> None:
    notice = make_notice()
    question_id = _ask(client, notice)
    log_in(client, notice.buyer_member)
    url = f"/needs/{notice.need.ref}/questions/{question_id}/answer"

    with signals_sent() as sent:
        response = client.post(url, data={"answer": ANSWER})

    assert response.status_code == 302
    assert response.headers["Location"].endswith("#questions")
    [(kind, sender, kwargs)] = sent
    assert (kind, sender, kwargs["question"].id) == ("answered", notice.need, question_id)
    assert kwargs["actor"] is notice.buyer_member
    client.post("/logout")
    page = client.get(f"/needs/{notice.need.ref}").get_data(as_text=True)
    assert "A vendor asked:" in page and QUESTION in page and ANSWER in page
    assert notice.vendor.name not in page
    [answer] = services.public_answers_of(notice.need)
    assert (answer.question, answer.answer) == (QUESTION, ANSWER)
    assert not hasattr(answer, "organization") and not hasattr(answer, "asked_by_id")

    log_in(client, notice.buyer_member)
    again = client.post(url, data={"answer": "A second answer."})
    assert again.status_code == 400
    assert "This question was already answered." in again.get_data(as_text=True)


def test_public_answers_are_listed_in_the_order_they_were_answered(client: FlaskClient) -> None:
    notice = make_notice()
    log_in(client, notice.vendor_member)
    for body in ("First?", "Second?", "Third?"):
        client.post(f"/needs/{notice.need.ref}/questions/new", data={"body": body})
    first, _second, third = db.session.scalars(
        sa.select(NoticeQuestion).order_by(NoticeQuestion.id)
    ).all()
    for question in (third, first):
        services.answer_question(question, f"About {question.body}", actor=notice.buyer_member)

    assert [a.question for a in services.public_answers_of(notice.need)] == ["Third?", "First?"]
    assert [q.body for q in services.unanswered_questions(notice.need)] == ["Second?"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "Write your question."),
        ("   ", "Write your question."),
        ("x" * 2001, "Field cannot be longer than 2000 characters."),
    ],
    ids=["empty", "blank", "too-long"],
)
def test_bad_questions_are_refused_beside_the_field(
    client: FlaskClient, body: str, message: str
) -> None:
    notice = make_notice()
    log_in(client, notice.vendor_member)
    response = client.post(f"/needs/{notice.need.ref}/questions/new", data={"body": body})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count_rows(NoticeQuestion) == 0


@pytest.mark.parametrize(
    ("answer", "message"),
    [("", "Write the answer."), ("x" * 5001, "Field cannot be longer than 5000 characters.")],
    ids=["empty", "too-long"],
)
def test_bad_answers_are_refused_beside_the_field(
    client: FlaskClient, answer: str, message: str
) -> None:
    notice = make_notice()
    question_id = _ask(client, notice)
    log_in(client, notice.buyer_member)
    response = client.post(
        f"/needs/{notice.need.ref}/questions/{question_id}/answer", data={"answer": answer}
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert services.public_answers_of(notice.need) == []


def test_after_the_questions_deadline_asking_is_refused_with_a_clear_message(
    client: FlaskClient,
) -> None:
    notice = make_notice(closes_on=utc_today() + dt.timedelta(days=30))
    notice.need.questions_close_on = utc_today() - dt.timedelta(days=1)
    db.session.commit()
    log_in(client, notice.vendor_member)
    closed_on = notice.need.questions_close_on.isoformat()

    response = client.post(f"/needs/{notice.need.ref}/questions/new", data={"body": QUESTION})

    assert response.status_code == 400
    assert f"Questions about this notice closed on {closed_on}." in response.get_data(as_text=True)
    assert count_rows(NoticeQuestion) == 0
    page = client.get(f"/needs/{notice.need.ref}").get_data(as_text=True)
    assert f"Questions closed on {closed_on}." in page
    assert 'action="/needs/' + notice.need.ref + '/questions/new"' not in page


def test_the_closing_date_is_the_questions_deadline_when_it_comes_first(app: object) -> None:
    today = utc_today()
    notice = make_notice(closes_on=today + dt.timedelta(days=5))
    assert services.questions_deadline(notice.need) == today + dt.timedelta(days=5)
    notice.need.questions_close_on = today + dt.timedelta(days=2)
    assert services.questions_deadline(notice.need) == today + dt.timedelta(days=2)
    assert services.questions_are_open(notice.need, today=today + dt.timedelta(days=2))
    assert not services.questions_are_open(notice.need, today=today + dt.timedelta(days=3))
    no_dates = make_notice("No dates")
    assert services.questions_deadline(no_dates.need) is None
    assert services.questions_are_open(no_dates.need)


def test_only_members_of_a_verified_vendor_ask_about_a_published_notice(
    client: FlaskClient,
) -> None:
    notice = make_notice()
    url = f"/needs/{notice.need.ref}/questions/new"
    unverified = make_member(make_org(OrganizationKind.VENDOR, verified=False))

    log_in(client, unverified)
    refused = client.post(url, data={"body": QUESTION})
    assert refused.status_code == 400
    assert "must be verified by trade staff" in refused.get_data(as_text=True)
    for not_a_vendor in (notice.buyer_member, make_user(Role.STAFF)):
        log_in(client, not_a_vendor)
        assert client.post(url, data={"body": QUESTION}).status_code == 403
    closed = make_notice("Closed notice", status=NeedStatus.CLOSED)
    log_in(client, closed.vendor_member)
    assert client.post(f"/needs/{closed.need.ref}/questions/new").status_code == 404
    assert count_rows(NoticeQuestion) == 0


def test_outsiders_may_not_answer_and_questions_belong_to_their_need(
    client: FlaskClient,
) -> None:
    notice, other = make_notice(), make_notice("Other notice")
    question_id = _ask(client, notice)
    for outsider in (notice.vendor_member, other.buyer_member):
        log_in(client, outsider)
        url = f"/needs/{notice.need.ref}/questions/{question_id}/answer"
        assert client.post(url, data={"answer": "Forged."}).status_code == 403
    log_in(client, other.buyer_member)
    url = f"/needs/{other.need.ref}/questions/{question_id}/answer"
    assert client.post(url, data={"answer": "Wrong need."}).status_code == 404
    assert services.public_answers_of(notice.need) == []
