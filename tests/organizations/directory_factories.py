"""Factories shared by the organization, need and staff tests.

Imported as ``organizations.directory_factories`` (``tests/`` is on ``sys.path`` through the
root conftest); the unusual module name keeps it apart from other features' factories.
"""

from __future__ import annotations

import datetime as dt
import itertools

from flask.testing import FlaskClient
from support import count_rows  # noqa: F401 - re-exported for this feature's tests

from portal.accounts.models import Role, User
from portal.accounts.services import create_user, start_session
from portal.db import utc_now
from portal.extensions import db
from portal.needs.models import Need, NeedStatus
from portal.organizations.models import (
    Contact,
    Organization,
    OrganizationKind,
    VerificationStatus,
)
from portal.organizations.services import create_organization, new_unique_ref

PASSWORD = "correct horse battery"
_serial = itertools.count(1)


def make_org(
    kind: OrganizationKind = OrganizationKind.VENDOR,
    name: str | None = None,
    *,
    verified: bool = True,
    country: str | None = None,
    **fields: object,
) -> Organization:
    """An organization, verified unless told otherwise, committed so requests see it."""
    organization = create_organization(
        kind,
        name or f"{kind.title()} Org {next(_serial)}",
        country or ("US" if kind == OrganizationKind.VENDOR else "VN"),
        **fields,  # type: ignore[arg-type]
    )
    if verified:
        organization.status = VerificationStatus.VERIFIED
        organization.verified_at = utc_now()
    db.session.commit()
    return organization


def make_user(
    role: Role, organization: Organization | None = None, email: str | None = None
) -> User:
    user = create_user(
        email or f"user{next(_serial)}@example.org",
        PASSWORD,
        role,
        full_name=f"{role.title()} Person",
        organization_id=organization.id if organization else None,
    )
    user.email_confirmed_at = utc_now()
    db.session.commit()
    return user


def make_member(organization: Organization) -> User:
    role = Role.VENDOR if organization.is_vendor else Role.BUYER
    return make_user(role, organization)


def make_contact(
    organization: Organization,
    name: str = "Linh Tran",
    email: str = "linh.tran@private.example",
    phone: str = "+84 236 555 0199",
) -> Contact:
    contact = Contact(organization=organization, name=name, email=email, phone=phone)
    db.session.add(contact)
    db.session.commit()
    return contact


def make_need(
    buyer: Organization,
    title: str = "Flood sensors for the river basin",
    *,
    status: NeedStatus = NeedStatus.OPEN,
    closes_on: dt.date | None = None,
    **fields: object,
) -> Need:
    need = Need(
        ref=new_unique_ref(Need, title),
        buyer=buyer,
        title=title,
        status=status,
        closes_on=closes_on,
        **fields,
    )
    db.session.add(need)
    db.session.commit()
    return need


def log_in(client: FlaskClient, user: User) -> None:
    """Log a test client in: a login session, and the cookie Flask-Login reads."""
    token = start_session(user)
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = token
        session["_fresh"] = True
