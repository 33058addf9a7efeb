"""``portal mail digest`` and ``portal mail alerts``: queue digests and lead alerts now."""

from __future__ import annotations

import datetime as dt

import click

from portal.db import utc_now
from portal.notifications.alerts import run_lead_alerts
from portal.notifications.services import run_digests


def _parse_now(value: str | None) -> dt.datetime:
    if not value:
        return utc_now()
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter("give an ISO date and time, e.g. 2026-03-02T08:00") from exc
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


@click.command("digest")
@click.option("--now", "now_text", help="Act as if it were this ISO time (UTC if no zone).")
@click.option(
    "--due-only", is_flag=True, help="Only members whose weekly slot came (as the worker does)."
)
def digest_command(now_text: str | None, due_only: bool) -> None:
    """Queue one digest per digest-mode member who has something new."""
    report = run_digests(_parse_now(now_text), due_only=due_only)
    click.echo(
        f"digests queued: {report.sent}, nothing new: {report.empty}, failed: {report.failed}"
    )
    if report.failed:
        raise SystemExit(1)


@click.command("alerts")
@click.option("--now", "now_text", help="Act as if it were this ISO time (UTC if no zone).")
def alerts_command(now_text: str | None) -> None:
    """Queue one lead alert per immediate-mode member with new leads (as the worker does)."""
    report = run_lead_alerts(_parse_now(now_text))
    changed = "something" if report.changed else "nothing"
    click.echo(
        f"lead alerts queued: {report.sent}, nothing new: {report.empty}, "
        f"failed: {report.failed}; {changed} searchable changed since the last pass"
    )
    if report.failed:
        raise SystemExit(1)
