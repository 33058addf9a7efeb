"""Demo data and demo logins, so that a newcomer sees a living portal in one command.

``demo.jsonl`` is fictional: invented organizations, people and problems, with
example.com / example.org addresses. The passwords below are fixed and published on
purpose; they are for a laptop or a test portal only, never production.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import sqlalchemy as sa

from portal.accounts.models import Role
from portal.accounts.services import create_user, find_user_by_email
from portal.db import utc_now
from portal.extensions import db
from portal.organizations.models import Organization


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
