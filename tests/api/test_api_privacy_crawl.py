"""No contact email or phone in any API answer: the whole API, crawled.

The demo data (vendors and buyers with contacts) is loaded, introductions between a pair
reach the states in which the pages share contacts, and a vendor and a buyer member each
hold a token. The crawl starts at ``/api/v1/`` and follows every URL an answer gives
(``next``, ``url``, ``needs_url``), as an anonymous client and with each token, plus the
``/me`` lists; every answer is checked against the document on the way and searched for
every contact's email and phone and every account's email.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

import sqlalchemy as sa
from api.api_factories import API, ApiClient, make_agenda, make_token
from flask import Flask
from flask.testing import FlaskClient
from introductions.intro_factories import make_pair, walk_to

from portal.accounts.models import User
from portal.extensions import db
from portal.introductions.models import IntroState
from portal.organizations.models import Contact
from portal.search.sync import apply_pending_events

FOLLOWED = ("next", "url", "needs_url")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def _urls(value: Any) -> list[str]:
    """Every API URL an answer gives, at any depth."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in FOLLOWED and isinstance(item, str) and "/api/v1/" in item:
                found.append(item[len("http://localhost") :])
            else:
                found += _urls(item)
    elif isinstance(value, list):
        for item in value:
            found += _urls(item)
    return found


def crawl(api: ApiClient, starts: list[str], token: str | None) -> dict[str, int]:
    statuses: dict[str, int] = {}
    queue = deque(starts)
    while queue:
        path = queue.popleft()
        if path in statuses:
            continue
        response = api.get(path, token)
        statuses[path] = response.status_code
        if response.status_code == 200 and response.mimetype == "application/json":
            queue.extend(url for url in _urls(response.get_json()) if url not in statuses)
    return statuses


def _squeeze(text: str) -> str:
    return re.sub(r"[\s\-.()/]", "", text)


def test_no_contact_detail_in_any_api_answer(
    app: Flask, client: FlaskClient, runner: Any, api: ApiClient
) -> None:
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    pair = make_pair()
    for state in (IntroState.INTRODUCED, IntroState.WON, IntroState.STALLED):
        walk_to(pair, state)
    make_agenda(pair.vendor, pair.buyer)
    apply_pending_events()
    contacts = db.session.execute(sa.select(Contact.email, Contact.phone)).all()
    emails = {email.lower() for email, _ in contacts if email}
    emails |= {email.lower() for email in db.session.scalars(sa.select(User.email))}
    phones = {_squeeze(phone) for _, phone in contacts if phone}
    assert len(emails) >= 30 and len(phones) >= 30  # the demo data really has contacts

    starts = [f"{API}/", f"{API}/search?q=water", f"{API}/search?q=city&limit=100"]
    anonymous = crawl(api, starts, None)
    assert len(anonymous) >= 20, anonymous
    assert any(path.startswith(f"{API}/vendors/") for path in anonymous)
    assert any(path.startswith(f"{API}/needs/") for path in anonymous)
    for member in (pair.vendor_member, pair.buyer_member):
        mine = [f"{API}/me", f"{API}/me/leads", f"{API}/me/introductions", f"{API}/me/agenda"]
        statuses = crawl(api, mine, make_token(member))
        assert {statuses[path] for path in mine} == {200}

    assert len(api.answers) >= 30
    for path, _, body in api.answers:
        lowered, squeezed = body.lower(), _squeeze(body)
        leaked = [email for email in emails if email in lowered]
        leaked += [phone for phone in phones if len(phone) >= 7 and phone in squeezed]
        assert not leaked, f"{path} gives {leaked}"
        assert not EMAIL.search(body), f"{path} has an email address: {EMAIL.search(body)}"
