"""Need services: the rules hold whoever calls them (views, CLI, imports)."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from organizations.directory_factories import make_need, make_org

from portal.db import utc_today
from portal.needs.models import NeedStatus
from portal.needs.services import (
    NeedError,
    budget_label,
    close_need,
    create_need,
    mark_awarded,
    reopen_need,
    update_need,
)
from portal.organizations.models import OrganizationKind


def test_create_need_rules(app: Flask) -> None:
    buyer = make_org(OrganizationKind.BUYER, "Rule City")
    vendor = make_org(OrganizationKind.VENDOR, "Rule Vendor")

    with pytest.raises(NeedError, match="only buyer"):
        create_need(vendor, title="Vendors do not post needs")
    with pytest.raises(NeedError, match="title") as error:
        create_need(buyer, title="   ")
    assert error.value.field == "title"
    with pytest.raises(NeedError, match="below the minimum"):
        create_need(buyer, title="Budget", budget_min=10, budget_max=5)
    with pytest.raises(NeedError, match="between 0"):
        create_need(buyer, title="Budget", budget_min=-1, budget_max=5)
    with pytest.raises(NeedError, match="both a minimum and a maximum") as half:
        create_need(buyer, title="Half a budget", budget_max=500_000)
    assert half.value.field == "budget_max"
    with pytest.raises(NeedError, match="unknown sector"):
        create_need(buyer, title="Sector", sectors=["nope"])
    with pytest.raises(NeedError, match="past"):
        create_need(buyer, title="Late", closes_on=utc_today() - dt.timedelta(days=1))

    need = create_need(buyer, title="  Fine  ", sectors=["water", "water"], closes_on=utc_today())
    assert (need.title, need.sectors, need.status) == ("Fine", ["water"], NeedStatus.OPEN)
    assert need.is_open


def test_status_changes(app: Flask) -> None:
    need = make_need(make_org(OrganizationKind.BUYER, "City"), "Need")

    close_need(need)
    with pytest.raises(NeedError, match="only an open need"):
        close_need(need)
    mark_awarded(need)
    with pytest.raises(NeedError, match="already awarded"):
        mark_awarded(need)
    reopen_need(need)
    with pytest.raises(NeedError, match="already open"):
        reopen_need(need)
    update_need(need, title="Need", closes_on=None)
    need.closes_on = dt.date(2000, 1, 1)
    with pytest.raises(NeedError, match="closing date has passed"):
        reopen_need(need)


def test_budget_label(app: Flask) -> None:
    need = make_need(make_org(OrganizationKind.BUYER, "City"), "Need")
    assert budget_label(need) == "not stated"
    need.budget_min, need.budget_max = 1_000, 1_000
    assert budget_label(need) == "US$1,000"
    need.budget_min, need.budget_max = 1_000, None
    assert budget_label(need) == "from US$1,000"
