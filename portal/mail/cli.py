"""``portal mail``: look at and deliver the mail outbox from the command line."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from portal.mail.services import deliver_pending, mail_folder, pending_count
from portal.notifications.cli import alerts_command, digest_command


@click.group(cls=AppGroup)
def mail() -> None:
    """Inspect and deliver the mail outbox."""


@mail.command("send")
def send_command() -> None:
    """Deliver every message that is due now."""
    total_sent = total_failed = 0
    while True:
        report = deliver_pending()
        total_sent += report.sent
        total_failed += report.failed
        if report.sent + report.failed == 0:
            break
    click.echo(
        f"sent {total_sent}, failed {total_failed} (will be retried), {pending_count()} waiting"
    )


@mail.command("status")
def status_command() -> None:
    """How many messages wait for delivery, and where mail goes."""
    click.echo(f"{pending_count()} message(s) waiting for delivery")
    if not current_app.config["PORTAL_MAIL_SERVER"]:
        click.echo(f"no SMTP server set (PORTAL_MAIL_SERVER): mail is written to {mail_folder()}")


mail.add_command(digest_command)
mail.add_command(alerts_command)
