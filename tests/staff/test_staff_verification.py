"""The staff verification queue: who sees it, approving, rejecting, the mails sent."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from organizations.directory_factories import count_rows, log_in, make_member, make_org, make_user

from portal.accounts.models import Role
from portal.extensions import db
from portal.organizations.models import (
    Organization,
    OrganizationKind,
    OrganizationReview,
    VerificationStatus,
)
from portal.staff.services import (
    OrganizationError,
    pending_organizations,
    reject_organization,
    verify_organization,
)

VENDOR = OrganizationKind.VENDOR
BUYER = OrganizationKind.BUYER


def _reload(organization: Organization) -> Organization:
    db.session.expire_all()
    return db.session.get(Organization, organization.id)  # type: ignore[return-value]


def test_queue_is_for_staff_and_admins_only(client: FlaskClient) -> None:
    anonymous = client.get("/staff/verification")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    for role in (Role.VENDOR, Role.BUYER):
        log_in(client, make_user(role))
        assert client.get("/staff/verification").status_code == 403
    for role in (Role.STAFF, Role.ADMIN):
        log_in(client, make_user(role))
        assert client.get("/staff/verification").status_code == 200


def test_queue_lists_pending_oldest_first_with_members(client: FlaskClient) -> None:
    first = make_org(VENDOR, "First Pending", verified=False, website="https://first.example")
    make_org(BUYER, "Second Pending", verified=False)
    make_org(VENDOR, "Already Verified")
    member = make_member(first)
    log_in(client, make_user(Role.STAFF))

    html = client.get("/staff/verification").get_data(as_text=True)

    assert html.index("First Pending") < html.index("Second Pending")
    assert "Already Verified" not in html
    assert member.email in html and "https://first.example" in html
    assert [o.name for o in pending_organizations()] == ["First Pending", "Second Pending"]


def test_approve_publishes_records_and_mails_every_member(
    client: FlaskClient, mailbox: Any
) -> None:
    vendor = make_org(VENDOR, "Approve Me", verified=False)
    members = [make_member(vendor), make_member(vendor)]
    staff = make_user(Role.STAFF)
    log_in(client, staff)

    response = client.post(f"/staff/verification/{vendor.ref}/approve", follow_redirects=True)

    assert "Approve Me is verified" in response.get_data(as_text=True)
    vendor = _reload(vendor)
    assert vendor.status == VerificationStatus.VERIFIED and vendor.verified_at is not None
    review = db.session.scalars(db.select(OrganizationReview)).one()
    assert (review.reviewer_id, review.decision, review.reason) == (staff.id, "verified", "")
    assert sorted(m["To"] for m in mailbox.messages) == sorted(m.email for m in members)
    body = mailbox.body(mailbox.messages[0])
    assert "Approve Me" in body and "http://localhost/organization" in body
    assert client.get(f"/vendors/{vendor.ref}").status_code == 200  # now public
    log_in(client, staff)
    history = client.get(f"/vendors/{vendor.ref}").get_data(as_text=True)
    assert "Verification history" in history and "status-verified" in history


def test_reject_needs_a_reason_beside_the_field(client: FlaskClient, mailbox: Any) -> None:
    buyer = make_org(BUYER, "Reject Me", verified=False)
    make_member(buyer)
    log_in(client, make_user(Role.ADMIN))

    response = client.post(f"/staff/verification/{buyer.ref}/reject", data={"reason": "  "})

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'id="reason-{buyer.id}-error"' in html
    assert "Give the reason" in html
    assert _reload(buyer).status == VerificationStatus.PENDING
    assert count_rows(OrganizationReview) == 0
    assert mailbox.messages == []


def test_reject_records_the_reason_and_mails_it(client: FlaskClient, mailbox: Any) -> None:
    buyer = make_org(BUYER, "Reject Me", verified=False)
    member = make_member(buyer)
    log_in(client, make_user(Role.STAFF))

    client.post(
        f"/staff/verification/{buyer.ref}/reject",
        data={"reason": "We could not confirm this is a city agency."},
    )

    buyer = _reload(buyer)
    assert buyer.status == VerificationStatus.REJECTED
    assert buyer.rejection_reason == "We could not confirm this is a city agency."
    review = db.session.scalars(db.select(OrganizationReview)).one()
    assert (review.decision, review.reason) == ("rejected", buyer.rejection_reason)
    [message] = mailbox.to(member.email)
    assert "We could not confirm this is a city agency." in mailbox.body(message)
    log_in(client, member)
    page = client.get("/organization").get_data(as_text=True)
    assert "We could not confirm this is a city agency." in page


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_deciding_twice_changes_nothing(client: FlaskClient, mailbox: Any, action: str) -> None:
    vendor = make_org(VENDOR, "Decided Already")  # verified
    make_member(vendor)
    log_in(client, make_user(Role.STAFF))

    response = client.post(
        f"/staff/verification/{vendor.ref}/{action}",
        data={"reason": "Too late"},
        follow_redirects=True,
    )

    assert response.status_code == 200
    assert "Nothing changed" in response.get_data(as_text=True)
    assert "no longer pending" in response.get_data(as_text=True)
    assert _reload(vendor).status == VerificationStatus.VERIFIED
    assert count_rows(OrganizationReview) == 0
    assert mailbox.messages == []


def test_members_cannot_decide(client: FlaskClient) -> None:
    vendor = make_org(VENDOR, "Self Approver", verified=False)
    log_in(client, make_member(vendor))

    assert client.post(f"/staff/verification/{vendor.ref}/approve").status_code == 403
    assert _reload(vendor).status == VerificationStatus.PENDING


def test_services_refuse_non_staff_and_empty_reasons(app: Flask) -> None:
    vendor = make_org(VENDOR, "Service Level", verified=False)
    member = make_member(vendor)
    staff = make_user(Role.STAFF)

    with pytest.raises(OrganizationError, match="only trade staff"):
        verify_organization(vendor, member)
    with pytest.raises(OrganizationError, match="reason"):
        reject_organization(vendor, staff, "")
    reject_organization(vendor, staff, "Incomplete profile")
    with pytest.raises(OrganizationError, match="no longer pending"):
        verify_organization(vendor, staff)
    assert vendor.status == VerificationStatus.REJECTED
