"""Members dismissing leads, and what their reasons teach the ranking.

A buyer's member dismisses a vendor suggested for one of its needs; a vendor's member
dismisses a need suggested to the vendor. A dismissed lead is hidden from that
organization only (through the model's ``exclude``); staff still see it, with the reason.

The reasons also reach the ranking, through the model's ``adjust`` hook. The rules are
deliberately few and multiplicative (penalties on one candidate multiply):

For a vendor's "needs for you" (its own dismissals):
- ``not_our_market``: open needs of buyers in the dismissed needs' countries lose the gain of
  serving the buyer's country (calibration.GAIN_ELSEWHERE / GAIN_IN_MARKET) and are then
  halved, x0.21;
- ``too_small``: open needs whose budget_max is at or below the smallest budget among the
  needs dismissed as too small (their budget_max, or budget_min when only that is known),
  x0.5; needs that state no maximum are left alone;
- ``not_relevant``: open needs sharing a sector with the needs dismissed as not relevant,
  x0.85, a gentle push (a sector is a broad hint, the need itself is already hidden);
- ``already_in_contact``: teaches nothing about other needs; the need is only hidden.

For a buyer's need:
- a vendor the buyer dismissed as ``not_relevant`` on another of its needs that shares a
  sector with this one, x0.6.

Services here add and flush and never commit; views commit once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask_babel import gettext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.accounts.access import is_member_of
from portal.accounts.models import User
from portal.db import list_contains
from portal.extensions import db
from portal.matching.calibration import GAIN_ELSEWHERE, GAIN_IN_MARKET
from portal.matching.models import MAX_NOTE, DismissalReason, LeadDismissal
from portal.matching.profiles import NeedProfile
from portal.matching.services import ScoreAdjuster
from portal.needs.models import Need
from portal.needs.services import is_public
from portal.organizations.models import Organization

# How much each reason lowers similar candidates (see the module docstring).
OTHER_MARKET_FACTOR = 0.5 * GAIN_ELSEWHERE / GAIN_IN_MARKET
TOO_SMALL_FACTOR = 0.5
SAME_SECTOR_FACTOR = 0.85
VENDOR_NOT_RELEVANT_FACTOR = 0.6


class FeedbackError(ValueError):
    """A dismissal that breaks a rule; ``field`` names the form field it concerns."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotAllowed(FeedbackError):
    """The user may not dismiss (or restore) this lead."""


# --- who dismisses -----------------------------------------------------------------------


def dismissing_organization_id(user: User | Any, need: Need, vendor: Organization) -> int:
    """The organization on whose behalf ``user`` dismisses the (need, vendor) lead: the
    buyer that posted the need, or the vendor. Anyone else (staff included) may not."""
    if not vendor.is_vendor:
        raise NotAllowed(gettext("Only vendors are suggested for needs."))
    if is_member_of(user, need.buyer_id):
        return need.buyer_id
    if is_member_of(user, vendor.id):
        return vendor.id
    raise NotAllowed(
        gettext("Only the buyer that posted the need, or the vendor, may dismiss this lead.")
    )


def can_dismiss(user: User | Any, need: Need, vendor: Organization) -> bool:
    try:
        dismissing_organization_id(user, need, vendor)
    except NotAllowed:
        return False
    return True


# --- dismissing and restoring ------------------------------------------------------------


def find_dismissal(organization_id: int, need_id: int, vendor_id: int) -> LeadDismissal | None:
    return db.session.scalar(
        sa.select(LeadDismissal).where(
            LeadDismissal.organization_id == organization_id,
            LeadDismissal.need_id == need_id,
            LeadDismissal.vendor_id == vendor_id,
        )
    )


def _checked_reason(reason: str) -> DismissalReason:
    try:
        return DismissalReason(reason)
    except ValueError:
        raise FeedbackError(gettext("Choose a reason from the list."), "reason") from None


def _checked_note(note: str | None) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise FeedbackError(
            gettext("Keep the note under %(max)s characters.", max=MAX_NOTE), "note"
        )
    return note


