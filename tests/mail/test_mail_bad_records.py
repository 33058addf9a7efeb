"""One bad record never stops the mail: a message that cannot be built or is refused fails
alone, the rest of the batch is sent once and marked sent, and subjects are one line."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask

from portal.db import utc_now
from portal.extensions import db
from portal.mail.models import OutboxMessage
from portal.mail.services import SUBJECT_LENGTH, deliver_pending, queue_mail


def _queue(recipient: str, subject: str = "Reset your password") -> OutboxMessage:
    message = queue_mail(
        recipient,
        subject,
        "reset_password",
        user={"full_name": "Someone", "email": recipient},
        reset_url="http://localhost/reset/abc",
        valid_hours=2,
    )
    assert message is not None
    return message


def _stored(recipient: str, subject: str) -> OutboxMessage:
    """A row as an older version (or a bug) may have left it, written past queue_mail."""
    message = OutboxMessage(recipient=recipient, subject=subject, body_text="Hello.\n")
    db.session.add(message)
    db.session.flush()
    return message


def _due_again() -> None:
    db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=utc_now()))
    db.session.commit()


def test_a_message_that_cannot_be_built_fails_alone_and_the_others_go_once(
    app: Flask, mailbox: Any
) -> None:
    first = _queue("first@example.org")
    bad = _stored("bad\r\nBcc: victim@example.org", "Hello")
    last = _queue("last@example.org")
    db.session.commit()

    report = deliver_pending()

    assert (report.sent, report.failed) == (2, 1)
    assert sorted(m["To"] for m in mailbox.messages) == ["first@example.org", "last@example.org"]
    assert first.sent_at is not None and last.sent_at is not None
    assert bad.sent_at is None
    assert "cannot build the message" in bad.last_error
    assert bad.next_attempt_at > utc_now()  # retried later, with backoff, never dropped

    # The next pass (after the backoff) tries the bad one again, and only it.
    _due_again()
    report = deliver_pending()
    assert (report.sent, report.failed) == (0, 1)
    assert len(mailbox.messages) == 2


def test_a_subject_with_a_line_break_left_in_the_outbox_is_sent_on_one_line(
    app: Flask, mailbox: Any
) -> None:
    _stored("ada@example.org", "Acme\r\nBcc: victim@example.org\nCorp is verified")
    db.session.commit()

    assert deliver_pending().sent == 1

    [message] = mailbox.messages
    assert message["Subject"] == "Acme Bcc: victim@example.org Corp is verified"
    assert message["Bcc"] is None


def test_queued_subjects_are_one_line_and_fit_the_column(app: Flask) -> None:
    name = "Đà Nẵng\nWater\tSupply " + "x" * 400

    message = _queue("ada@example.org", f"{name} is verified")

    assert "\n" not in message.subject and "\t" not in message.subject
    assert message.subject.startswith("Đà Nẵng Water Supply xxx")
    assert len(message.subject) == SUBJECT_LENGTH
    assert message.subject.endswith("…")
    db.session.commit()  # fits the column on PostgreSQL too
