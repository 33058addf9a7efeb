"""``portal demo``: the shipped demo data loads, with working demo logins."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Flask
from support import count_rows

from portal.accounts.models import User
from portal.accounts.services import verify_password
from portal.demo import DEMO_ACCOUNTS, demo_file
from portal.extensions import db
from portal.needs.models import Need
from portal.organizations.models import Organization


def test_the_demo_file_is_original_and_varied() -> None:
    with demo_file() as path:
        records = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert records[0] == {"type": "header", "format": "smartcity-matchmaking/1"}
    vendors = [r for r in records if r.get("kind") == "vendor"]
    buyers = [r for r in records if r.get("kind") == "buyer"]
    needs = [r for r in records if r["type"] == "need"]
    assert len(vendors) >= 25 and len(buyers) >= 10 and len(needs) >= 20
    assert all(2 <= len(v["capabilities"]) <= 4 for v in vendors)
    assert len({b["country"] for b in buyers}) >= 6
    assert {n["status"] for n in needs} == {"open", "closed", "awarded"}
    emails = [c["email"] for r in records for c in r.get("contacts", [])]
    assert emails and all(e.endswith((".example.com", ".example.org")) for e in emails)


def test_demo_loads_data_and_logins(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert count_rows(Organization) == 43
    assert count_rows(Need) == 25
    for account in DEMO_ACCOUNTS:
        assert account.email in result.output
        assert account.password in result.output
        user = db.session.scalar(sa.select(User).where(User.email == account.email))
        assert user is not None
        assert user.role == account.role
        assert user.email_confirmed_at is not None
        assert verify_password(user, account.password)
        if account.organization_ref:
            assert user.organization is not None
            assert user.organization.ref == account.organization_ref
            assert user.organization.kind == account.role.value


def test_demo_if_empty_is_a_no_op_the_second_time(app: Flask, runner: Any) -> None:
    assert runner.invoke(args=["demo", "--if-empty"]).exit_code == 0
    counts = (count_rows(Organization), count_rows(Need), count_rows(User))
    result = runner.invoke(args=["demo", "--if-empty"])
    assert result.exit_code == 0
    assert "already holds organizations" in result.output
    assert (count_rows(Organization), count_rows(Need), count_rows(User)) == counts


def test_demo_twice_without_if_empty_reloads_and_keeps_the_accounts(
    app: Flask, runner: Any
) -> None:
    assert runner.invoke(args=["demo"]).exit_code == 0
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "already existed" in result.output
    assert count_rows(User) == len(DEMO_ACCOUNTS)
    assert count_rows(Organization) == 43
