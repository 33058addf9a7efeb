"""Contacts stay private until both sides agree: every role, every state of an introduction.

The rule lives in ``visible_contacts``; these tests ask it directly and through the pages
(the profiles and the introduction page), so a template cannot show more than it allows.
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_login import AnonymousUserMixin
from introductions.intro_factories import make_pair, walk_to
from organizations.directory_factories import log_in

from portal.introductions.models import CONTACT_SHARING_STATES, IntroState
from portal.organizations.services import visible_contacts


@pytest.mark.parametrize("state", list(IntroState), ids=str)
def test_contacts_by_role_and_introduction_state(
    app: Flask, client: FlaskClient, state: IntroState
) -> None:
    pair = make_pair()
    intro = walk_to(pair, state)
    shared = state in CONTACT_SHARING_STATES
    vendor_contacts, buyer_contacts = [pair.vendor_contact], [pair.buyer_contact]

    # the rule itself: (viewer, sees the vendor's contacts, sees the buyer's contacts)
    expectations = {
        "anonymous": (AnonymousUserMixin(), False, False),
        "vendor member": (pair.vendor_member, True, shared),
        "buyer member": (pair.buyer_member, shared, True),
        "unrelated member": (pair.outsider, False, False),
        "staff": (pair.staff, True, True),
        "admin": (pair.admin, True, True),
    }
    for role, (viewer, sees_vendor, sees_buyer) in expectations.items():
        assert visible_contacts(pair.vendor, viewer) == (vendor_contacts if sees_vendor else []), (
            role
        )
        assert visible_contacts(pair.buyer, viewer) == (buyer_contacts if sees_buyer else []), role

    # the pages: the other side's profile, and the introduction page when one may see it
    vendor_profile = f"/vendors/{pair.vendor.ref}"
    buyer_profile = f"/buyers/{pair.buyer.ref}"
    assert pair.vendor_contact.email not in client.get(vendor_profile).text  # anonymous
    log_in(client, pair.buyer_member)
    assert (pair.vendor_contact.email in client.get(vendor_profile).text) == shared
    assert (pair.vendor_contact.phone in client.get(vendor_profile).text) == shared
    response = client.get(f"/introductions/{intro.id}")
    if response.status_code == 200:
        assert (pair.vendor_contact.email in response.text) == shared
    log_in(client, pair.vendor_member)
    assert (pair.buyer_contact.email in client.get(buyer_profile).text) == shared
    log_in(client, pair.outsider)
    for url in (vendor_profile, buyer_profile):
        text = client.get(url).text
        assert pair.vendor_contact.email not in text
        assert pair.buyer_contact.email not in text


def test_introduced_contacts_stay_between_the_two_organizations(app: Flask) -> None:
    """An introduction of vendor V to buyer B shows B's contacts to V, and to nobody at
    another buyer that V was never introduced to."""
    first = make_pair()
    walk_to(first, IntroState.INTRODUCED)
    second = make_pair()  # another vendor and buyer, never introduced to the first pair
    assert visible_contacts(second.buyer, first.vendor_member) == []
    assert visible_contacts(first.buyer, second.vendor_member) == []
    assert visible_contacts(first.buyer, first.vendor_member) == [first.buyer_contact]