def dismiss_lead(
    user: User, need: Need, vendor: Organization, reason: str, note: str | None = ""
) -> LeadDismissal:
    """Hide the lead from the user's organization, remembering why. Dismissing the same
    lead again replaces the reason and note."""
    organization_id = dismissing_organization_id(user, need, vendor)
    checked_reason = _checked_reason(reason)
    checked_note = _checked_note(note)
    if organization_id == vendor.id and not is_public(need):
        raise FeedbackError(gettext("This need is no longer open."))
    if organization_id == need.buyer_id and not vendor.is_verified:
        raise FeedbackError(gettext("This vendor is not one of the leads."))
    values = {"reason": checked_reason.value, "note": checked_note, "user_id": user.id}
    dismissal = find_dismissal(organization_id, need.id, vendor.id)
    if dismissal is None:
        dismissal = LeadDismissal(
            organization_id=organization_id, need_id=need.id, vendor_id=vendor.id, **values
        )
        try:
            with db.session.begin_nested():  # a concurrent identical dismissal wins the race
                db.session.add(dismissal)
                db.session.flush()
            return dismissal
        except IntegrityError:
            dismissal = find_dismissal(organization_id, need.id, vendor.id)
            if dismissal is None:
                raise
    for key, value in values.items():
        setattr(dismissal, key, value)
    db.session.flush()
    return dismissal


def undo_dismissal(user: User, need: Need, vendor: Organization) -> bool:
    """Show the lead to the user's organization again; False when it was not dismissed."""
    organization_id = dismissing_organization_id(user, need, vendor)
    dismissal = find_dismissal(organization_id, need.id, vendor.id)
    if dismissal is None:
        return False
    db.session.delete(dismissal)
    db.session.flush()
    return True


# --- reading dismissals --------------------------------------------------------------------


def dismissed_vendor_ids(organization_id: int, need_id: int) -> set[int]:
    """Vendors that ``organization_id`` (the buyer) dismissed on this need."""
    return set(
        db.session.scalars(
            sa.select(LeadDismissal.vendor_id).where(
                LeadDismissal.organization_id == organization_id, LeadDismissal.need_id == need_id
            )
        )
    )


def dismissed_need_ids(vendor_org_id: int) -> set[int]:
    """Needs that the vendor itself dismissed."""
    return set(
        db.session.scalars(
            sa.select(LeadDismissal.need_id).where(
                LeadDismissal.organization_id == vendor_org_id,
                LeadDismissal.vendor_id == vendor_org_id,
            )
        )
    )


def _dismissals(*conditions: sa.ColumnElement[bool]) -> list[LeadDismissal]:
    return list(
        db.session.scalars(
            sa.select(LeadDismissal)
            .where(*conditions)
            .options(
                selectinload(LeadDismissal.organization),
                selectinload(LeadDismissal.vendor),
                selectinload(LeadDismissal.need).selectinload(Need.buyer),
                selectinload(LeadDismissal.user),
            )
            .order_by(LeadDismissal.created_at.desc(), LeadDismissal.id.desc())
        )
    )


def dismissals_for_need(need: Need) -> list[LeadDismissal]:
    """Every dismissal of a lead on this need, by the buyer or by vendors (for staff)."""
    return _dismissals(LeadDismissal.need_id == need.id)


def dismissals_for_vendor(vendor: Organization) -> list[LeadDismissal]:
    """Every dismissal of a lead with this vendor, by the vendor or by buyers (for staff)."""
    return _dismissals(LeadDismissal.vendor_id == vendor.id)


def own_dismissals_on_need(need: Need) -> list[LeadDismissal]:
    """The vendors the buyer dismissed on its need (for its members to undo)."""
    return _dismissals(
        LeadDismissal.need_id == need.id, LeadDismissal.organization_id == need.buyer_id
    )


def own_dismissals_of_vendor(vendor: Organization) -> list[LeadDismissal]:
    """The needs the vendor dismissed (for its members to undo)."""
    return _dismissals(
        LeadDismissal.vendor_id == vendor.id, LeadDismissal.organization_id == vendor.id
    )


# --- what the reasons teach the ranking ------------------------------------------------------


@dataclass(frozen=True)
class Penalty:
    """Scores of the candidates in ``ids`` are multiplied by ``factor``."""

    ids: frozenset[int]
    factor: float
    why: str = ""


