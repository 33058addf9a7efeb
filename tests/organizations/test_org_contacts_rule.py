"""``visible_contacts``: the one rule for who reads an organization's contacts."""

from __future__ import annotations

from flask import Flask
from flask_login import AnonymousUserMixin
from organizations.directory_factories import make_contact, make_member, make_org, make_user

from portal.accounts.models import Role
from portal.organizations.models import OrganizationKind
from portal.organizations.services import visible_contacts


def test_visible_contacts_by_viewer(app: Flask) -> None:
    vendor = make_org(OrganizationKind.VENDOR, "Private Vendor")
    contact = make_contact(vendor)
    other_org_member = make_member(make_org(OrganizationKind.BUYER, "Other Buyer"))

    assert visible_contacts(vendor, AnonymousUserMixin()) == []
    assert visible_contacts(vendor, None) == []
    assert visible_contacts(vendor, other_org_member) == []
    assert visible_contacts(vendor, make_member(vendor)) == [contact]
    assert visible_contacts(vendor, make_user(Role.STAFF)) == [contact]
    assert visible_contacts(vendor, make_user(Role.ADMIN)) == [contact]


def test_staff_without_organization_is_not_a_member_of_orgless_records(app: Flask) -> None:
    vendor = make_org(OrganizationKind.VENDOR, "Vendor")
    make_contact(vendor)
    orgless_vendor_user = make_user(Role.VENDOR)  # a vendor account with no organization

    assert visible_contacts(vendor, orgless_vendor_user) == []
