"""``portal worker``: each pass of a cycle fails on its own, the others still run.

Mail goes through the real SMTP server on loopback (``mailbox``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
from introductions.intro_factories import make_member, make_person
from missions.page_factories import make_event, make_participant, make_request
from organizations.directory_factories import make_org

from portal import worker
from portal.accounts.models import Role, User
from portal.extensions import db
from portal.mail.services import queue_mail
from portal.missions.models import MeetingRequest, RequestStatus
from portal.missions.requests import expire_requests
from portal.organizations.models import Organization, OrganizationKind
from portal.organizations.services import verify_organization
from portal.search.index import IndexStore


@pytest.fixture
def verified_vendor(app: Flask) -> tuple[Organization, User]:
    """A vendor just verified: an index event waits and its member's mail is queued."""
    vendor = make_org(OrganizationKind.VENDOR, "Lumen Poles", verified=False)
    member = make_member(vendor)
    verify_organization(vendor, make_person(Role.STAFF))
    db.session.commit()
    return vendor, member


def _indexed(organization: Organization) -> bool:
    with IndexStore.from_app().open().searcher() as searcher:
        return searcher.document(doc_id=f"vendor:{organization.id}") is not None


def _failed_passes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        str(record.args[0])  # type: ignore[index]
        for record in caplog.records
        if record.name == "portal.worker" and record.exc_info is not None
    ]


def test_a_broken_index_folder_fails_its_pass_and_the_mail_still_goes(
    app: Flask,
    verified_vendor: tuple[Organization, User],
    mailbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, member = verified_vendor
    not_a_folder = tmp_path / "index-is-a-file"
    not_a_folder.write_text("an operator's mistake")
    monkeypatch.setitem(app.config, "PORTAL_INDEX_DIR", str(not_a_folder))
    worker.run_worker_cycle()
    assert "index events" in _failed_passes(caplog)
    subjects = [m["Subject"] for m in mailbox.to(member.email)]
    assert any("verified" in subject for subject in subjects), subjects


def test_one_failing_pass_is_rolled_back_and_the_others_run(
    app: Flask,
    verified_vendor: tuple[Organization, User],
    mailbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    vendor, member = verified_vendor

    def queues_then_fails(now: dt.datetime) -> None:
        queue_mail(member.email, "Half done", "lead_alert", person=member, leads=[], more=0)
        raise RuntimeError("a bug in the lead alerts")

    monkeypatch.setattr(worker, "run_lead_alerts", queues_then_fails)
    worker.run_worker_cycle()
    assert _failed_passes(caplog) == ["lead alerts"]
    assert _indexed(vendor)  # the index pass before it ran
    subjects = [m["Subject"] for m in mailbox.to(member.email)]
    assert "Half done" not in subjects  # the failed pass's mail was rolled back
    assert any("verified" in subject for subject in subjects), subjects  # mail after it ran


def test_the_worker_command_survives_a_failing_pass(
    app: Flask, runner, mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails() -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(worker, "apply_pending_events", lambda wait: fails())
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output


def _requests_at_a_deadline() -> tuple[MeetingRequest, MeetingRequest]:
    """A pending and an accepted request of an event in Bangkok (UTC+7) whose
    registration closes at the end of 2099-03-01, local time."""
    event = make_event(time_zone="Asia/Bangkok", registration_closes=dt.date(2099, 3, 1))
    vendor = make_participant(event, make_org(OrganizationKind.VENDOR, "Lumen Poles"))
    buyer = make_participant(event, make_org(OrganizationKind.BUYER, "Hue Lighting"))
    other = make_participant(event, make_org(OrganizationKind.BUYER, "Port Lighting"))
    pending = make_request(vendor, buyer)
    accepted = make_request(vendor, other, RequestStatus.ACCEPTED)
    return pending, accepted


def _status(request: MeetingRequest) -> RequestStatus:
    db.session.expire_all()
    return db.session.get(MeetingRequest, request.id).status  # type: ignore[union-attr]


def test_the_mission_requests_pass_expires_unanswered_requests_after_the_deadline(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ("mission requests", worker.mission_requests_pass) in worker.PASSES
    pending, accepted = _requests_at_a_deadline()
    last_minute = dt.datetime(2099, 3, 1, 16, 59, tzinfo=dt.UTC)  # 23:59 in Bangkok
    monkeypatch.setattr(worker, "utc_now", lambda: last_minute)
    assert worker.mission_requests_pass() == 0
    assert _status(pending) == RequestStatus.PENDING
    monkeypatch.setattr(worker, "utc_now", lambda: last_minute + dt.timedelta(minutes=1))
    assert worker.mission_requests_pass() == 1
    db.session.rollback()  # the pass committed: a rollback now keeps the expiry
    assert _status(pending) == RequestStatus.EXPIRED
    assert _status(accepted) == RequestStatus.ACCEPTED  # answered requests stay
    assert worker.mission_requests_pass() == 0  # nothing left to expire


def test_a_failing_expiry_stops_no_other_pass_and_the_next_cycle_expires(
    app: Flask,
    verified_vendor: tuple[Organization, User],
    mailbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, member = verified_vendor
    pending, _ = _requests_at_a_deadline()
    monkeypatch.setattr(worker, "utc_now", lambda: dt.datetime(2099, 3, 2, 12, tzinfo=dt.UTC))

    def expires_then_fails(now: dt.datetime) -> int:
        expire_requests(now)
        raise RuntimeError("a bug in the expiry")

    monkeypatch.setattr(worker, "expire_requests", expires_then_fails)
    worker.run_worker_cycle()
    assert _failed_passes(caplog) == ["mission requests"]
    assert _status(pending) == RequestStatus.PENDING  # the failed pass was rolled back
    subjects = [m["Subject"] for m in mailbox.to(member.email)]
    assert any("verified" in subject for subject in subjects), subjects  # mail still went

    monkeypatch.setattr(worker, "expire_requests", expire_requests)
    caplog.clear()
    worker.run_worker_cycle()
    assert _failed_passes(caplog) == []
    assert _status(pending) == RequestStatus.EXPIRED
