"""``portal worker``: each pass of a cycle fails on its own, the others still run.

Mail goes through the real SMTP server on loopback (``mailbox``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
from introductions.intro_factories import make_member, make_person
from organizations.directory_factories import make_org

from portal import worker
from portal.accounts.models import Role, User
from portal.extensions import db
from portal.mail.services import queue_mail
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
