"""Mail for the whole portal: queue in the outbox inside the transaction, deliver after it.

``queue_mail`` only adds a row, so a rolled-back transaction sends nothing. Delivery claims
due rows with a short lease, sends them over SMTP with no transaction open, then records
each outcome; a failure is retried with exponential backoff and never dropped. If a
process dies mid-send, the lease runs out and the message is sent again (at least once).

Each message fails alone: one that cannot be built or is refused is recorded as failed
and the rest of the batch goes on, so one bad record never holds up the others. Headers
are built from one-line values (``portal.cleaning``), both when a message is queued and
again when it is sent, so a name with a line break cannot break a subject.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import smtplib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, current_app, render_template
from flask_babel import LazyString, force_locale
from jinja2 import TemplateNotFound

from portal.after_commit import CommitMark
from portal.after_response import after_response
from portal.cleaning import header_line, one_line
from portal.db import utc_now
from portal.extensions import db
from portal.i18n.locales import DEFAULT_LOCALE, is_shipped
from portal.mail.models import OutboxMessage

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
FIRST_RETRY = dt.timedelta(seconds=30)
LONGEST_RETRY = dt.timedelta(hours=6)

MAIL_QUEUED = CommitMark("mail")

# The subject column's length: a subject is cut to fit (with "…"), never refused.
SUBJECT_LENGTH: int = OutboxMessage.__table__.c.subject.type.length  # type: ignore[attr-defined]


def queue_mail(
    recipient: str, subject: str | LazyString, template: str, **context: object
) -> OutboxMessage | None:
    """Write a message rendered from ``templates/mail/<template>.txt`` (and ``.html`` if any).

    Every mail passes the member's preferences here, so none is forgotten: mail to a
    member gets their unsubscribe link (footer and List-Unsubscribe header), times in
    their zone and text in their language (English when they chose none, or for an
    address with no account); optional mail to a member who unsubscribed is not queued
    (None). A subject given as ``lazy_gettext(...)`` is translated here, for the
    recipient, not for whoever caused the mail.
    """
    from portal.notifications.services import mail_policy

    policy = mail_policy(recipient, template)
    if not policy.send:
        return None
    context.setdefault("mail_timezone", policy.timezone)
    context.setdefault("unsubscribe_url", policy.unsubscribe_url)
    with force_locale(policy.locale if is_shipped(policy.locale) else DEFAULT_LOCALE):
        subject_text = str(subject)
        body_text = render_template(f"mail/{template}.txt", **context)
        if policy.unsubscribe_url:
            footer = render_template(
                "mail/_unsubscribe_footer.txt", unsubscribe_url=policy.unsubscribe_url
            )
            body_text = f"{body_text.rstrip()}\n\n{footer}"
        try:
            body_html: str | None = render_template(f"mail/{template}.html", **context)
        except TemplateNotFound:
            body_html = None
    message = OutboxMessage(
        recipient=recipient,
        # Subjects are made of names and titles people typed: one line, cut to fit.
        subject=header_line(subject_text, SUBJECT_LENGTH),
        body_text=body_text,
        body_html=body_html,
        list_unsubscribe=policy.unsubscribe_url,
    )
    db.session.add(message)
    db.session.flush()
    MAIL_QUEUED.mark(db.session())
    return message


def retry_delay(attempts: int) -> dt.timedelta:
    """30 s after the first failure, doubling each time, at most six hours apart."""
    # The exponent is capped first: 30 s * 2**42 no longer fits in a timedelta.
    return min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 20), LONGEST_RETRY)


@dataclass(frozen=True)
class ClaimedMail:
    """A plain copy of a claimed row, so that sending needs no open transaction."""

    id: int
    recipient: str
    subject: str
    body_text: str
    body_html: str | None
    list_unsubscribe: str | None = None


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0


def deliver_pending(limit: int = 100) -> DeliveryReport:
    """Send up to ``limit`` due messages; commits its own short transactions."""
    claimed = _claim_due(limit)
    if not claimed:
        return DeliveryReport()
    outcomes = _send_all(claimed)
    report = DeliveryReport()
    now = utc_now()
    for message in claimed:
        error = outcomes.get(message.id, "no outcome was recorded for this message")
        row = db.session.get(OutboxMessage, message.id)
        if row is None:
            continue
        if error is None:
            row.sent_at = now
            row.last_error = ""
            report.sent += 1
        else:
            row.next_attempt_at = now + retry_delay(row.attempts)
            row.last_error = error[:2000]
            report.failed += 1
            log.warning(
                "mail %s to %s failed (attempt %s): %s", row.id, row.recipient, row.attempts, error
            )
    db.session.commit()
    return report


def _claim_due(limit: int) -> list[ClaimedMail]:
    now = utc_now()
    rows = db.session.scalars(
        sa.select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + LEASE
        claimed.append(
            ClaimedMail(
                row.id,
                row.recipient,
                row.subject,
                row.body_text,
                row.body_html,
                row.list_unsubscribe,
            )
        )
    db.session.commit()
    return claimed


def _send_all(messages: Sequence[ClaimedMail]) -> dict[int, str | None]:
    """Send each message and return its outcome: None when it went, else the error.

    A message that cannot be built or is refused fails alone; only a lost connection
    fails the messages not yet sent, and never those already accepted.
    """
    config = current_app.config
    to_files = not config["PORTAL_MAIL_SERVER"]
    outcomes: dict[int, str | None] = {}
    ready: dict[int, EmailMessage] = {}
    for message in messages:
        try:
            ready[message.id] = _as_email(message, config["PORTAL_MAIL_SENDER"], readable=to_files)
        except Exception as exc:  # a bad record must not stop the others (logged below)
            outcomes[message.id] = f"cannot build the message: {type(exc).__name__}: {exc}"
    if ready:
        send = _write_files if to_files else _send_smtp
        outcomes.update(send(ready))
    return outcomes


def _send_smtp(ready: dict[int, EmailMessage]) -> dict[int, str | None]:
    config = current_app.config
    outcomes: dict[int, str | None] = {}
    try:
        with smtplib.SMTP(
            config["PORTAL_MAIL_SERVER"],
            config["PORTAL_MAIL_PORT"],
            timeout=config["PORTAL_MAIL_TIMEOUT"],
        ) as smtp:
            if config["PORTAL_MAIL_USE_TLS"]:
                smtp.starttls()
            if config["PORTAL_MAIL_USERNAME"]:
                smtp.login(config["PORTAL_MAIL_USERNAME"], config["PORTAL_MAIL_PASSWORD"])
            for message_id, email in ready.items():
                try:
                    smtp.send_message(email)
                    outcomes[message_id] = None
                except smtplib.SMTPServerDisconnected:
                    raise  # the connection is gone: the rest fail below
                except smtplib.SMTPException as exc:  # refused: this message only
                    outcomes[message_id] = f"{type(exc).__name__}: {exc}"
                except OSError:
                    raise  # the socket broke (SMTPException is an OSError too, above)
                except Exception as exc:  # e.g. an address smtplib cannot encode
                    outcomes[message_id] = f"{type(exc).__name__}: {exc}"
    except (OSError, smtplib.SMTPException) as exc:
        for message_id in ready:
            outcomes.setdefault(message_id, f"{type(exc).__name__}: {exc}")
    return outcomes


def mail_folder() -> Path:
    """Where mail is written when no SMTP server is set (development)."""
    return Path(current_app.config["PORTAL_MAIL_DIR"])


def _write_files(ready: dict[int, EmailMessage]) -> dict[int, str | None]:
    """Development's mail catcher: each message as an ``.eml`` file any mail program
    opens (and readable as plain text), newest last by name."""
    outcomes: dict[int, str | None] = {}
    folder = mail_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return dict.fromkeys(ready, f"cannot create the mail folder: {exc.strerror or exc}")
    stamp = utc_now().strftime("%Y%m%dT%H%M%S")
    for message_id, email in ready.items():
        path = folder / f"{stamp}-{message_id:06d}.eml"
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_bytes(email.as_bytes())
            os.replace(tmp, path)
        except OSError as exc:
            outcomes[message_id] = f"cannot write {path.name}: {exc.strerror or exc}"
            continue
        log.info("mail %s written to %s", message_id, path)
        outcomes[message_id] = None
    return outcomes


class UnsendableMessage(ValueError):
    """A stored message whose recipient cannot be put in a header as it is."""


# Files keep each body line whole, in UTF-8 (8bit), so that a link can be copied from
# the file as it is; over SMTP the default policy folds and encodes for any server.
_READABLE = email_policy.default.clone(max_line_length=998)


def _as_email(message: ClaimedMail, sender: str, *, readable: bool = False) -> EmailMessage:
    recipient = message.recipient.strip()
    if not recipient or one_line(recipient) != recipient or " " in recipient:
        raise UnsendableMessage(f"the recipient {recipient!r} is not one email address")
    email = EmailMessage(policy=_READABLE) if readable else EmailMessage()
    cte = "8bit" if readable else None
    email["From"] = sender
    email["To"] = recipient
    # Cleaned again here for rows queued before subjects were cleaned on the way in.
    email["Subject"] = header_line(message.subject, SUBJECT_LENGTH)
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(idstring=f"outbox-{message.id}", domain="portal.localhost")
    if message.list_unsubscribe:  # RFC 2369 and RFC 8058 one-click (a POST to the link)
        email["List-Unsubscribe"] = f"<{one_line(message.list_unsubscribe)}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(message.body_text, cte=cte)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html", cte=cte)
    return email


def pending_count() -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None))
        )
        or 0
    )


def mail_link(endpoint: str, **values: Any) -> str:
    """An absolute link for mail, on ``PORTAL_BASE_URL``, built with or without a request
    (mail is also queued by the CLI, the worker and after a response)."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["PORTAL_BASE_URL"].rstrip("/") + path


