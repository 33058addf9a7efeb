"""``portal notices``: housekeeping of the notice documents' files."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import AppGroup

from portal.notices.services import prune_files


@click.group(cls=AppGroup)
def notices() -> None:
    """Notice documents: delete files no document needs; list documents missing a file."""


@notices.command("prune-files")
@click.option(
    "--older-than",
    "hours",
    type=click.IntRange(min=1),
    default=24,
    show_default=True,
    help="Only files last written this many hours ago or more.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
def prune_files_command(hours: int, dry_run: bool) -> None:
    """Delete upload files that no current document uses; report documents without a file."""
    report = prune_files(older_than=dt.timedelta(hours=hours), dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {len(report.deleted)} file(s) no document uses")
    for name in report.deleted:
        click.echo(f"  {name}")
    if report.missing:
        ids = ", ".join(str(document_id) for document_id in report.missing)
        click.echo(f"documents whose file is missing (restore it from a backup): {ids}")
        raise SystemExit(1)
