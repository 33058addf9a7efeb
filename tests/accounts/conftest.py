"""Fixtures for the account tests: members ready to log in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from account_helpers import PASSWORD

from portal.accounts.models import Role, User
from portal.accounts.services import create_user
from portal.extensions import db
from portal.organizations.models import OrganizationKind
from portal.organizations.services import create_organization


@pytest.fixture
def make_member(app: Any) -> Callable[..., User]:
    """A vendor (or buyer) member with an organization; confirmed and active unless told."""

    def make(
        email: str = "ada@vendor.example",
        *,
        password: str = PASSWORD,
        kind: OrganizationKind = OrganizationKind.VENDOR,
        confirmed: bool = True,
        active: bool = True,
    ) -> User:
        country = "US" if kind == OrganizationKind.VENDOR else "PH"
        organization = create_organization(kind, f"Org of {email}", country, city="Somewhere")
        role = Role.VENDOR if kind == OrganizationKind.VENDOR else Role.BUYER
        user = create_user(
            email,
            password,
            role,
            full_name="Ada Example",
            organization_id=organization.id,
            email_confirmed=confirmed,
        )
        user.active = active
        db.session.commit()
        return user

    return make
