"""Needs: posting, editing and closing them, and the public list of open ones."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext, pgettext

from portal.accounts.access import can_manage_organization
from portal.accounts.models import User
from portal.cleaning import one_line
from portal.db import list_contains, utc_today
from portal.extensions import db
from portal.i18n.formatting import number_filter
from portal.languages.detect import detect_need_language
from portal.needs.models import Need, NeedStatus
from portal.notices.amendments import record_need_edit
from portal.organizations.models import Organization, OrganizationKind
from portal.organizations.services import can_see_private, new_unique_ref
from portal.signals import need_closed, need_published
from portal.versioning import claim_version
from portal.vocab import (
    DEFAULT_NOTICE,
    FUNDING_SOURCE_LABELS,
    FUNDING_SOURCES,
    FUNDING_STAGE_LABELS,
    FUNDING_STAGES,
    NOTICE_LABELS,
    NOTICE_TYPES,
    SECTORS,
    status_label,
)

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
    notice: str | None = None,
    funding_source: str | None = None,
    funding_stage: str | None = None,
    language: str | None = None,
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
    if notice:
        query = query.where(Need.notice == notice)
    if funding_source:
        query = query.where(Need.funding_source == funding_source)
    if funding_stage:
        query = query.where(Need.funding_stage == funding_stage)
    if language:
        query = query.where(Need.language == language)
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
    return budget_range_label(need.budget_min, need.budget_max)


def sum_label(amount: int) -> str:
    """One sum in U.S. dollars in the reader's digits ("US$200,000"): a budget whose bounds
    are equal, and an amended budget bound (``portal.notices``), worded by one message."""
    return pgettext("amendment", "US$%(amount)s", amount=number_filter(amount))


def budget_range_label(low: int | None, high: int | None, *, collapse_equal: bool = True) -> str:
    """A budget from its bounds (a need's, e.g. kept from when it matched, or a saved
    search's range) in the reader's words and digits: one wording for the portal's sums,
    English keeps ``US$1,000 to US$5,000``. A saved search says its range as asked, so
    it passes ``collapse_equal=False`` to keep "US$1,000 to US$1,000"."""
    if low is not None and high is not None:
        if low == high and collapse_equal:
            return sum_label(low)
        return gettext(
            "US$%(low)s to US$%(high)s", low=number_filter(low), high=number_filter(high)
        )
    if low is not None:
        return gettext("from US$%(low)s", low=number_filter(low))
    if high is not None:
        return gettext("up to US$%(high)s", high=number_filter(high))
    return gettext("not stated")


def notice_label(need: Need) -> str:
    return str(NOTICE_LABELS.get(need.notice, need.notice))


def funding_label(need: Need) -> str:
    """Where the money comes from and how far it has got, or that the buyer did not say."""
    if need.funding_source is None or need.funding_stage is None:
        return gettext("not stated")
    source = str(FUNDING_SOURCE_LABELS.get(need.funding_source, need.funding_source))
    stage = str(FUNDING_STAGE_LABELS.get(need.funding_stage, need.funding_stage))
    return gettext("%(source)s: %(stage)s", source=source, stage=stage.lower())


# --- creating and editing --------------------------------------------------------------


def _checked_fields(
    *,
    title: str,
    description: str,
    sectors: list[str] | None,
    budget_min: int | None,
    budget_max: int | None,
    notice: str,
    funding_source: str | None,
    funding_stage: str | None,
) -> dict[str, Any]:
    title = one_line(title)
    if not title or len(title) > MAX_TITLE:
        raise NeedError(
            gettext("the title must have 1 to %(max)s characters", max=MAX_TITLE), "title"
        )
    description = description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise NeedError(
            gettext(
                "the description may have at most %(max)s characters",
                max=format(MAX_DESCRIPTION, ","),
            ),
            "description",
        )
    codes = list(dict.fromkeys(sectors or []))
    unknown = [code for code in codes if code not in SECTORS]
    if unknown:
        raise NeedError(gettext("unknown sector: %(codes)s", codes=", ".join(unknown)), "sectors")
    for value, field in ((budget_min, "budget_min"), (budget_max, "budget_max")):
        if value is not None and not 0 <= value <= MAX_BUDGET:
            raise NeedError(
                gettext("a budget must be between 0 and %(max)s", max=format(MAX_BUDGET, ",")),
                field,
            )
    if (budget_min is None) != (budget_max is None):
        # The exchange format carries a budget as a range; half of one could not be
        # exported, and an export must give back everything.
        raise NeedError(
            gettext("give both a minimum and a maximum budget, or neither"), "budget_max"
        )
    if budget_min is not None and budget_max is not None and budget_min > budget_max:
        raise NeedError(gettext("the maximum must not be below the minimum"), "budget_max")
    if notice not in NOTICE_TYPES:
        raise NeedError(gettext("unknown notice type: %(code)s", code=notice), "notice")
    funding_source, funding_stage = funding_source or None, funding_stage or None
    if funding_source is not None and funding_source not in FUNDING_SOURCES:
        raise NeedError(
            gettext("unknown funding source: %(code)s", code=funding_source), "funding_source"
        )
    if funding_stage is not None and funding_stage not in FUNDING_STAGES:
        raise NeedError(
            gettext("unknown funding stage: %(code)s", code=funding_stage), "funding_stage"
        )
    # The exchange format carries funding as one {source, stage} object: half of one
    # could not be exported, and a stage without a source tells a vendor nothing.
    if funding_source is not None and funding_stage is None:
        raise NeedError(
            gettext("give the funding stage too, or neither source nor stage"), "funding_stage"
        )
    if funding_stage is not None and funding_source is None:
        raise NeedError(
            gettext("give the funding source too, or neither source nor stage"), "funding_source"
        )
    return {
        "title": title,
        "description": description,
        "sectors": codes,
        "budget_min": budget_min,
        "budget_max": budget_max,
        "notice": notice,
        "funding_source": funding_source,
        "funding_stage": funding_stage,
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
    notice: str = DEFAULT_NOTICE,
    funding_source: str | None = None,
    funding_stage: str | None = None,
    actor: User | Any = None,
) -> Need:
    """Post a new open need for a buyer; it is public once the buyer is verified.

    A need public at once (a verified buyer) sends ``need_published`` with ``actor``,
    the person who posted it.
    """
    if buyer.kind != OrganizationKind.BUYER:
        raise NeedError(gettext("only buyer organizations post needs"))
    fields = _checked_fields(
        title=title,
        description=description,
        sectors=sectors,
        budget_min=budget_min,
        budget_max=budget_max,
        notice=notice,
        funding_source=funding_source,
        funding_stage=funding_stage,
    )
    if closes_on is not None and closes_on < utc_today():
        raise NeedError(gettext("a new need cannot close in the past"), "closes_on")
    need = Need(
        ref=new_unique_ref(Need, fields["title"]),
        buyer=buyer,
        closes_on=closes_on,
        status=NeedStatus.OPEN,
        language=detect_need_language(fields["title"], fields["description"], buyer.country),
        **fields,
    )
    db.session.add(need)
    db.session.flush()
    if need.is_public:
        need_published.send(need, actor=_person(actor))
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
    notice: str | None = None,
    funding_source: str | None = None,
    funding_stage: str | None = None,
    expected_version: int | None = None,
    editor: User | Any = None,
) -> Need:
    """Edit a need's text, budget, date, notice type and funding; its status changes only
    through the buttons.

    A past closing date may stay as it was, but cannot be newly set. ``notice`` None
    keeps the notice type; funding is always what is given (None for none).
    ``expected_version`` is the version the edit form was opened on: if the buyer's
    members, staff or an import saved since, ``EditConflict`` is raised and nothing is
    written. An expired need given a new closing date is public again, which sends
    ``need_published`` as a reopening does.
    """
    claim_version(need, expected_version, editor, "need")
    fields = _checked_fields(
        title=title,
        description=description,
        sectors=sectors,
        budget_min=budget_min,
        budget_max=budget_max,
        notice=notice or need.notice,
        funding_source=funding_source,
        funding_stage=funding_stage,
    )
    if closes_on is not None and closes_on != need.closes_on and closes_on < utc_today():
        raise NeedError(gettext("the closing date cannot be in the past"), "closes_on")
    was_public = bool(need.is_public)
    for name, value in fields.items():
        setattr(need, name, value)
    need.language = detect_need_language(need.title, need.description, need.buyer.country)
    need.closes_on = closes_on
    record_need_edit(need, actor=_person(editor))  # a published notice's amendment
    db.session.flush()
    if need.is_public and not was_public:
        need_published.send(need, actor=_person(editor))
    return need


# --- status changes --------------------------------------------------------------------


def _person(actor: User | Any) -> User | None:
    """The signals' ``actor``: a logged-in user, or None (an anonymous user, a script).
    A receiver gets the User itself, never Flask-Login's request-bound proxy of it."""
    unwrap = getattr(actor, "_get_current_object", None)
    actor = unwrap() if callable(unwrap) else actor
    return actor if isinstance(actor, User) else None


def close_need(need: Need, actor: User | Any = None) -> Need:
    """Stop taking interest in a need without awarding it; sends ``need_closed``."""
    if need.status != NeedStatus.OPEN:
        raise NeedError(
            gettext(
                "only an open need can be closed; this one is %(status)s",
                status=status_label(need.status),
            )
        )
    need.status = NeedStatus.CLOSED
    db.session.flush()
    need_closed.send(need, status=NeedStatus.CLOSED.value, actor=_person(actor))
    return need


def mark_awarded(need: Need, actor: User | Any = None) -> Need:
    """Record that the need was awarded; open or closed needs can be. Sends
    ``need_closed`` with status "awarded" either way: a closed need being awarded is
    news to whoever followed it."""
    if need.status == NeedStatus.AWARDED:
        raise NeedError(gettext("this need is already awarded"))
    need.status = NeedStatus.AWARDED
    db.session.flush()
    need_closed.send(need, status=NeedStatus.AWARDED.value, actor=_person(actor))
    return need


def reopen_need(need: Need, actor: User | Any = None) -> Need:
    """Open a closed or awarded need again, unless its closing date has passed; sends
    ``need_published`` when that makes it public (its buyer is verified)."""
    if need.closes_on is not None and need.closes_on < utc_today():
        raise NeedError(
            gettext("its closing date has passed; edit the closing date before reopening it")
        )
    if need.status == NeedStatus.OPEN:
        raise NeedError(gettext("this need is already open"))
    need.status = NeedStatus.OPEN
    db.session.flush()
    if need.is_public:
        need_published.send(need, actor=_person(actor))
    return need
