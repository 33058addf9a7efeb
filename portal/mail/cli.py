"""``portal mail``: look at and deliver the mail outbox from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.mail.services import deliver_pending, pending_count
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
    """How many messages wait for delivery."""
    click.echo(f"{pending_count()} message(s) waiting for delivery")


mail.add_command(digest_command)
mail.add_command(alerts_command)
