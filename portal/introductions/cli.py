"""``portal introductions``: the expiry and reminder pass, and the audit trail as CSV."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from flask.cli import AppGroup

from portal.db import utc_now
from portal.extensions import db
from portal.introductions import audit, services, timers


@click.group(cls=AppGroup)
def introductions() -> None:
    """Introductions: expire, remind, ask for outcomes; export the audit trail."""


def run_tick(now: dt.datetime | None = None) -> timers.TickReport:
    """One pass of ``expire_and_remind``, committed (what the worker runs each pass)."""
    report = timers.expire_and_remind(now or utc_now())
    db.session.commit()
    return report


@introductions.command("tick")
@click.option(
    "--now",
    "now_text",
    default=None,
    help="Pretend it is this UTC time (ISO 8601), to see what would expire when.",
)
def tick_command(now_text: str | None) -> None:
    """Expire unanswered requests, send due reminders and outcome questions."""
    now = None
    if now_text:
        try:
            now = dt.datetime.fromisoformat(now_text)
        except ValueError as exc:
            raise click.BadParameter(f"not an ISO 8601 time: {now_text}") from exc
        now = now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now
    report = run_tick(now)
    click.echo(
        f"expired {report.expired}, reminded {report.reminded}, asked for outcome "
        f"{report.asked}, skipped (changed meanwhile) {report.conflicts}"
    )


@introductions.command("audit-export")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The CSV file to write.",
)
@click.option("--introduction", "introduction_id", type=int, help="Only this introduction.")
def audit_export_command(out_path: Path, introduction_id: int | None) -> None:
    """Write the audit trail (every transition and note, private ones too) as CSV."""
    introduction = None
    if introduction_id is not None:
        introduction = services.find_introduction(introduction_id)
        if introduction is None:
            raise click.ClickException(f"no introduction {introduction_id}")
    with out_path.open("w", encoding="utf-8", newline="") as out:
        count = audit.write_audit_csv(out, audit.audit_rows(introduction))
    click.echo(f"wrote {count} audit row(s) to {out_path}")
