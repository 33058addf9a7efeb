"""No contact of any organization on any page an anonymous visitor can reach.

The demo data (which has contacts) is loaded with ``portal demo``; then every page
reachable from ``/`` by following links is fetched with the test client, as a visitor
without an account, and searched for every contact email and phone. The crawler is the
one ``benchmarks/contact_privacy_crawl.py`` runs against a real server on the dev set.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from introductions.intro_factories import make_pair, walk_to

from portal.extensions import db
from portal.introductions.models import IntroState
from portal.organizations.models import Contact

CRAWLER = Path(__file__).resolve().parents[2] / "benchmarks" / "contact_privacy_crawl.py"


def load_crawler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("contact_privacy_crawl", CRAWLER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def test_no_contact_on_any_page_an_anonymous_visitor_reaches_even_after_introductions(
    app: Flask, client: FlaskClient, runner
) -> None:
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    # Introductions in every contact-sharing state must not make anything public either.
    pair = make_pair()
    for state in (IntroState.INTRODUCED, IntroState.WON, IntroState.STALLED):
        walk_to(pair, state)
    contacts = db.session.execute(sa.select(Contact.email, Contact.phone)).all()
    emails = {email for email, _ in contacts if email}
    phones = {phone for _, phone in contacts if phone}
    assert len(emails) >= 30 and len(phones) >= 30  # the demo data really has contacts

    crawler = load_crawler()

    def get(path: str):
        response = client.get(path)
        return crawler.Page(response.status_code, response.content_type or "", response.text)

    report = crawler.crawl(get, emails, phones)
    assert not report.truncated
    assert report.html_pages >= 20, report.pages
    assert {"/vendors", "/buyers", "/needs", "/search"} <= set(report.pages)
    assert any(path.startswith("/vendors/") for path in report.pages)
    assert any(path.startswith("/needs/") for path in report.pages)
    assert f"/vendors/{pair.vendor.ref}" in report.pages
    assert report.leaks == []


def test_the_crawler_finds_a_leak_when_there_is_one() -> None:
    """The check itself: a page with a contact, in any spacing, is caught."""
    crawler = load_crawler()
    pages = {
        "/": '<a href="/a">a</a> <a href="mailto:x@y.example">x</a> <a href="http://elsewhere/">',
        "/a": '<a href="/b?z=1&amp;a=2">b</a><a href="/b?a=2&amp;z=1">same b</a>',
        "/b?a=2&z=1": "Call +84 (236) 555-0199 or write to Linh.Tran@Private.example",
    }

    def get(path: str):
        return crawler.Page(200 if path in pages else 404, "text/html", pages.get(path, ""))

    report = crawler.crawl(get, ["linh.tran@private.example"], ["+84 236 555 0199"])
    assert set(report.pages) == {"/", "/a", "/b?a=2&z=1"}
    assert sorted(leak for _, leak in report.leaks) == [
        "+84 236 555 0199",
        "linh.tran@private.example",
    ]
