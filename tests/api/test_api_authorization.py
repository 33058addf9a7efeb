"""Every API route and every kind of caller, the way the authorization matrix does pages.

The matrix (tests/security) signs visitors in with a session, which opens nothing in the
API; here the callers hold tokens instead: none, a vendor member's, a buyer member's, a
revoked one. A route with no expectation fails ``test_every_api_route_has_expectations``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from api.api_factories import ApiClient, make_token
from flask import Flask, url_for
from organizations.directory_factories import make_member, make_need, make_org

from portal.api import tokens
from portal.extensions import db
from portal.needs.models import NeedStatus
from portal.organizations.models import OrganizationKind

CALLERS = ("anonymous", "vendor", "buyer", "revoked")


@dataclass
class World:
    vendor: Any
    buyer: Any
    need: Any
    closed_need: Any
    pending: Any
    secrets: dict[str, str | None]


@dataclass(frozen=True)
class Case:
    values: Callable[[World], dict[str, Any]]
    outcomes: tuple[int, int, int, int]


def none(w: World) -> dict[str, Any]:
    return {}


PUBLIC = (200, 200, 200, 401)  # a revoked token is refused even where none is needed
MEMBER = (401, 200, 200, 401)

EXPECTED: dict[str, Case] = {
    "api.root": Case(none, PUBLIC),
    "api.openapi_document": Case(none, PUBLIC),
    "api.vendors": Case(none, PUBLIC),
    "api.vendor": Case(lambda w: {"ref": w.vendor.ref}, PUBLIC),
    "api.buyers": Case(none, PUBLIC),
    "api.buyer": Case(lambda w: {"ref": w.buyer.ref}, PUBLIC),
    "api.needs": Case(none, PUBLIC),
    "api.need": Case(lambda w: {"ref": w.need.ref}, PUBLIC),
    "api.search": Case(none, PUBLIC),
    "api.me": Case(none, MEMBER),
    "api.my_leads": Case(none, MEMBER),
    "api.my_introductions": Case(none, MEMBER),
    "api.my_agenda": Case(none, MEMBER),
}

HIDDEN: dict[str, tuple[str, Case]] = {
    "pending vendor": ("api.vendor", Case(lambda w: {"ref": w.pending.ref}, (404, 404, 404, 401))),
    "closed need": ("api.need", Case(lambda w: {"ref": w.closed_need.ref}, (404, 404, 404, 401))),
    "buyer as a vendor": ("api.vendor", Case(lambda w: {"ref": w.buyer.ref}, (404, 404, 404, 401))),
}


@pytest.fixture
def world(app: Flask) -> World:
    from portal.search.index import IndexStore

    vendor = make_org(OrganizationKind.VENDOR, "Auth Vendor")
    buyer = make_org(OrganizationKind.BUYER, "Auth City")
    revoked_owner = make_member(vendor)
    revoked = make_token(revoked_owner)
    [row] = tokens.tokens_of(revoked_owner)
    tokens.revoke_token(row)
    db.session.commit()
    IndexStore.from_app().open()
    return World(
        vendor=vendor,
        buyer=buyer,
        need=make_need(buyer, "Auth need"),
        closed_need=make_need(buyer, "Auth closed need", status=NeedStatus.CLOSED),
        pending=make_org(OrganizationKind.VENDOR, "Auth Pending", verified=False),
        secrets={
            "anonymous": None,
            "vendor": make_token(make_member(vendor)),
            "buyer": make_token(make_member(buyer)),
            "revoked": revoked,
        },
    )


def _status(app: Flask, api: ApiClient, world: World, endpoint: str, case: Case, who: str) -> int:
    with app.test_request_context():
        url = url_for(endpoint, **case.values(world))
    return int(api.get(url, world.secrets[who]).status_code)


def test_every_api_route_has_expectations(app: Flask) -> None:
    endpoints = {
        rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
    }
    assert endpoints == set(EXPECTED)


@pytest.mark.parametrize("who", CALLERS)
@pytest.mark.parametrize("endpoint", sorted(EXPECTED))
def test_api_route_answers_each_caller(
    app: Flask, api: ApiClient, world: World, endpoint: str, who: str
) -> None:
    case = EXPECTED[endpoint]
    assert _status(app, api, world, endpoint, case, who) == case.outcomes[CALLERS.index(who)]


@pytest.mark.parametrize("who", CALLERS)
@pytest.mark.parametrize("name", sorted(HIDDEN))
def test_what_is_not_public_is_not_found_whoever_asks(
    app: Flask, api: ApiClient, world: World, name: str, who: str
) -> None:
    endpoint, case = HIDDEN[name]
    assert _status(app, api, world, endpoint, case, who) == case.outcomes[CALLERS.index(who)]
