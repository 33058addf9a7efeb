"""``portal demo``: the shipped demo data loads, with working demo logins."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Flask
from organizations.directory_factories import log_in
from support import count_rows

from portal.accounts.models import User
from portal.accounts.services import verify_password
from portal.demo import DEMO_ACCOUNTS, PENDING_ORGANIZATIONS, demo_file
from portal.extensions import db
from portal.introductions.models import Introduction, IntroState
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
    # Every notice type, and funding from several sources at every stage, or not stated.
    assert {n["notice"] for n in needs} == {"concept", "sources-sought", "rfi", "rfp"}
    funding = [n["funding"] for n in needs]
    assert None in funding
    assert len({f["source"] for f in funding if f}) >= 6
    assert {f["stage"] for f in funding if f} == {
        "idea",
        "feasibility",
        "funded",
        "procurement",
        "awarded",
    }
    emails = [c["email"] for r in records for c in r.get("contacts", [])]
    assert emails and all(e.endswith((".example.com", ".example.org")) for e in emails)


def test_demo_loads_data_and_logins(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert count_rows(Organization) == 43 + len(PENDING_ORGANIZATIONS)
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
    users, introductions = count_rows(User), count_rows(Introduction)
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "already existed" in result.output
    assert count_rows(User) == users
    assert count_rows(Organization) == 43 + len(PENDING_ORGANIZATIONS)
    assert count_rows(Introduction) == introductions  # the activity is made once


def test_the_demo_gives_staff_work_to_do_and_a_pipeline_to_read(
    app: Flask, runner: Any, client: Any
) -> None:
    """Regression: the demo left the staff pages empty (no introductions, no pending
    organizations), so a newcomer saw blank charts and a headers-only table."""
    assert runner.invoke(args=["demo"]).exit_code == 0
    states = set(db.session.scalars(sa.select(Introduction.state)))
    assert {IntroState.REQUESTED, IntroState.UNDER_REVIEW, IntroState.APPROVED} <= states
    assert {IntroState.WON, IntroState.DECLINED, IntroState.EXPIRED} <= states
    staff = db.session.scalar(sa.select(User).where(User.email == "staff@demo.example"))
    log_in(client, staff)

    queue = client.get("/staff/verification").text
    for _, name, *_ in PENDING_ORGANIZATIONS:
        assert name in queue
    dashboard = client.get("/staff/dashboard").text
    assert "6 introduction(s) match" in dashboard
    median = dashboard.split('id="days-heading"')[1].split("</section>")[0]
    assert median.count("<tr>") > 3  # a row per state, not only the headers
    # The demo vendor and buyer are left to meet through the journey a newcomer clicks.
    vendor, buyer = (
        db.session.scalar(sa.select(Organization.id).where(Organization.ref == ref))
        for ref in ("demo-v-brightpath", "demo-b-danang-dst")
    )
    assert not db.session.scalar(
        sa.select(Introduction.id).where(
            Introduction.vendor_id == vendor, Introduction.buyer_id == buyer
        )
    )
