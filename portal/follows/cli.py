"""``portal follows``: run the followed-need reminders and the saved-search alerts now,
as the worker does, and show what a member's saved searches look for."""

from __future__ import annotations

import datetime as dt

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from portal.accounts.models import User
from portal.db import utc_now
from portal.extensions import db
from portal.follows import services
from portal.follows.alerts import run_saved_search_alerts, send_deadline_reminders

NOW_OPTION = click.option(
    "--now",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"]),
    help="Act as if it were this time, in UTC (e.g. 2026-03-02T08:00).",
)


def _utc(now: dt.datetime | None) -> dt.datetime:
    return now.replace(tzinfo=dt.UTC) if now is not None else utc_now()


@click.group(cls=AppGroup)
def follows() -> None:
    """Followed needs and saved searches: reminders, alerts, a member's searches."""


@follows.command("remind")
@NOW_OPTION
def remind_command(now: dt.datetime | None) -> None:
    """Queue the deadline reminders that are due (each follower and deadline once)."""
    click.echo(f"deadline reminders queued: {send_deadline_reminders(_utc(now))}")


@follows.command("alerts")
@NOW_OPTION
def alerts_command(now: dt.datetime | None) -> None:
    """Match newly public needs against saved searches and queue the due mails."""
    report = run_saved_search_alerts(_utc(now))
    click.echo(
        f"needs newly public: {report.stamped}, new matches: {report.matched}, "
        f"mails queued: {report.mailed}, failed: {report.failed}"
    )
    if report.failed:
        raise SystemExit(1)


@follows.command("searches")
@click.argument("email")
def searches_command(email: str) -> None:
    """List the saved searches of the member with EMAIL and what each looks for."""
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.lower()))
    if user is None:
        raise click.ClickException(f"no account with the email {email}")
    searches = services.saved_searches_of(user)
    if not searches:
        click.echo("no saved searches")
    for search in searches:
        state = "paused" if search.paused_at else search.frequency
        criteria = services.describe_criteria(services.SearchCriteria.of(search))
        click.echo(f"{search.id:>6}  {search.name}  [{state}]  {criteria}")
