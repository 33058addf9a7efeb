"""Leads as the pages show them: a need's vendors for its buyer's members and for staff,
a vendor's "needs for you" for its members, and a vendor's needs for staff.

Members get their organization's view (its dismissals hidden and their reasons applied
to the ranking, ``portal.matching.feedback``); staff get the plain ranking with every
dismissal beside the lead. A page shows the confident leads first and the rest behind
"show more" (``LeadsPanel.shown`` / ``more``); mail reads the same ``shown``. A ranking
that fails leaves the page up with a notice instead of a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from portal.accounts.access import is_member_of
from portal.accounts.models import User
from portal.extensions import db
from portal.matching.feedback import (
    adjuster,
    dismissals_for_need,
    dismissals_for_vendor,
    dismissed_need_ids,
    dismissed_vendor_ids,
    need_penalties,
    own_dismissals_of_vendor,
    own_dismissals_on_need,
    vendor_penalties,
)
from portal.matching.models import LeadDismissal
from portal.matching.profiles import NeedProfile, VendorProfile
from portal.matching.services import Lead, current_model
from portal.needs.models import Need
from portal.organizations.models import Organization
from portal.organizations.services import is_staff

log = logging.getLogger(__name__)

NEED_PAGE_LIMIT = 10  # vendors shown on a need's page
VENDOR_PAGE_LIMIT = 20  # needs shown on a vendor's "needs for you"
STAFF_VENDOR_LIMIT = 10  # needs shown to staff on a vendor's profile


@dataclass
class LeadRow:
    lead: Lead
    dismissals: list[LeadDismissal] = field(default_factory=list)  # staff: of this pair


@dataclass
class LeadsPanel:
    """Leads for one page. Members (``can_dismiss``) get their organization's view: its
    dismissed leads hidden, its reasons applied, and ``dismissed`` to undo. Staff get the
    plain ranking, each lead with its dismissals, and every dismissal in ``dismissed``."""

    rows: list[LeadRow]
    dismissed: list[LeadDismissal]
    can_dismiss: bool
    unavailable: bool = False  # the ranking failed; the page still shows everything else

    @property
    def shown(self) -> list[LeadRow]:
        """The confident leads a page shows first (``Lead.shown``)."""
        return [row for row in self.rows if row.lead.shown]

    @property
    def more(self) -> list[LeadRow]:
        """The rest, behind "show more": weaker matches, still in the order of value."""
        return [row for row in self.rows if not row.lead.shown]


def _ranked(rank: Callable[[], list[Lead]]) -> tuple[list[Lead], bool]:
    """The leads ``rank`` gives, or none (and True) if it fails: a broken leads snapshot
    must not take the need or profile page down with it."""
    try:
        return rank(), False
    except Exception:
        log.exception("leads are unavailable")
        db.session.rollback()
        return [], True


def need_leads(need: Need, viewer: User | Any, limit: int = NEED_PAGE_LIMIT) -> LeadsPanel | None:
    """Vendors who could solve an open need: for the buyer's members and for staff only."""
    member = is_member_of(viewer, need.buyer_id)
    if not need.is_open or not (member or is_staff(viewer)):
        return None
    profile = NeedProfile.of(need)
    if member:
        exclude = dismissed_vendor_ids(need.buyer_id, need.id)
        adjust = adjuster(vendor_penalties(need))
        leads, failed = _ranked(
            lambda: current_model().vendors_for(profile, limit, exclude=exclude, adjust=adjust)
        )
        rows = [LeadRow(lead) for lead in leads]
        return LeadsPanel(rows, own_dismissals_on_need(need), True, failed)
    dismissals = dismissals_for_need(need)
    leads, failed = _ranked(lambda: current_model().vendors_for(profile, limit))
    rows = [
        LeadRow(lead, [d for d in dismissals if d.vendor_id == lead.vendor.id]) for lead in leads
    ]
    return LeadsPanel(rows, dismissals, False, failed)


def needs_for_vendor(vendor: Organization, limit: int = VENDOR_PAGE_LIMIT) -> LeadsPanel:
    """Open needs the vendor could win, as its members see them."""
    profile = VendorProfile.of(vendor)
    exclude = dismissed_need_ids(vendor.id)
    adjust = adjuster(need_penalties(vendor.id))
    leads, failed = _ranked(
        lambda: current_model().needs_for(profile, limit, exclude=exclude, adjust=adjust)
    )
    rows = [LeadRow(lead) for lead in leads]
    return LeadsPanel(rows, own_dismissals_of_vendor(vendor), True, failed)


def vendor_leads_for_staff(
    organization: Organization, viewer: User | Any, limit: int = STAFF_VENDOR_LIMIT
) -> LeadsPanel | None:
    """Needs a vendor could win, every one shown, with the dismissals: staff only."""
    if not organization.is_vendor or not is_staff(viewer):
        return None
    dismissals = dismissals_for_vendor(organization)
    profile = VendorProfile.of(organization)
    leads, failed = _ranked(lambda: current_model().needs_for(profile, limit))
    rows = [LeadRow(lead, [d for d in dismissals if d.need_id == lead.need.id]) for lead in leads]
    return LeadsPanel(rows, dismissals, False, failed)