def adjuster(penalties: Sequence[Penalty]) -> ScoreAdjuster | None:
    """A score adjuster applying ``penalties``, or None when there is nothing to apply.

    A factor scales a candidate's height above the floor: 0 when every score is positive
    (so x0.5 halves the score), else the lowest score (the ranking's standard scores go
    below zero). A penalty thus always lowers a score and never below the worst candidate;
    several penalties on one candidate multiply.
    """
    active = [p for p in penalties if p.ids and p.factor != 1.0]
    if not active:
        return None

    def adjust(ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        factors = np.ones(len(ids), dtype=np.float64)
        for penalty in active:
            hit = np.isin(ids, np.fromiter(penalty.ids, dtype=np.int64, count=len(penalty.ids)))
            factors[hit] *= penalty.factor
        finite = scores[np.isfinite(scores)]
        floor = min(0.0, float(finite.min())) if len(finite) else 0.0
        adjusted = floor + (scores - floor) * factors
        return adjusted.astype(scores.dtype, copy=False)

    return adjust


@dataclass
class NeedLessons:
    """What a vendor's dismissals say about the needs it wants (pure; no database)."""

    countries: set[str] = field(default_factory=set)
    budget_ceiling: int | None = None
    sectors: set[str] = field(default_factory=set)

    @classmethod
    def learn(cls, dismissed: Sequence[tuple[str, NeedProfile]]) -> NeedLessons:
        lessons = cls()
        for reason, need in dismissed:
            if reason == DismissalReason.NOT_OUR_MARKET:
                lessons.countries.add(need.country)
            elif reason == DismissalReason.TOO_SMALL:
                budget = need.budget_max if need.budget_max is not None else need.budget_min
                if budget is not None and (
                    lessons.budget_ceiling is None or budget < lessons.budget_ceiling
                ):
                    lessons.budget_ceiling = budget
            elif reason == DismissalReason.NOT_RELEVANT:
                lessons.sectors.update(need.sectors)
        return lessons

    def factor(self, need: NeedProfile) -> float:
        """The factor these lessons apply to one need (what ``need_penalties`` does in SQL)."""
        factor = 1.0
        if need.country in self.countries:
            factor *= OTHER_MARKET_FACTOR
        if (
            self.budget_ceiling is not None
            and need.budget_max is not None
            and need.budget_max <= self.budget_ceiling
        ):
            factor *= TOO_SMALL_FACTOR
        if self.sectors & set(need.sectors):
            factor *= SAME_SECTOR_FACTOR
        return factor


def _vendor_dismissed_needs(vendor_org_id: int) -> list[tuple[str, NeedProfile]]:
    needs = db.session.execute(
        sa.select(LeadDismissal.reason, Need)
        .join(Need, LeadDismissal.need_id == Need.id)
        .where(
            LeadDismissal.organization_id == vendor_org_id,
            LeadDismissal.vendor_id == vendor_org_id,
        )
        .options(selectinload(Need.buyer))
    ).all()
    return [(reason, NeedProfile.of(need)) for reason, need in needs]


def _open_need_ids(*conditions: sa.ColumnElement[bool]) -> frozenset[int]:
    return frozenset(
        db.session.scalars(sa.select(Need.id).join(Need.buyer).where(Need.is_public, *conditions))
    )


def need_penalties(vendor_org_id: int) -> list[Penalty]:
    """The penalties a vendor's dismissals put on open needs (rules in the module doc)."""
    lessons = NeedLessons.learn(_vendor_dismissed_needs(vendor_org_id))
    penalties = []
    if lessons.countries:
        ids = _open_need_ids(Organization.country.in_(sorted(lessons.countries)))
        penalties.append(Penalty(ids, OTHER_MARKET_FACTOR, "not our market"))
    if lessons.budget_ceiling is not None:
        ids = _open_need_ids(
            Need.budget_max.is_not(None), Need.budget_max <= lessons.budget_ceiling
        )
        penalties.append(Penalty(ids, TOO_SMALL_FACTOR, "too small"))
    if lessons.sectors:
        ids = _open_need_ids(sa.or_(*(list_contains(Need.sectors, s) for s in lessons.sectors)))
        penalties.append(Penalty(ids, SAME_SECTOR_FACTOR, "not relevant"))
    return penalties


def vendor_penalties(need: Need) -> list[Penalty]:
    """Vendors the buyer dismissed as not relevant on its other needs in a shared sector."""
    sectors = set(need.sectors or [])
    if not sectors:
        return []
    rows = db.session.execute(
        sa.select(LeadDismissal.vendor_id, Need.sectors)
        .join(Need, LeadDismissal.need_id == Need.id)
        .where(
            LeadDismissal.organization_id == need.buyer_id,
            LeadDismissal.reason == DismissalReason.NOT_RELEVANT,
            LeadDismissal.need_id != need.id,
            Need.buyer_id == need.buyer_id,
        )
    ).all()
    ids = frozenset(vendor_id for vendor_id, other in rows if sectors & set(other or []))
    return [Penalty(ids, VENDOR_NOT_RELEVANT_FACTOR, "not relevant on a similar need")]
