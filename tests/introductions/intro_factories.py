"""Two organizations, their people and a need, and introductions walked to any state.

Imported as ``introductions.intro_factories`` (``tests/`` is on ``sys.path``). Introductions
are always made through the services, so a test in state X got there the way users do.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from functools import cached_property

from organizations.directory_factories import PASSWORD, make_contact, make_need, make_org

from portal.accounts.models import Role, User
from portal.accounts.services import hash_password
from portal.db import utc_now
from portal.extensions import db
from portal.introductions import services
from portal.introductions.models import Introduction, IntroState
from portal.needs.models import Need
from portal.organizations.models import Contact, Organization, OrganizationKind

S = IntroState
_serial = itertools.count(1)
_password_hash: list[str] = []


def make_person(role: Role, organization: Organization | None = None) -> User:
    """A confirmed user who can log in with ``PASSWORD``. The Argon2 hash is computed once
    per run and shared: these tests make many people, and each hash takes about a second."""
    if not _password_hash:
        _password_hash.append(hash_password(PASSWORD))
    serial = next(_serial)
    user = User(
        email=f"intro-person{serial}@example.org",
        full_name=f"{role.title()} Person {serial}",
        password_hash=_password_hash[0],
        role=role,
        organization_id=organization.id if organization else None,
        email_confirmed_at=utc_now(),
    )
    db.session.add(user)
    db.session.commit()
    return user


def make_member(organization: Organization) -> User:
    return make_person(Role.VENDOR if organization.is_vendor else Role.BUYER, organization)


@dataclass
class Pair:
    """A vendor and a buyer with one contact each, a public need, and their people."""

    vendor: Organization
    buyer: Organization
    need: Need
    vendor_contact: Contact
    buyer_contact: Contact

    @cached_property
    def vendor_member(self) -> User:
        return make_member(self.vendor)

    @cached_property
    def buyer_member(self) -> User:
        return make_member(self.buyer)

    @cached_property
    def staff(self) -> User:
        return make_person(Role.STAFF)

    @cached_property
    def admin(self) -> User:
        return make_person(Role.ADMIN)

    @cached_property
    def outsider(self) -> User:
        """A member of an unrelated, verified vendor."""
        return make_member(make_org(OrganizationKind.VENDOR, "Unrelated Vendor"))

    def member(self, side: str) -> User:
        return self.vendor_member if side == "vendor" else self.buyer_member


def make_pair() -> Pair:
    vendor = make_org(OrganizationKind.VENDOR, "Lumen Grid Inc", city="Austin")
    buyer = make_org(OrganizationKind.BUYER, "Hue City Lighting Board", city="Hue")
    return Pair(
        vendor=vendor,
        buyer=buyer,
        need=make_need(buyer, "Smart street lighting for the citadel"),
        vendor_contact=make_contact(
            vendor, "Vera Volt", "vera.volt@lumengrid.example", "+1 512 555 0142"
        ),
        buyer_contact=make_contact(
            buyer, "Bui Minh", "minh.bui@hue-lighting.example", "+84 234 555 0107"
        ),
    )


# How to reach each state from a fresh request, through the services.
def walk_to(pair: Pair, state: IntroState, *, origin: str = "vendor") -> Introduction:
    """An introduction between ``pair`` in ``state``, committed.

    ``origin`` is 'vendor' or 'buyer' (a member asked) or 'staff' (staff proposed). The
    state 'accepted' only rests when staff proposed (a member's request carries its own
    side's consent), so it forces ``origin='staff'``.
    """
    if state == S.ACCEPTED:
        origin = "staff"
    if origin == "staff":
        intro = services.propose_introduction(
            pair.staff,
            vendor=pair.vendor,
            buyer=pair.buyer,
            need=pair.need,
            note="Meet up.",
            confirm_duplicate=True,
        )
    else:
        intro = services.request_introduction(
            pair.member(origin),
            vendor=pair.vendor,
            buyer=pair.buyer,
            need=pair.need,
            message="We would like to meet.",
            confirm_duplicate=True,
        )
    other = "buyer" if origin == "vendor" else "vendor"
    steps: list = []
    if origin != "staff":
        steps += [
            (S.UNDER_REVIEW, lambda: services.take_for_review(intro, pair.staff)),
            (S.APPROVED, lambda: services.approve(intro, pair.staff, note="Go ahead.")),
        ]
        steps.append((S.INTRODUCED, lambda: services.accept(intro, pair.member(other))))
    else:
        steps.append((S.ACCEPTED, lambda: services.accept(intro, pair.vendor_member)))
        steps.append((S.INTRODUCED, lambda: services.accept(intro, pair.buyer_member)))
    outcomes = [S.MEETING_HELD, S.PROPOSAL_SUBMITTED, S.WON]
    detours = {
        S.DECLINED: (S.UNDER_REVIEW, lambda: services.decline(intro, pair.staff, reason="No.")),
        S.WITHDRAWN: (S.REQUESTED, lambda: services.withdraw(intro, pair.member(origin))),
        S.EXPIRED: (
            S.REQUESTED,
            lambda: services.transition(intro, S.EXPIRED, None),
        ),
        S.STALLED: (S.INTRODUCED, lambda: services.log_outcome(intro, pair.staff, S.STALLED)),
        S.LOST: (
            S.PROPOSAL_SUBMITTED,
            lambda: services.log_outcome(intro, pair.buyer_member, S.LOST),
        ),
    }
    if origin == "staff":
        detours[S.DECLINED] = (
            S.APPROVED,
            lambda: services.decline(intro, pair.buyer_member, private_reason="Not now."),
        )
        detours[S.WITHDRAWN] = (S.APPROVED, lambda: services.withdraw(intro, pair.vendor_member))
        detours[S.EXPIRED] = (S.APPROVED, detours[S.EXPIRED][1])
    for outcome in outcomes:
        steps.append(
            (outcome, lambda o=outcome: services.log_outcome(intro, pair.vendor_member, o))
        )
    target, detour = (state, None)
    if state in detours:
        target, detour = detours[state]
    for _, step in steps:
        if intro.state == target:
            break
        step()
    if detour is not None:
        detour()
    db.session.commit()
    assert intro.state == state, (intro.state, state)
    return intro


def days_ago(days: float) -> dt.datetime:
    return utc_now() - dt.timedelta(days=days)
