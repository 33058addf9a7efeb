"""Needs: posting, editing and closing them, and the public list of open ones."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from portal.accounts.access import can_manage_organization
from portal.accounts.models import User
from portal.cleaning import one_line
from portal.db import list_contains, utc_today
from portal.extensions import db
from portal.needs.models import Need, NeedStatus
from portal.organizations.models import Organization, OrganizationKind
from portal.organizations.services import can_see_private, new_unique_ref
from portal.versioning import claim_version
from portal.vocab import SECTORS

MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
MAX_BUDGET = 10**15  # far above any city budget, far below the BIGINT limit


class NeedError(ValueError):
    """A change to a need that breaks a rule; ``field`` names the form field it concerns."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- who may see and change a need ---------------------------------------------------


def is_public(need: Need) -> bool:
    """Listed for everyone: open (and not past its date) and posted by a verified buyer."""
    return bool(need.is_public)


def can_see_need(need: Need, viewer: User | Any) -> bool:
    return is_public(need) or can_see_private(need.buyer, viewer)


def can_manage_need(need: Need, user: User | Any) -> bool:
    """The buyer's own members and staff; vendors and other buyers never."""
    return can_manage_organization(user, need.buyer_id)


def find_need(ref: str) -> Need | None:
    return db.session.scalar(sa.select(Need).where(Need.ref == ref))


def public_needs_query(
    *,
    sector: str | None = None,
    country: str | None = None,
    title_contains: str | None = None,
) -> sa.Select[tuple[Need]]:
    """Open needs of verified buyers, newest first, narrowed by the given filters."""
    query = (
        sa.select(Need)
        .join(Need.buyer)  # the filters below read the buyer's country
        .where(Need.is_public)
    )
    if sector:
        query = query.where(list_contains(Need.sectors, sector))
    if country:
        query = query.where(Organization.country == country)
    if title_contains:
        query = query.where(
            sa.func.lower(Need.title).contains(title_contains.lower(), autoescape=True)
        )
    return query.order_by(Need.created_at.desc(), Need.id.desc())


def open_needs_of(buyer: Organization) -> list[Need]:
    return list(
        db.session.scalars(
            sa.select(Need)
            .where(Need.buyer_id == buyer.id, Need.is_open)
            .order_by(Need.created_at.desc(), Need.id.desc())
        )
    )


def all_needs_of(buyer: Organization) -> list[Need]:
    """Every need of a buyer whatever its status: for its own members and staff."""
    return list(
        db.session.scalars(
            sa.select(Need)
            .where(Need.buyer_id == buyer.id)
            .order_by(Need.created_at.desc(), Need.id.desc())
        )
    )


def budget_label(need: Need) -> str:
    """The budget range in U.S. dollars, as a reader would say it."""
    low, high = need.budget_min, need.budget_max
    if low is not None and high is not None:
        if low == high:
            return f"US${low:,}"
        return f"US${low:,} to US${high:,}"
    if low is not None:
        return f"from US${low:,}"
    if high is not None:
        return f"up to US${high:,}"
    return "not stated"


# --- creating and editing --------------------------------------------------------------


def _checked_fields(
    *,
    title: str,
    description: str,
    sectors: list[str] | None,
    budget_min: int | None,
    budget_max: int | None,
) -> dict[str, Any]:
    title = one_line(title)
    if not title or len(title) > MAX_TITLE:
        raise NeedError(f"the title must have 1 to {MAX_TITLE} characters", "title")
    description = description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise NeedError(
            f"the description may have at most {MAX_DESCRIPTION:,} characters", "description"
        )
    codes = list(dict.fromkeys(sectors or []))
    unknown = [code for code in codes if code not in SECTORS]
    if unknown:
        raise NeedError(f"unknown sector: {', '.join(unknown)}", "sectors")
    for value, field in ((budget_min, "budget_min"), (budget_max, "budget_max")):
        if value is not None and not 0 <= value <= MAX_BUDGET:
            raise NeedError(f"a budget must be between 0 and {MAX_BUDGET:,}", field)
    if (budget_min is None) != (budget_max is None):
        # The exchange format carries a budget as a range; half of one could not be
        # exported, and an export must give back everything.
        raise NeedError("give both a minimum and a maximum budget, or neither", "budget_max")
    if budget_min is not None and budget_max is not None and budget_min > budget_max:
        raise NeedError("the maximum must not be below the minimum", "budget_max")
    return {
        "title": title,
        "description": description,
        "sectors": codes,
        "budget_min": budget_min,
        "budget_max": budget_max,
    }


def create_need(
    buyer: Organization,
    *,
    title: str,
    description: str = "",
    sectors: list[str] | None = None,
    budget_min: int | None = None,
    budget_max: int | None = None,
    closes_on: dt.date | None = None,
) -> Need:
    """Post a new open need for a buyer; it is public once the buyer is verified."""
    if buyer.kind != OrganizationKind.BUYER:
        raise NeedError("only buyer organizations post needs")
    fields = _checked_fields(
        title=title,
        description=description,
        sectors=sectors,
        budget_min=budget_min,
        budget_max=budget_max,
    )
    if closes_on is not None and closes_on < utc_today():
        raise NeedError("a new need cannot close in the past", "closes_on")
    need = Need(
        ref=new_unique_ref(Need, fields["title"]),
        buyer=buyer,
        closes_on=closes_on,
        status=NeedStatus.OPEN,
        **fields,
    )
    db.session.add(need)
    db.session.flush()
    return need


def update_need(
    need: Need,
    *,
    title: str,
    description: str = "",
    sectors: list[str] | None = None,
    budget_min: int | None = None,
    budget_max: int | None = None,
    closes_on: dt.date | None = None,
    expected_version: int | None = None,
    editor: User | Any = None,
) -> Need:
    """Edit a need's text, budget and date; its status changes only through the buttons.

    A past closing date may stay as it was, but cannot be newly set. ``expected_version``
    is the version the edit form was opened on: if the buyer's members, staff or an
    import saved since, ``EditConflict`` is raised and nothing is written.
    """
    claim_version(need, expected_version, editor, "need")
    fields = _checked_fields(
        title=title,
        description=description,
        sectors=sectors,
        budget_min=budget_min,
        budget_max=budget_max,
    )
    if closes_on is not None and closes_on != need.closes_on and closes_on < utc_today():
        raise NeedError("the closing date cannot be in the past", "closes_on")
    for name, value in fields.items():
        setattr(need, name, value)
    need.closes_on = closes_on
    db.session.flush()
    return need


# --- status changes --------------------------------------------------------------------


def close_need(need: Need) -> Need:
    """Stop taking interest in a need without awarding it."""
    if need.status != NeedStatus.OPEN:
        raise NeedError(f"only an open need can be closed; this one is {need.status}")
    need.status = NeedStatus.CLOSED
    db.session.flush()
    return need


def mark_awarded(need: Need) -> Need:
    """Record that the need was awarded; open or closed needs can be."""
    if need.status == NeedStatus.AWARDED:
        raise NeedError("this need is already awarded")
    need.status = NeedStatus.AWARDED
    db.session.flush()
    return need


def reopen_need(need: Need) -> Need:
    """Open a closed or awarded need again, unless its closing date has passed."""
    if need.closes_on is not None and need.closes_on < utc_today():
        raise NeedError("its closing date has passed; edit the closing date before reopening it")
    if need.status == NeedStatus.OPEN:
        raise NeedError("this need is already open")
    need.status = NeedStatus.OPEN
    db.session.flush()
    return need
