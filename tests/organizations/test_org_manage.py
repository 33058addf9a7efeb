"""Members managing their own organization: profile, capabilities, contacts, permissions."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from organizations.directory_factories import (
    count_rows,
    log_in,
    make_contact,
    make_member,
    make_org,
    make_user,
)

from portal.accounts.models import Role
from portal.extensions import db
from portal.mail.services import deliver_pending
from portal.organizations.models import (
    Capability,
    Contact,
    Organization,
    OrganizationKind,
    VerificationStatus,
)
from portal.organizations.services import add_capability, verify_organization

VENDOR = OrganizationKind.VENDOR
BUYER = OrganizationKind.BUYER


def _reload(organization: Organization) -> Organization:
    db.session.expire_all()
    return db.session.get(Organization, organization.id)  # type: ignore[return-value]


def test_my_organization_needs_login(client: FlaskClient) -> None:
    response = client.get("/organization")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_my_organization_shows_status_reason_and_private_contacts(client: FlaskClient) -> None:
    vendor = make_org(VENDOR, "Rejected Vendor", verified=False)
    vendor.status = VerificationStatus.REJECTED
    vendor.rejection_reason = "Website does not work"
    make_contact(vendor, email="own.contact@private.example")
    log_in(client, make_member(vendor))

    html = client.get("/organization").get_data(as_text=True)

    assert "Rejected Vendor" in html
    assert "rejected" in html and "Website does not work" in html
    assert "own.contact@private.example" in html


def test_staff_without_organization_get_404_on_my_organization(client: FlaskClient) -> None:
    log_in(client, make_user(Role.STAFF))
    assert client.get("/organization").status_code == 404


def test_edit_own_profile_saves_and_redirects(client: FlaskClient) -> None:
    vendor = make_org(VENDOR, "Old Name")
    log_in(client, make_member(vendor))

    assert (
        client.get("/organization/edit")
        .headers["Location"]
        .endswith(f"/organizations/{vendor.ref}/edit")
    )
    form = client.get(f"/organizations/{vendor.ref}/edit")
    assert form.status_code == 200 and 'value="Old Name"' in form.get_data(as_text=True)
    response = client.post(
        f"/organizations/{vendor.ref}/edit",
        data={
            "name": "New Name",
            "city": "Denver",
            "website": "https://new.example",
            "summary": "We build grids.",
            "sectors": ["energy", "water"],
            "markets": ["VN", "SG"],
            "version": vendor.version,  # the version the form was opened on
        },
    )

    assert response.status_code == 302
    vendor = _reload(vendor)
    assert vendor.name == "New Name" and vendor.city == "Denver"
    assert vendor.sectors == ["energy", "water"] and vendor.markets == ["VN", "SG"]
    assert vendor.country == "US"
    assert vendor.status == VerificationStatus.VERIFIED


def test_buyer_profile_has_a_country_not_markets(client: FlaskClient) -> None:
    buyer = make_org(BUYER, "Da Nang DOST", country="VN")
    log_in(client, make_member(buyer))

    page = client.get(f"/organizations/{buyer.ref}/edit").get_data(as_text=True)
    client.post(
        f"/organizations/{buyer.ref}/edit",
        data={"name": "Da Nang DOST", "country": "TH", "markets": ["SG"], "version": 1},
    )

    assert 'name="country"' in page and 'name="markets"' not in page
    buyer = _reload(buyer)
    assert buyer.country == "TH" and buyer.markets == []


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"name": ""}, "This field is required."),
        ({"name": "X", "website": "not a url"}, "starting with http"),
        ({"name": "X", "sectors": ["teleportation"]}, "is not a valid choice"),
        ({"name": "X" * 201}, "Field cannot be longer than 200 characters."),
    ],
)
def test_profile_errors_beside_fields_and_nothing_saved(
    client: FlaskClient, data: dict[str, object], field_error: str
) -> None:
    vendor = make_org(VENDOR, "Unchanged")
    log_in(client, make_member(vendor))

    response = client.post(f"/organizations/{vendor.ref}/edit", data=data)

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert field_error in html and 'class="errors"' in html
    assert _reload(vendor).name == "Unchanged"


def test_editing_a_rejected_organization_sends_it_back_for_review(client: FlaskClient) -> None:
    vendor = make_org(VENDOR, "Try Again", verified=False)
    vendor.status = VerificationStatus.REJECTED
    db.session.commit()
    log_in(client, make_member(vendor))

    client.post(f"/organizations/{vendor.ref}/edit", data={"name": "Try Again Inc", "version": 1})

    assert _reload(vendor).status == VerificationStatus.PENDING


def test_capability_add_edit_delete(client: FlaskClient) -> None:
    vendor = make_org(VENDOR, "Capable")
    log_in(client, make_member(vendor))

    added = client.post(
        f"/organizations/{vendor.ref}/capabilities/new",
        data={"title": "Smart meters", "description": "AMI rollout", "sectors": ["energy"]},
    )
    capability = db.session.scalars(db.select(Capability)).one()
    edited = client.post(
        f"/organizations/{vendor.ref}/capabilities/{capability.id}/edit",
        data={"title": "Smart water meters", "sectors": ["water"], "version": 1},
    )
    db.session.expire_all()
    assert (capability.title, capability.sectors) == ("Smart water meters", ["water"])
    page = client.get("/organization").get_data(as_text=True)
    deleted = client.post(f"/organizations/{vendor.ref}/capabilities/{capability.id}/delete")

    assert added.status_code == edited.status_code == deleted.status_code == 302
    assert "Smart water meters" in page
    assert count_rows(Capability) == 0


def test_capability_title_required(client: FlaskClient) -> None:
    vendor = make_org(VENDOR, "Capable")
    log_in(client, make_member(vendor))

    response = client.post(f"/organizations/{vendor.ref}/capabilities/new", data={"title": ""})

    assert response.status_code == 400
    assert "This field is required." in response.get_data(as_text=True)
    assert count_rows(Capability) == 0


def test_contact_add_edit_delete_and_email_validation(client: FlaskClient) -> None:
    buyer = make_org(BUYER, "Contactable")
    log_in(client, make_member(buyer))

    bad = client.post(
        f"/organizations/{buyer.ref}/contacts/new", data={"name": "Mai", "email": "not-an-email"}
    )
    assert bad.status_code == 400
    assert "Invalid email address." in bad.get_data(as_text=True)
    assert count_rows(Contact) == 0

    client.post(
        f"/organizations/{buyer.ref}/contacts/new",
        data={"name": "Mai", "email": "mai@city.example", "phone": "+84 1", "title": "Director"},
    )
    contact = db.session.scalars(db.select(Contact)).one()
    client.post(
        f"/organizations/{buyer.ref}/contacts/{contact.id}/edit",
        data={
            "name": "Mai Nguyen",
            "email": "mai.nguyen@city.example",
            "phone": "",
            "title": "",
            "version": 1,
        },
    )
    db.session.expire_all()
    assert (contact.name, contact.email, contact.phone) == (
        "Mai Nguyen",
        "mai.nguyen@city.example",
        "",
    )
    client.post(f"/organizations/{buyer.ref}/contacts/{contact.id}/delete")
    assert count_rows(Contact) == 0


def test_members_of_another_organization_cannot_change_anything(client: FlaskClient) -> None:
    victim = make_org(VENDOR, "Victim Vendor")
    add_capability(victim, title="Original capability")
    contact = make_contact(victim, name="Original Contact")
    capability = victim.capabilities[0]
    attacker_org = make_org(VENDOR, "Attacker Vendor")
    log_in(client, make_member(attacker_org))

    refused = [
        client.post(f"/organizations/{victim.ref}/edit", data={"name": "Owned"}),
        client.get(f"/organizations/{victim.ref}/edit"),
        client.post(f"/organizations/{victim.ref}/capabilities/new", data={"title": "Spam"}),
        client.post(
            f"/organizations/{victim.ref}/capabilities/{capability.id}/edit",
            data={"title": "Owned"},
        ),
        client.post(f"/organizations/{victim.ref}/capabilities/{capability.id}/delete"),
        client.post(f"/organizations/{victim.ref}/contacts/new", data={"name": "Spy"}),
        client.post(
            f"/organizations/{victim.ref}/contacts/{contact.id}/edit", data={"name": "Owned"}
        ),
        client.post(f"/organizations/{victim.ref}/contacts/{contact.id}/delete"),
        # their own ref with the victim's ids: not found
        client.post(
            f"/organizations/{attacker_org.ref}/capabilities/{capability.id}/edit",
            data={"title": "Owned"},
        ),
        client.post(f"/organizations/{attacker_org.ref}/capabilities/{capability.id}/delete"),
        client.post(
            f"/organizations/{attacker_org.ref}/contacts/{contact.id}/edit",
            data={"name": "Owned"},
        ),
        client.post(f"/organizations/{attacker_org.ref}/contacts/{contact.id}/delete"),
    ]

    assert [r.status_code for r in refused] == [403] * 8 + [404] * 4
    db.session.expire_all()
    victim = _reload(victim)
    assert victim.name == "Victim Vendor"
    assert [c.title for c in victim.capabilities] == ["Original capability"]
    assert [c.name for c in victim.contacts] == ["Original Contact"]


def test_anonymous_users_are_sent_to_login(client: FlaskClient) -> None:
    vendor = make_org(VENDOR, "Vendor")
    response = client.post(f"/organizations/{vendor.ref}/edit", data={"name": "Owned"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _reload(vendor).name == "Vendor"


def test_staff_can_edit_any_organization(app: Flask, client: FlaskClient) -> None:
    vendor = make_org(VENDOR, "Needs A Fix")
    log_in(client, make_user(Role.STAFF))

    response = client.post(
        f"/organizations/{vendor.ref}/edit", data={"name": "Fixed By Staff", "version": 1}
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/vendors/{vendor.ref}")
    assert _reload(vendor).name == "Fixed By Staff"


def test_line_breaks_in_names_are_folded_and_the_mail_about_them_goes(
    client: FlaskClient, mailbox
) -> None:
    """Regression: a name with a line break went into a mail subject and stopped all mail."""
    vendor = make_org(VENDOR, "Old Name", verified=False)
    log_in(client, make_member(vendor))

    response = client.post(
        f"/organizations/{vendor.ref}/edit",
        data={"name": "Acme\r\nBcc: victim@example.org", "city": "Austin\nTX", "version": 1},
    )
    capability = client.post(
        f"/organizations/{vendor.ref}/capabilities/new", data={"title": "Smart\npoles"}
    )

    assert response.status_code == 302 and capability.status_code == 302
    vendor = _reload(vendor)
    assert (vendor.name, vendor.city) == ("Acme Bcc: victim@example.org", "Austin TX")
    assert [c.title for c in vendor.capabilities] == ["Smart poles"]
    verify_organization(vendor, make_user(Role.STAFF))
    db.session.commit()
    assert deliver_pending().failed == 0
    [mail] = mailbox.messages
    assert mail["Subject"] == "Acme Bcc: victim@example.org is verified"
    assert mail["Bcc"] is None
