"""The introduction pages through HTTP: who sees what, every step as a form, the mail."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from introductions.intro_factories import Pair, make_pair, walk_to
from organizations.directory_factories import log_in
from support import count_rows

from portal.extensions import db
from portal.introductions import audit, services
from portal.introductions.models import Introduction, IntroductionEvent, IntroState

S = IntroState


@pytest.fixture
def pair(app: Flask) -> Pair:
    """The pair with its members and staff made up front, so that mail finds them."""
    made = make_pair()
    for person in (made.vendor_member, made.buyer_member, made.staff):
        assert person.id
    return made


def mails(mailbox, person, subject_part: str) -> list:
    """What ``person`` received with ``subject_part`` in its subject (earlier steps of a
    walk queue mail too, delivered after the test's first request)."""
    return [m for m in mailbox.to(person.email) if subject_part in m["Subject"]]


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.text


def test_my_introductions_page_shows_state_next_step_and_history(
    client: FlaskClient, pair: Pair
) -> None:
    intro = walk_to(pair, S.APPROVED, origin="vendor")
    log_in(client, pair.buyer_member)
    html = page(client, "/introductions")
    assert pair.vendor.name in html
    assert "Approved by staff" in html
    assert "Accept or decline the introduction." in html
    assert "We would like to meet." in html  # the request's message, in the history
    assert f"/introductions/{intro.id}" in html
    assert 'href="/introductions"' in html  # the nav link


def test_introduction_page_is_404_for_outsiders_and_login_for_anonymous(
    client: FlaskClient, pair: Pair
) -> None:
    intro = walk_to(pair, S.UNDER_REVIEW, origin="vendor")
    url = f"/introductions/{intro.id}"
    assert client.get(url).status_code == 302  # to the login page
    log_in(client, pair.outsider)
    assert client.get(url).status_code == 404
    log_in(client, pair.buyer_member)  # not asked yet: staff have not approved
    assert client.get(url).status_code == 404
    assert client.post(f"{url}/decline", data={"decline-state": "under_review"}).status_code == 404
    log_in(client, pair.vendor_member)
    assert client.get(url).status_code == 200
    assert client.get("/introductions/999999").status_code == 404


def test_member_may_not_take_staff_steps_on_an_introduction(
    client: FlaskClient, pair: Pair
) -> None:
    intro = walk_to(pair, S.REQUESTED, origin="vendor")
    log_in(client, pair.vendor_member)
    for step, data in (
        ("review", {"state": "requested"}),
        ("approve", {"approve-state": "requested"}),
        ("staff-decline", {"staff-decline-state": "requested", "staff-decline-reason": "x"}),
        ("note", {"note-note": "hello"}),
    ):
        assert client.post(f"/introductions/{intro.id}/{step}", data=data).status_code == 403
    assert client.get("/staff/introductions").status_code == 403
    assert client.get("/staff/introductions/audit.csv").status_code == 403
    assert intro.state == S.REQUESTED
    # a member who may see it but whose side has already consented may not accept again
    walk = walk_to(pair, S.APPROVED, origin="vendor")
    response = client.post(f"/introductions/{walk.id}/accept", data={"state": "approved"})
    assert response.status_code == 302
    assert walk.state == S.APPROVED


def test_illegal_introduction_step_over_http_is_a_message_and_no_change(
    client: FlaskClient, pair: Pair
) -> None:
    intro = walk_to(pair, S.INTRODUCED)
    events = count_rows(IntroductionEvent)
    log_in(client, pair.vendor_member)
    response = client.post(
        f"/introductions/{intro.id}/withdraw",
        data={"withdraw-state": "introduced"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Nothing changed: An introduction that is introduced cannot become withdrawn" in (
        response.text
    )
    response = client.post(
        f"/introductions/{intro.id}/outcome",
        data={"outcome-state": "introduced", "outcome-outcome": "won"},
        follow_redirects=True,
    )
    assert "cannot become won" in response.text
    assert intro.state == S.INTRODUCED and count_rows(IntroductionEvent) == events
    # a made-up outcome is a form error, not a 500
    response = client.post(
        f"/introductions/{intro.id}/outcome",
        data={"outcome-state": "introduced", "outcome-outcome": "bribed"},
    )
    assert response.status_code == 400
    assert "Not a valid choice" in response.text


def test_stale_introduction_form_is_told_changed_by_someone_else(
    client: FlaskClient, pair: Pair
) -> None:
    intro = walk_to(pair, S.UNDER_REVIEW)
    log_in(client, pair.staff)
    response = client.post(
        f"/introductions/{intro.id}/review", data={"state": "requested"}, follow_redirects=True
    )
    assert "changed by someone else" in response.text
    assert intro.state == S.UNDER_REVIEW
    # a form without the state it was drawn in is a bad request
    assert client.post(f"/introductions/{intro.id}/approve", data={}).status_code == 400


def test_an_introduction_between_two_longest_names_is_requested_and_mailed(
    client: FlaskClient, pair: Pair, mailbox
) -> None:
    """Regression: two 200-character names made a subject longer than the outbox column,
    a 500 on PostgreSQL."""
    pair.vendor.name = "V" * 200
    pair.buyer.name = "B" * 200
    db.session.commit()
    log_in(client, pair.vendor_member)

    response = client.post(
        f"/introductions/new?with={pair.buyer.ref}", data={"need": "", "message": "Hello."}
    )

    assert response.status_code == 302
    [to_staff] = mailbox.to(pair.staff.email)
    assert to_staff["Subject"].startswith("Introduction requested: VVV")
    assert len(to_staff["Subject"]) == 300 and to_staff["Subject"].endswith("…")


def test_vendor_requests_an_introduction_from_a_need_page(
    client: FlaskClient, pair: Pair, mailbox
) -> None:
    staff = pair.staff
    log_in(client, pair.vendor_member)
    need_page = page(client, f"/needs/{pair.need.ref}")
    assert f"/introductions/new?need={pair.need.ref}" in need_page
    form = page(client, f"/introductions/new?need={pair.need.ref}")
    assert f"Request an introduction to {pair.buyer.name}" in form
    assert f'<option selected value="{pair.need.ref}">' in form

    response = client.post(
        f"/introductions/new?need={pair.need.ref}",
        data={"need": pair.need.ref, "message": "We lit Hoi An."},
    )
    assert response.status_code == 302
    intro = Introduction.query.one()
    assert response.location.endswith(f"/introductions/{intro.id}")
    assert (intro.state, intro.need, intro.requested_by) == (
        S.REQUESTED,
        pair.need,
        pair.vendor_member,
    )
    [to_staff] = mailbox.to(staff.email)
    assert "Introduction requested" in to_staff["Subject"]
    assert "We lit Hoi An." in mailbox.body(to_staff)
    assert f"http://localhost/introductions/{intro.id}" in mailbox.body(to_staff)
    [confirmation] = mailbox.to(pair.vendor_member.email)
    assert "We received your introduction request" in confirmation["Subject"]
    assert not mailbox.to(pair.buyer_member.email)  # not until staff approve


def test_request_form_rejects_bad_input_without_a_500(client: FlaskClient, pair: Pair) -> None:
    log_in(client, pair.vendor_member)
    assert client.get("/introductions/new").status_code == 404
    assert client.get("/introductions/new?with=no-such-org").status_code == 404
    assert client.get(f"/introductions/new?with={pair.vendor.ref}").status_code == 404  # own kind
    bad_need = client.post(
        f"/introductions/new?with={pair.buyer.ref}", data={"need": "made-up-need"}
    )
    assert bad_need.status_code == 400
    too_long = client.post(
        f"/introductions/new?with={pair.buyer.ref}", data={"need": "", "message": "x" * 6000}
    )
    assert too_long.status_code == 400
    assert count_rows(Introduction) == 0


def test_duplicate_introduction_request_warns_and_needs_the_box_ticked(
    client: FlaskClient, pair: Pair
) -> None:
    walk_to(pair, S.INTRODUCED, origin="buyer")
    log_in(client, pair.vendor_member)
    url = f"/introductions/new?with={pair.buyer.ref}"
    assert "already have an introduction" in page(client, url)
    response = client.post(url, data={"need": "", "message": "Again"})
    assert response.status_code == 400
    assert "Tick the box" in response.text
    assert count_rows(Introduction) == 1
    response = client.post(url, data={"need": "", "message": "Again", "confirm": "y"})
    assert response.status_code == 302
    assert count_rows(Introduction) == 2


def test_staff_review_and_approve_an_introduction_over_http(
    client: FlaskClient, pair: Pair, mailbox
) -> None:
    intro = walk_to(pair, S.REQUESTED, origin="buyer")
    log_in(client, pair.staff)
    html = page(client, f"/introductions/{intro.id}")
    assert "Take for review" in html
    client.post(f"/introductions/{intro.id}/review", data={"state": "requested"})
    assert intro.state == S.UNDER_REVIEW
    response = client.post(
        f"/introductions/{intro.id}/approve",
        data={"approve-state": "under_review", "approve-note": "Meet at the Hue expo."},
    )
    assert response.status_code == 302
    assert intro.state == S.APPROVED
    [ask] = mails(mailbox, pair.vendor_member, "your consent is needed")
    assert "Meet at the Hue expo." in mailbox.body(ask)
    assert mails(mailbox, pair.buyer_member, "was approved")


def test_staff_decline_of_an_introduction_over_http_needs_a_reason(
    client: FlaskClient, pair: Pair, mailbox
) -> None:
    intro = walk_to(pair, S.UNDER_REVIEW, origin="vendor")
    log_in(client, pair.staff)
    url = f"/introductions/{intro.id}/staff-decline"
    response = client.post(url, data={"staff-decline-state": "under_review"})
    assert response.status_code == 400
    assert "Give the reason" in response.text
    assert intro.state == S.UNDER_REVIEW
    client.post(
        url,
        data={
            "staff-decline-state": "under_review",
            "staff-decline-reason": "The need closed last week.",
            "staff-decline-private_reason": "Vendor sent three requests today.",
        },
    )
    assert intro.state == S.DECLINED
    [mail] = mails(mailbox, pair.vendor_member, "declined")
    assert "The need closed last week." in mailbox.body(mail)
    assert "three requests" not in mailbox.body(mail)
    log_in(client, pair.vendor_member)
    member_view = page(client, f"/introductions/{intro.id}")
    assert "The need closed last week." in member_view
    assert "three requests" not in member_view
    log_in(client, pair.staff)
    assert "three requests" in page(client, f"/introductions/{intro.id}")


def test_accepting_an_introduction_shares_contacts_and_mails_both_sides(
    client: FlaskClient, pair: Pair, mailbox
) -> None:
    intro = walk_to(pair, S.APPROVED, origin="vendor")
    log_in(client, pair.buyer_member)
    before = page(client, f"/introductions/{intro.id}")
    assert "Accept the introduction" in before
    assert pair.vendor_contact.email not in before
    assert pair.vendor_contact.email not in page(client, f"/vendors/{pair.vendor.ref}")

    response = client.post(f"/introductions/{intro.id}/accept", data={"state": "approved"})
    assert response.status_code == 302
    assert intro.state == S.INTRODUCED
    after = page(client, f"/introductions/{intro.id}")
    assert pair.vendor_contact.email in after and pair.vendor_contact.phone in after
    assert pair.vendor_contact.email in page(client, f"/vendors/{pair.vendor.ref}")
    for member in (pair.vendor_member, pair.buyer_member):
        [mail] = mails(mailbox, member, "You are introduced")
        body = mailbox.body(mail)
        for contact in (pair.vendor_contact, pair.buyer_contact):
            assert contact.email in body and contact.phone in body


def test_member_declines_an_introduction_with_a_private_reason(
    client: FlaskClient, pair: Pair, mailbox
) -> None:
    intro = walk_to(pair, S.APPROVED, origin="staff")
    log_in(client, pair.vendor_member)
    client.post(
        f"/introductions/{intro.id}/decline",
        data={"decline-state": "approved", "decline-private_reason": "Bad past experience."},
    )
    assert intro.state == S.DECLINED
    [told] = mails(mailbox, pair.buyer_member, "declined")
    assert "Bad past experience." not in mailbox.body(told)
    log_in(client, pair.buyer_member)
    assert "Bad past experience." not in page(client, f"/introductions/{intro.id}")


def test_log_introduction_outcomes_over_http(client: FlaskClient, pair: Pair) -> None:
    intro = walk_to(pair, S.INTRODUCED)
    log_in(client, pair.buyer_member)
    html = page(client, f"/introductions/{intro.id}")
    assert '<option value="meeting_held">' in html
    assert '<option value="won">' not in html  # no skipping ahead
    client.post(
        f"/introductions/{intro.id}/outcome",
        data={
            "outcome-state": "introduced",
            "outcome-outcome": "meeting_held",
            "outcome-note": "Site visit on the citadel walls.",
        },
    )
    assert intro.state == S.MEETING_HELD
    log_in(client, pair.vendor_member)
    assert "Site visit on the citadel walls." in page(client, f"/introductions/{intro.id}")


def test_staff_introductions_list_filters_by_state(client: FlaskClient, pair: Pair) -> None:
    walk_to(pair, S.REQUESTED)
    walk_to(pair, S.WON)
    log_in(client, pair.staff)
    everything = page(client, "/staff/introductions")
    assert everything.count("<tr>") == 3  # a header and two rows
    won = page(client, "/staff/introductions?state=won")
    assert won.count("<tr>") == 2 and ">Won<" in won
    unknown = page(client, "/staff/introductions?state=bogus")
    assert "Unknown state" in unknown and unknown.count("<tr>") == 3
    assert page(client, "/staff/introductions?page=99").count("<tr>") == 0
    assert client.get("/introductions").status_code == 302  # staff: to the staff list
    assert 'href="/staff/introductions"' in everything


def test_staff_propose_an_introduction_from_a_vendor_page(
    client: FlaskClient, pair: Pair, mailbox
) -> None:
    log_in(client, pair.staff)
    profile = page(client, f"/vendors/{pair.vendor.ref}")
    assert f"/staff/introductions/propose?vendor={pair.vendor.ref}" in profile
    form = page(client, f"/staff/introductions/propose?need={pair.need.ref}")
    assert f'value="{pair.buyer.ref}"' in form  # the buyer, from the need
    response = client.post(
        "/staff/introductions/propose",
        data={"vendor": "nope", "buyer": pair.buyer.ref, "need": ""},
    )
    assert response.status_code == 400 and "No vendor has this reference" in response.text
    response = client.post(
        "/staff/introductions/propose",
        data={
            "vendor": pair.vendor.ref,
            "buyer": pair.buyer.ref,
            "need": pair.need.ref,
            "note": "Both of you do lighting.",
        },
    )
    assert response.status_code == 302
    intro = Introduction.query.one()
    assert intro.state == S.APPROVED and intro.requested_by_side == "staff"
    for member in (pair.vendor_member, pair.buyer_member):
        [mail] = mailbox.to(member.email)
        assert "your consent is needed" in mail["Subject"]
        assert "Both of you do lighting." in mailbox.body(mail)
    # proposing the same pair again warns first
    response = client.post(
        "/staff/introductions/propose", data={"vendor": pair.vendor.ref, "buyer": pair.buyer.ref}
    )
    assert response.status_code == 400 and "Tick the box" in response.text


def test_introduction_buttons_on_profiles_and_leads(client: FlaskClient, pair: Pair) -> None:
    vendor_page = f"/vendors/{pair.vendor.ref}"
    assert "Request an introduction" not in page(client, vendor_page)  # anonymous
    log_in(client, pair.buyer_member)
    assert f"/introductions/new?with={pair.vendor.ref}" in page(client, vendor_page)
    log_in(client, pair.outsider)  # a vendor on another vendor's page: nothing to ask
    assert "Request an introduction" not in page(client, vendor_page)
    assert f"/introductions/new?with={pair.buyer.ref}" in page(client, f"/buyers/{pair.buyer.ref}")


def test_introduction_audit_trail_exports_as_csv(
    client: FlaskClient, runner, pair: Pair, tmp_path
) -> None:
    intro = walk_to(pair, S.DECLINED, origin="vendor")
    other = walk_to(pair, S.REQUESTED, origin="buyer")
    log_in(client, pair.staff)
    response = client.get(f"/staff/introductions/audit.csv?introduction={intro.id}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["to_state"] for r in rows] == ["requested", "under_review", "declined"]
    assert {r["introduction_id"] for r in rows} == {str(intro.id)}
    assert rows[0]["actor_email"] == pair.vendor_member.email
    assert client.get("/staff/introductions/audit.csv?introduction=x").status_code == 404

    out = tmp_path / "audit.csv"
    result = runner.invoke(args=["introductions", "audit-export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    assert {r["introduction_id"] for r in exported} == {str(intro.id), str(other.id)}
    assert len(exported) == count_rows(IntroductionEvent)


def test_introduction_csv_cells_never_start_a_formula(pair: Pair) -> None:
    intro = walk_to(pair, S.UNDER_REVIEW)
    services.add_note(intro, pair.staff, '=HYPERLINK("http://evil")')
    [row] = [r for r in audit.audit_rows(intro) if r["kind"] == "note"]
    assert row["note"].startswith("'=")


def test_a_members_name_reaches_the_other_side_only_once_they_are_introduced(
    client: FlaskClient, pair: Pair
) -> None:
    """Regression: the history showed the requesting member's full name to the other side
    before the introduction, when the name is as private as the contacts."""
    intro = walk_to(pair, S.APPROVED, origin="vendor")
    name = pair.vendor_member.full_name
    for url in (f"/introductions/{intro.id}", "/introductions"):
        log_in(client, pair.buyer_member)
        html = page(client, url)
        assert name not in html, url
        assert f"{pair.vendor.name} (vendor)" in html
        log_in(client, pair.vendor_member)  # their own side sees their own names
        assert name in page(client, url)
    log_in(client, pair.staff)
    assert name in page(client, f"/introductions/{intro.id}")

    services.accept(intro, pair.buyer_member)  # both sides accepted: introduced
    db.session.commit()
    log_in(client, pair.buyer_member)
    assert name in page(client, f"/introductions/{intro.id}")
