"""The mail outbox against a real SMTP server: commit, rollback, failure, retry, CLI."""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.accounts.models import Role
from portal.accounts.services import create_user
from portal.db import utc_now
from portal.extensions import db
from portal.mail.models import OutboxMessage
from portal.mail.services import (
    FIRST_RETRY,
    LONGEST_RETRY,
    deliver_pending,
    pending_count,
    queue_mail,
    retry_delay,
)


def _queue(recipient: str = "someone@example.org") -> OutboxMessage:
    """A real account mail, rendered from its template like any other."""
    return queue_mail(
        recipient,
        "Reset your password",
        "reset_password",
        user={"full_name": "Someone", "email": recipient},
        reset_url="http://localhost/reset/abc",
        valid_hours=2,
    )


def _outbox() -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def _closed_port() -> int:
    """A loopback port with nothing listening: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_mail_queued_by_a_request_that_commits_arrives_after_it(client: Any, mailbox: Any) -> None:
    create_user("ada@vendor.example", "correct horse battery", Role.VENDOR, email_confirmed=True)
    db.session.commit()

    response = client.post("/reset", data={"email": "ada@vendor.example"})

    assert response.status_code == 302
    [message] = mailbox.messages
    assert message["To"] == "ada@vendor.example"
    assert message["Subject"] == "Reset your password"
    assert "http://localhost/reset/" in mailbox.body(message)
    [row] = _outbox()
    assert row.sent_at is not None
    assert row.attempts == 1
    assert pending_count() == 0


def test_mail_queued_in_a_rolled_back_transaction_is_never_sent(app: Flask, mailbox: Any) -> None:
    _queue()
    db.session.rollback()

    report = deliver_pending()

    assert (report.sent, report.failed) == (0, 0)
    assert mailbox.messages == []
    assert _outbox() == []


def test_a_failed_delivery_is_kept_with_backoff_then_sent_exactly_once(
    app: Flask, mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    message_id = _queue().id
    db.session.commit()
    working_port = app.config["PORTAL_MAIL_PORT"]
    monkeypatch.setitem(app.config, "PORTAL_MAIL_PORT", _closed_port())

    before = utc_now()
    report = deliver_pending()
    after = utc_now()

    assert (report.sent, report.failed) == (0, 1)
    row = db.session.get(OutboxMessage, message_id)
    assert row is not None
    assert row.sent_at is None
    assert row.attempts == 1
    assert row.last_error  # e.g. "ConnectionRefusedError: [Errno 111] Connection refused"
    assert before + retry_delay(1) <= row.next_attempt_at <= after + retry_delay(1)
    assert mailbox.messages == []
    # Not due yet: another pass, even with the server back, leaves it alone.
    monkeypatch.setitem(app.config, "PORTAL_MAIL_PORT", working_port)
    assert deliver_pending().sent == 0
    assert pending_count() == 1

    row.next_attempt_at = utc_now() - dt.timedelta(seconds=1)
    db.session.commit()
    report = deliver_pending()

    assert (report.sent, report.failed) == (1, 0)
    assert len(mailbox.messages) == 1
    assert row.sent_at is not None
    assert row.attempts == 2
    assert row.last_error == ""
    assert (deliver_pending().sent, len(mailbox.messages)) == (0, 1)


def test_repeated_failures_push_the_next_attempt_further_out(
    app: Flask, mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    message_id = _queue().id
    db.session.commit()
    monkeypatch.setitem(app.config, "PORTAL_MAIL_PORT", _closed_port())
    waits = []
    for _ in range(3):
        row = db.session.get(OutboxMessage, message_id)
        assert row is not None
        row.next_attempt_at = utc_now() - dt.timedelta(seconds=1)
        db.session.commit()
        started = utc_now()
        assert deliver_pending().failed == 1
        waits.append(row.next_attempt_at - started)
    assert waits[0] < waits[1] < waits[2]
    assert row.attempts == 3


def test_worker_once_delivers_pending_mail(app: Flask, runner: Any, mailbox: Any) -> None:
    _queue("one@example.org")
    _queue("two@example.org")
    db.session.commit()

    result = runner.invoke(args=["worker", "--once"])

    assert result.exit_code == 0, result.output
    assert "handled 2 item(s)" in result.output
    assert sorted(m["To"] for m in mailbox.messages) == ["one@example.org", "two@example.org"]
    assert pending_count() == 0


def test_mail_send_delivers_pending_mail_and_reports(app: Flask, runner: Any, mailbox: Any) -> None:
    _queue()
    db.session.commit()

    result = runner.invoke(args=["mail", "send"])

    assert result.exit_code == 0, result.output
    assert "sent 1, failed 0 (will be retried), 0 waiting" in result.output
    assert len(mailbox.messages) == 1
    assert runner.invoke(args=["mail", "status"]).output.strip() == (
        "0 message(s) waiting for delivery"
    )


def test_mail_send_reports_failures_and_keeps_them(
    app: Flask, runner: Any, mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _queue()
    db.session.commit()
    monkeypatch.setitem(app.config, "PORTAL_MAIL_PORT", _closed_port())

    result = runner.invoke(args=["mail", "send"])

    assert result.exit_code == 0, result.output
    assert "sent 0, failed 1 (will be retried), 1 waiting" in result.output
    assert mailbox.messages == []


def test_retry_delay_doubles_from_thirty_seconds_up_to_six_hours() -> None:
    delays = [retry_delay(attempts) for attempts in range(1, 16)]
    assert delays[:4] == [dt.timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert delays == sorted(delays)
    assert delays[0] == FIRST_RETRY
    assert max(delays) == LONGEST_RETRY
    assert delays[-1] == LONGEST_RETRY


@pytest.mark.parametrize("attempts", [43, 100, 10_000])
def test_retry_delay_stays_capped_after_many_failures(attempts: int) -> None:
    assert retry_delay(attempts) == LONGEST_RETRY


def test_without_an_smtp_server_mail_is_written_to_files_a_developer_reads(
    app: Flask, client: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded default has no SMTP server: a newcomer who registers must still be
    able to follow the confirmation link."""
    folder = tmp_path / "mail"
    monkeypatch.setitem(app.config, "PORTAL_MAIL_SERVER", "")
    monkeypatch.setitem(app.config, "PORTAL_MAIL_DIR", str(folder))
    create_user("ada@vendor.example", "correct horse battery", Role.VENDOR, email_confirmed=True)
    db.session.commit()

    assert client.post("/reset", data={"email": "ada@vendor.example"}).status_code == 302

    [path] = folder.glob("*.eml")
    text = path.read_text(encoding="utf-8")
    assert "To: ada@vendor.example" in text
    assert "Subject: Reset your password" in text
    # The link is whole on one line, to copy from the file as it is.
    [link] = [line for line in text.splitlines() if line.startswith("http://localhost/reset/")]
    assert client.get(link.removeprefix("http://localhost")).status_code == 200
    assert pending_count() == 0
    result = app.test_cli_runner().invoke(args=["mail", "status"])
    assert str(folder) in result.output
