"""Factories of the follow and saved-search tests: a verified buyer with an open need, a
vendor member who may follow it, and the mail helpers. Imported as
``follows.follow_factories``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from organizations.directory_factories import make_need, make_org, make_user

from portal.accounts.models import Role, User
from portal.db import utc_now
from portal.extensions import db
from portal.follows.models import NeedPublication
from portal.mail.services import deliver_pending
from portal.needs.models import Need
from portal.organizations.models import Organization, OrganizationKind


@dataclass
class Scene:
    buyer: Organization
    vendor: Organization
    member: User  # a vendor member
    need: Need


def make_scene(closes_in_days: int | None = 30) -> Scene:
    buyer = make_org(OrganizationKind.BUYER, "Da Nang Water Supply", country="VN")
    vendor = make_org(OrganizationKind.VENDOR, "Riverwatch Sensors Inc.")
    member = make_user(Role.VENDOR, vendor)
    closes_on = utc_now().date() + dt.timedelta(days=closes_in_days) if closes_in_days else None
    need = make_need(
        buyer,
        "Flood sensors for the Han river",
        closes_on=closes_on,
        description="Water level sensors with early warning.",
        sectors=["water"],
    )
    return Scene(buyer, vendor, member, need)


def publish(need: Need, at: dt.datetime) -> None:
    """Stamp a need public since ``at``, as the need_published receiver does."""
    row = db.session.get(NeedPublication, need.id)
    if row is None:
        db.session.add(NeedPublication(need_id=need.id, public_since=at))
    else:
        row.public_since = at
    db.session.commit()


def deliver() -> None:
    """Send what the outbox holds to the test SMTP server (as the worker's mail pass)."""
    while deliver_pending().sent:
        pass
