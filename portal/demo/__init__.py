"""Demo data and demo logins, so that a newcomer sees a living portal in one command.

``demo.jsonl`` is fictional: invented organizations, people and problems, with
example.com / example.org addresses. The passwords below are fixed and published on
purpose; they are for a laptop or a test portal only, never production.

Beside the directory, the demo gives staff something to do and see: two organizations
waiting for verification, and introductions at every stage of the workflow, made through
the same services as in use, dated over the last three months so that the dashboard's
funnel and median times have something to show.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import sqlalchemy as sa

from portal.accounts.models import Role, User
from portal.accounts.services import create_user, find_user_by_email
from portal.db import utc_now
from portal.extensions import db
from portal.introductions import services as introductions
from portal.introductions.models import Introduction, IntroState
from portal.needs.models import Need
from portal.organizations.models import Organization, OrganizationKind
from portal.organizations.services import create_organization


@dataclass(frozen=True)
class DemoAccount:
    label: str
    email: str
    password: str
    role: Role
    full_name: str
    organization_ref: str | None = None


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("staff", "staff@demo.example", "demo-staff-2026", Role.STAFF, "Dana Staff"),
    DemoAccount(
        "vendor",
        "vendor@demo.example",
        "demo-vendor-2026",
        Role.VENDOR,
        "Victor Vendor",
        organization_ref="demo-v-brightpath",
    ),
    DemoAccount(
        "buyer",
        "buyer@demo.example",
        "demo-buyer-2026",
        Role.BUYER,
        "Bao Buyer",
        organization_ref="demo-b-danang-dst",
    ),
)


@contextlib.contextmanager
def demo_file() -> Iterator[Path]:
    """The shipped ``demo.jsonl`` as a real path (importlib.resources, works from a wheel)."""
    with resources.as_file(resources.files(__package__) / "demo.jsonl") as path:
        yield path


def portal_is_empty() -> bool:
    return db.session.scalar(sa.select(Organization.id).limit(1)) is None


def create_demo_accounts() -> set[str]:
    """Create the demo logins that do not exist yet, email already confirmed; returns the
    emails created. Never commits."""
    created: set[str] = set()
    for account in DEMO_ACCOUNTS:
        if find_user_by_email(account.email) is not None:
            continue
        organization_id = None
        if account.organization_ref is not None:
            organization_id = db.session.scalar(
                sa.select(Organization.id).where(Organization.ref == account.organization_ref)
            )
        user = create_user(
            account.email,
            account.password,
            account.role,
            full_name=account.full_name,
            organization_id=organization_id,
        )
        user.email_confirmed_at = utc_now()
        created.add(account.email)
    db.session.flush()
    return created


# Organizations that registered and wait for staff: (kind, name, country, city, member).
PENDING_ORGANIZATIONS = (
    (OrganizationKind.VENDOR, "Harborview Parking Systems", "US", "Tacoma", "Hana Harbor"),
    (OrganizationKind.BUYER, "Iloilo City Disaster Risk Office", "PH", "Iloilo", "Ines Ilagan"),
)


def _org(ref: str) -> Organization:
    organization = db.session.scalar(sa.select(Organization).where(Organization.ref == ref))
    assert organization is not None, ref
    return organization


def _need(ref: str) -> Need:
    need = db.session.scalar(sa.select(Need).where(Need.ref == ref))
    assert need is not None, ref
    return need


def _account(label: str) -> User:
    [account] = [a for a in DEMO_ACCOUNTS if a.label == label]
    user = find_user_by_email(account.email)
    assert user is not None, account.email
    return user


def create_demo_activity(now: dt.datetime | None = None) -> int:
    """Pending organizations and introductions in every stage, unless the portal has
    introductions already; returns how many introductions were made. Never commits."""
    if db.session.scalar(sa.select(Introduction.id).limit(1)) is not None:
        return 0
    now = now or utc_now()

    def ago(days: float) -> dt.datetime:
        return now - dt.timedelta(days=days)

    for kind, name, country, city, person in PENDING_ORGANIZATIONS:
        organization = create_organization(kind, name, country, city=city)
        role = Role.VENDOR if kind == OrganizationKind.VENDOR else Role.BUYER
        first = person.split()[0].lower()
        create_user(
            f"{first}@pending.demo.example",
            secrets.token_urlsafe(16),  # nobody logs in as them
            role,
            full_name=person,
            organization_id=organization.id,
            email_confirmed=True,
        )

    staff, vendor, buyer = _account("staff"), _account("vendor"), _account("buyer")
    brightpath, danang = _org("demo-v-brightpath"), _org("demo-b-danang-dst")
    openledger = _org("demo-v-openledger")
    # A member on the vendor side, to accept the introduction the demo buyer asks for.
    openledger_member = create_user(
        "nadia.reyes@openledger.example.com",
        secrets.token_urlsafe(16),
        Role.VENDOR,
        full_name="Nadia Reyes",
        organization_id=openledger.id,
        email_confirmed=True,
    )
    step = introductions.transition
    S = IntroState
    # The demo vendor and buyer are never introduced to each other here: that is the
    # journey a newcomer (and tests/e2e) clicks through.

    # Asked for by the demo buyer three months ago: introduced, met, won.
    won = introductions.request_introduction(
        buyer,
        vendor=openledger,
        buyer=danang,
        need=_need("demo-n-danang-open-data"),
        message="We would like to see OpenLedger's portal for Tulsa.",
        now=ago(88),
    )
    step(won, S.UNDER_REVIEW, staff, now=ago(87))
    step(won, S.APPROVED, staff, note="A good fit for the open data plan.", now=ago(84))
    introductions.accept(won, openledger_member, now=ago(80))
    step(won, S.MEETING_HELD, buyer, note="Met at the city's innovation week.", now=ago(62))
    step(won, S.PROPOSAL_SUBMITTED, openledger_member, now=ago(45))
    step(won, S.WON, buyer, note="Contract signed for the first year.", now=ago(20))

    # Proposed by staff two months ago; neither side answered: expired.
    expired = introductions.propose_introduction(
        staff,
        vendor=_org("demo-v-transitpay"),
        buyer=_org("demo-b-phuket-city"),
        note="Card payments on Phuket's town buses.",
        now=ago(60),
    )
    step(expired, S.EXPIRED, None, now=ago(39))

    # Asked for by the demo vendor last month; staff declined with a reason.
    declined = introductions.request_introduction(
        vendor,
        vendor=brightpath,
        buyer=_org("demo-b-chiangmai-city"),
        need=_need("demo-n-chiangmai-haze"),
        message="Our roadside sensors could carry air-quality probes.",
        now=ago(30),
    )
    step(declined, S.UNDER_REVIEW, staff, now=ago(29))
    step(
        declined,
        S.DECLINED,
        staff,
        note="Street-level haze maps need AeroAir's monitors, not traffic sensors.",
        now=ago(27),
    )

    # This week: one waiting for staff, one under review, one waiting for consent.
    introductions.request_introduction(
        vendor,
        vendor=brightpath,
        buyer=_org("demo-b-cebu-city"),
        message="Our corridor analytics could feed your district model.",
        now=ago(2),
    )
    reviewing = introductions.request_introduction(
        buyer,
        vendor=_org("demo-v-harborline"),
        buyer=danang,
        message="Fibre along the river bridges for the new cameras.",
        now=ago(4),
    )
    step(reviewing, S.UNDER_REVIEW, staff, now=ago(3))
    introductions.propose_introduction(
        staff,
        vendor=_org("demo-v-parkwise"),
        buyer=danang,
        need=_need("demo-n-danang-bridge-traffic"),
        note="ParkWise's guidance signs could take cars off the bridges.",
        now=ago(1),
    )
    db.session.flush()
    return 6