def _in_app_context(app: Flask, work: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        with app.app_context():
            try:
                work()
            except Exception:  # the page has gone out already; the worker retries mail
                log.exception("work after the response failed")
                db.session.rollback()

    return run


def _deliver_if_queued() -> None:
    if MAIL_QUEUED.take(db.session()) and current_app.config["PORTAL_MAIL_DELIVERY"] == "request":
        deliver_pending()


def send_after_response(work: Callable[..., object], *args: Any) -> None:
    """Run ``work(*args)`` once this request's response has gone out, commit it, and
    deliver the mail it queued (in request mode; else the worker does).

    For the pages that must answer the same whether or not an email has an account:
    nothing about the account is looked up, written or sent before the response, so
    neither its text nor its timing can tell (password reset, resending a confirmation).
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> None:
        work(*args)
        db.session.commit()
        _deliver_if_queued()

    after_response(_in_app_context(app, run))


def register_delivery(app: Flask) -> None:
    """In the embedded default, deliver a request's committed mail once its response has
    gone out: the page never waits for the SMTP server."""

    @app.after_request
    def deliver_after_response(response: Response) -> Response:
        if MAIL_QUEUED.take(db.session()) and app.config["PORTAL_MAIL_DELIVERY"] == "request":
            after_response(_in_app_context(app, deliver_pending))
        return response
