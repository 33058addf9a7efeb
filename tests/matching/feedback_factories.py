"""A small market for the lead feedback tests: cities with needs, vendors, and people.

Imported as ``matching.feedback_factories`` (``tests/`` is on ``sys.path``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from functools import cached_property

from flask.testing import FlaskClient

from portal.accounts.models import Role, User
from portal.accounts.services import create_user
from portal.db import utc_now, utc_today
from portal.extensions import db
from portal.needs.models import Need, NeedStatus
from portal.organizations.models import (
    Capability,
    Organization,
    OrganizationKind,
    VerificationStatus,
)

PASSWORD = "correct horse battery"
_serial = itertools.count(1)

LIGHTING = (
    "LED streetlight retrofit",
    "Luminaires with dimming, fault reporting and a central management system that cuts "
    "the energy bill of street lamps.",
)
LEAKS = (
    "Acoustic leak correlation",
    "Finds hidden leaks in distribution mains; non-revenue water audits and district "
    "metered areas.",
)
LAMPS_TEXT = (
    "The street lamps along the river are failing one by one and the electricity bill for "
    "street lighting grows every month."
)


def organization(
    kind: OrganizationKind,
    name: str,
    *,
    country: str,
    sectors: list[str] | None = None,
    markets: list[str] | None = None,
    capabilities: list[tuple[str, str]] = (),  # type: ignore[assignment]
    verified: bool = True,
    commit: bool = True,
) -> Organization:
    org = Organization(
        ref=f"{name.lower().replace(' ', '-')}-{next(_serial)}",
        kind=kind,
        name=name,
        country=country,
        sectors=sectors or [],
        markets=markets or [],
        status=VerificationStatus.VERIFIED if verified else VerificationStatus.PENDING,
        verified_at=utc_now() if verified else None,
    )
    for i, (title, description) in enumerate(capabilities):
        org.capabilities.append(Capability(title=title, description=description, position=i))
    db.session.add(org)
    _save(commit)
    return org


def need(
    buyer: Organization,
    title: str,
    description: str = LAMPS_TEXT,
    *,
    sectors: list[str] | None = None,
    budget_min: int | None = None,
    budget_max: int | None = None,
    status: NeedStatus = NeedStatus.OPEN,
    closes_on: dt.date | None = None,
    commit: bool = True,
) -> Need:
    row = Need(
        ref=f"need-{next(_serial)}",
        buyer=buyer,
        title=title,
        description=description,
        sectors=sectors if sectors is not None else ["energy"],
        budget_min=budget_min,
        budget_max=budget_max,
        status=status,
        closes_on=closes_on,
    )
    db.session.add(row)
    _save(commit)
    return row


def _save(commit: bool) -> None:
    # Every commit also updates the search index; a market is built with one commit.
    if commit:
        db.session.commit()
    else:
        db.session.flush()


def member(org: Organization | None, role: Role | None = None, *, commit: bool = True) -> User:
    if role is None:
        assert org is not None
        role = Role.VENDOR if org.is_vendor else Role.BUYER
    user = create_user(
        f"person{next(_serial)}@example.org",
        PASSWORD,
        role,
        full_name=f"{role.title()} Person",
        organization_id=org.id if org else None,
        email_confirmed=True,
    )
    _save(commit)
    return user


def log_in(client: FlaskClient, user: User) -> None:
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.text


@dataclass
class Market:
    danang: Organization  # a buyer in Viet Nam
    cebu: Organization  # another buyer, in the Philippines
    lamps: Need  # Da Nang's open lighting need
    old_quarter: Need  # Da Nang's second lighting need
    water: Need  # Da Nang's water need
    cebu_lamps: Need  # Cebu's lighting need
    closed: Need
    awarded: Need
    expired: Need
    lumenark: Organization  # lighting vendor, serves VN
    brightpath: Organization  # another lighting vendor
    aquasonic: Organization  # water vendor
    pending: Organization  # unverified lighting vendor

    # People are made when a test first asks for them: hashing a password takes a while.
    @cached_property
    def buyer_member(self) -> User:
        return member(self.danang)

    @cached_property
    def cebu_member(self) -> User:
        return member(self.cebu)

    @cached_property
    def vendor_member(self) -> User:  # of Lumenark
        return member(self.lumenark)

    @cached_property
    def aquasonic_member(self) -> User:
        return member(self.aquasonic)

    @cached_property
    def staff(self) -> User:
        return member(None, Role.STAFF)


def build_market() -> Market:
    danang = organization(
        OrganizationKind.BUYER, "Da Nang Lighting Office", country="VN", commit=False
    )
    cebu = organization(OrganizationKind.BUYER, "Cebu City Utilities", country="PH", commit=False)
    lumenark = organization(
        OrganizationKind.VENDOR,
        "Lumenark Lighting",
        country="US",
        sectors=["energy"],
        markets=["VN"],
        capabilities=[LIGHTING],
        commit=False,
    )
    brightpath = organization(
        OrganizationKind.VENDOR,
        "Brightpath Streetlights",
        country="US",
        sectors=["energy"],
        capabilities=[("Street lamp repair", "Street lamps and poles, fault reporting.")],
        commit=False,
    )
    aquasonic = organization(
        OrganizationKind.VENDOR,
        "Aquasonic",
        country="US",
        sectors=["water"],
        markets=["PH"],
        capabilities=[LEAKS],
        commit=False,
    )
    pending = organization(
        OrganizationKind.VENDOR,
        "Unverified Lamps",
        country="US",
        sectors=["energy"],
        markets=["VN"],
        capabilities=[LIGHTING],
        verified=False,
        commit=False,
    )
    water_text = "Our mains leak: half the water is lost before it reaches a tap."
    flush_only = {"commit": False}
    market = Market(
        danang=danang,
        cebu=cebu,
        lamps=need(
            danang, "Dark riverside streets", budget_min=200_000, budget_max=500_000, **flush_only
        ),
        old_quarter=need(danang, "Failing street lamps in the old quarter", **flush_only),
        water=need(danang, "Leaking water mains", water_text, sectors=["water"], **flush_only),
        cebu_lamps=need(cebu, "Street lamps for the Cebu ring road", **flush_only),
        closed=need(danang, "Closed lamp tender", status=NeedStatus.CLOSED, **flush_only),
        awarded=need(danang, "Awarded lamp tender", status=NeedStatus.AWARDED, **flush_only),
        expired=need(
            danang,
            "Expired lamp tender",
            closes_on=utc_today() - dt.timedelta(days=1),
            **flush_only,
        ),
        lumenark=lumenark,
        brightpath=brightpath,
        aquasonic=aquasonic,
        pending=pending,
    )
    db.session.commit()
    return market
