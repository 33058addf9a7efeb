"""No input gives a 500: a NUL anywhere is a 400, an id beyond the database's range a 404,
a page number beyond any list a page or a 404, on every route and for every visitor.

PostgreSQL refuses NUL in text and integers beyond its column types; before
``portal.request_input`` each of these reached a query and answered 500 there (the suite
runs with TESTING, so a 500 here raises instead of passing unnoticed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from organizations.directory_factories import log_in, make_member, make_org, make_user
from werkzeug.routing import IntegerConverter, Rule

from portal.accounts.models import Role
from portal.organizations.models import OrganizationKind

ARGUMENT = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
TOO_LARGE = "2147483648"  # one more than an INTEGER id holds
HUGE = "99999999999999999999"


def _rules(app: Flask) -> Iterator[Rule]:
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":
            yield rule


def _path(rule: Rule, text: str, number: str) -> str:
    def value(match: re.Match[str]) -> str:
        converter = rule._converters[match["name"]]
        return number if isinstance(converter, IntegerConverter) else text

    return ARGUMENT.sub(value, rule.rule)


@pytest.fixture(params=["anonymous", "vendor", "buyer", "staff"])
def visitor(request: pytest.FixtureRequest, app: Flask, client: FlaskClient) -> FlaskClient:
    if request.param == "vendor":
        log_in(client, make_member(make_org(OrganizationKind.VENDOR)))
    elif request.param == "buyer":
        log_in(client, make_member(make_org(OrganizationKind.BUYER)))
    elif request.param == "staff":
        log_in(client, make_user(Role.STAFF))
    return client


def test_a_nul_anywhere_is_a_400_on_every_route(app: Flask, visitor: FlaskClient) -> None:
    for rule in _rules(app):
        methods = rule.methods or set()
        if "GET" in methods:
            with_nul = _path(rule, "%00", "1")
            if "%00" in with_nul:
                assert visitor.get(with_nul).status_code == 400, rule.rule
            response = visitor.get(_path(rule, "x", "1") + "?q=%00&page=1&sector=%00")
            assert response.status_code == 400, rule.rule
        if "POST" in methods:
            fields = {"email": "ada\x00@example.org", "name": "A\x00", "title": "T\x00"}
            response = visitor.post(_path(rule, "x", "1"), data=fields)
            assert response.status_code == 400, rule.rule


def test_ids_beyond_the_database_range_are_not_found(app: Flask, visitor: FlaskClient) -> None:
    for rule in _rules(app):
        if not any(isinstance(c, IntegerConverter) for c in rule._converters.values()):
            continue
        path = _path(rule, "x", TOO_LARGE)
        method = visitor.get if "GET" in (rule.methods or set()) else visitor.post
        assert method(path).status_code == 404, rule.rule
        assert method(_path(rule, "x", HUGE)).status_code == 404, rule.rule


def test_page_numbers_and_ids_in_the_query_beyond_any_range_never_fail(
    app: Flask, visitor: FlaskClient
) -> None:
    for rule in _rules(app):
        if "GET" not in (rule.methods or set()) or rule.arguments:
            continue
        for query in (f"?page={HUGE}", f"?page=-{HUGE}", f"?introduction={HUGE}", "?page=1e9"):
            response = visitor.get(rule.rule + query)
            assert response.status_code < 500, (rule.rule, query)
