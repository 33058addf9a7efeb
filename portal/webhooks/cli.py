"""``portal webhooks``: send due deliveries now, and see what waits or failed."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from portal.extensions import db
from portal.webhooks.delivery import deliver_all
from portal.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint


@click.group(cls=AppGroup)
def webhooks() -> None:
    """Webhooks: send due deliveries now; count what waits and what failed."""


@webhooks.command("deliver")
def deliver_command() -> None:
    """Send every delivery that is due now (what `portal worker` does each cycle)."""
    report = deliver_all()
    click.echo(
        f"delivered {report.delivered}, {report.retrying} to retry later, "
        f"{report.failed} failed for good"
    )


@webhooks.command("status")
def status_command() -> None:
    """Endpoints, and deliveries waiting and failed."""
    counts = dict(
        db.session.execute(
            sa.select(WebhookDelivery.status, sa.func.count()).group_by(WebhookDelivery.status)
        ).all()
    )
    endpoints = db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) or 0
    click.echo(
        f"{endpoints} endpoint(s); {counts.get(DeliveryStatus.PENDING, 0)} delivery(ies) "
        f"waiting, {counts.get(DeliveryStatus.FAILED, 0)} failed, "
        f"{counts.get(DeliveryStatus.DELIVERED, 0)} delivered"
    )
