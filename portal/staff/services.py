"""What trade staff do. Verification decisions are rules about organizations, so they live
in ``portal.organizations.services``; they are named here too, where staff code looks."""

from __future__ import annotations

from portal.organizations.services import (
    OrganizationError,
    pending_organizations,
    reject_organization,
    verify_organization,
)

__all__ = [
    "OrganizationError",
    "pending_organizations",
    "reject_organization",
    "verify_organization",
]
