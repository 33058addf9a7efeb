"""``portal import``, ``portal export`` and ``portal demo``: thin wrappers that commit.

Exit codes: 0 success; 1 the file has errors (nothing changed); 130 interrupted by
Ctrl-C (nothing changed); click's own 2 for a bad path or option.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from tqdm import tqdm

from portal.db import BULK_ROWS, refresh_planner_statistics
from portal.exchange.exporter import export_file
from portal.exchange.importer import ImportReport, InvalidFile, ProgressCallback, import_file
from portal.exchange.records import ExchangeError
from portal.extensions import db
from portal.matching.store.snapshot import build_snapshot
from portal.search.index import IndexOutdated
from portal.search.sync import apply_pending_events, expected_count, rebuild

# Files with fewer records than this import in a blink; a bar would only be noise.
PROGRESS_THRESHOLD = 5000
MAX_ERRORS_SHOWN = 200


def count_lines(path: Path) -> int:
    """Lines in the file, counted fast in binary, to size the progress bar."""
    lines = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines


class ProgressBars:
    """A tqdm bar on stderr for each phase of a large import; silent for small files."""

    LABELS = {"check": "checking", "write": "importing"}

    def __init__(self, path: Path) -> None:
        self.lines = count_lines(path)
        self.enabled = self.lines > PROGRESS_THRESHOLD
        self.bars: dict[str, tqdm] = {}

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        bar = self.bars.get(phase)
        if bar is None:
            bar = tqdm(
                total=total if total is not None else self.lines,
                desc=self.LABELS.get(phase, phase),
                unit=" records",
                file=sys.stderr,
                leave=False,
            )
            self.bars[phase] = bar
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def progress_for(path: Path) -> ProgressBars:
    return ProgressBars(path)


def _print_errors(errors: list, heading: str) -> None:
    click.echo(heading, err=True)
    for error in errors[:MAX_ERRORS_SHOWN]:
        click.echo(f"  {error}", err=True)
    if len(errors) > MAX_ERRORS_SHOWN:
        click.echo(f"  ... and {len(errors) - MAX_ERRORS_SHOWN} more errors", err=True)


def update_search_index(records: int) -> None:
    """Make the import searchable before the command exits, so its time includes indexing.

    A few records are applied as events; a large import is indexed faster by building a
    fresh generation (several writer processes) than by applying its events one by one.
    If indexing fails, the import stands and the events wait for the next drain.
    """
    try:
        if records <= PROGRESS_THRESHOLD:
            outdated = apply_pending_events(wait=30.0).outdated
            if outdated is not None:  # the import stands; its events wait for the rebuild
                click.echo(f"search index not updated: {IndexOutdated(outdated)}", err=True)
            return
        show = sys.stderr.isatty()
        with tqdm(
            total=expected_count(), unit="doc", desc="indexing", disable=not show, file=sys.stderr
        ) as bar:
            report = rebuild(
                progress=bar.update, procs=min(os.cpu_count() or 1, 2), also_build=build_snapshot
            )
        click.echo(f"indexed {report.documents} searchable record(s)")
    except KeyboardInterrupt:
        click.echo("indexing interrupted: the import stands; run `portal index rebuild`", err=True)
        raise SystemExit(130) from None
    except Exception as exc:  # the events wait in the database for the next drain
        db.session.rollback()
        click.echo(f"search index not updated yet ({exc}); run `portal index sync`", err=True)


def run_import(path: Path, skip_bad: bool = False, commit: bool = True) -> ImportReport:
    """Import and commit, or roll back and exit with a message; shared with ``demo``,
    which commits itself once its accounts are made too."""
    progress: ProgressCallback = progress_for(path)
    try:
        report = import_file(path, skip_bad=skip_bad, progress=progress)
    except InvalidFile as exc:
        db.session.rollback()
        _print_errors(exc.report.all_errors, f"{path}: {exc}:")
        sys.exit(1)
    except ExchangeError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        db.session.rollback()
        click.echo("\ninterrupted: the import was rolled back, nothing changed", err=True)
        sys.exit(130)
    finally:
        if isinstance(progress, ProgressBars):
            progress.close()
    if commit:
        db.session.commit()
    if report.skipped:
        errors = len(report.skipped)
        _print_errors(
            report.skipped,
            f"skipped {report.skipped_records} bad record(s), with {errors} error(s):",
        )
    return report


_file_argument = click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
)


@click.command("import")
@_file_argument
@click.option(
    "--skip-bad",
    is_flag=True,
    help="Import the good records and list the bad ones, instead of importing nothing.",
)
@with_appcontext
def import_command(file: Path, skip_bad: bool) -> None:
    """Import organizations, needs and events from FILE (smartcity-matchmaking/1 JSON Lines).

    The whole file is checked first; any bad record is reported by line and field and
    nothing is changed (unless --skip-bad). Records whose ref exists are updated, so
    importing a file twice is harmless. Imported organizations are VERIFIED at once:
    trade staff import attendee lists they vouch for. Existing organizations keep their
    verification status. Unknown fields are errors, so that a typo never drops data.
    Ctrl-C rolls the whole import back.
    """
    report = run_import(file, skip_bad=skip_bad)
    click.echo(report.summary())
    if report.organizations + report.needs >= BULK_ROWS:
        refresh_planner_statistics(db.session)
    update_search_index(report.organizations + report.needs)
    update_lead_vectors(report.organizations + report.needs)


def update_lead_vectors(records: int) -> None:
    """Queue the sentence vectors of the records the import changed and, for an import
    small enough to be indexed event by event, compute them (with any running workers,
    waiting for the chunks they hold), so that leads are up to date when the command exits
    and no process embeds them again. Only where the model is prepared already (the first
    preparation is the worker's or `portal leads vectors`'s job). A large import leaves
    them queued for `portal worker` processes (add workers, on any machine, to go faster)
    or `portal leads vectors`. If it fails, the import stands and the worker does it."""
    from portal.matching.store.queue import (
        feed_vector_queue,
        pending_vectors,
        sentence_encoder,
        update_vectors,
    )

    try:
        encoder = sentence_encoder()
        if encoder is None:
            return
        if records > PROGRESS_THRESHOLD:
            feed_vector_queue()
            click.echo(
                f"{pending_vectors()} record(s) queued for sentence vectors: "
                "`portal worker` or `portal leads vectors` computes them"
            )
            return
        work = update_vectors(encoder.encode, wait_for_others=True)
    except Exception as exc:  # the worker computes them later
        db.session.rollback()
        click.echo(f"lead vectors not updated yet ({exc}); the worker will", err=True)
        return
    if work.embedded:
        click.echo(f"stored the sentence vectors of {work.embedded} changed record(s) for leads")


@click.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@with_appcontext
def export_command(file: Path) -> None:
    """Export every organization, need and event to FILE in the exchange format."""
    try:
        counts = export_file(file)
    except OSError as exc:
        raise click.ClickException(f"cannot write {file}: {exc.strerror or exc}") from exc
    text = f"exported {counts.organizations} organizations and {counts.needs} needs"
    if counts.events:
        text += (
            f", {counts.events} events, {counts.participants} participants and "
            f"{counts.meeting_requests} meeting requests"
        )
    click.echo(f"{text} to {file}")


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the portal holds any organization.")
@with_appcontext
def demo_command(if_empty: bool) -> None:
    """Load the demo organizations and needs and create demo logins (NOT for production).

    The demo accounts have fixed, published passwords; use them on a laptop or a test
    portal only.
    """
    from portal.demo import (
        DEMO_ACCOUNTS,
        PENDING_ORGANIZATIONS,
        create_demo_accounts,
        create_demo_activity,
        demo_file,
        portal_is_empty,
    )

    if if_empty and not portal_is_empty():
        click.echo("the portal already holds organizations; demo data not loaded")
        return
    with demo_file() as path:
        report = run_import(path, commit=False)
    created = create_demo_accounts()
    made = create_demo_activity()
    db.session.commit()
    click.echo(f"demo data: {report.summary()}")
    if made:
        click.echo(
            f"demo activity: {made} introductions at every stage and "
            f"{len(PENDING_ORGANIZATIONS)} organizations waiting for verification"
        )
    update_search_index(report.organizations + report.needs)
    click.echo("demo logins (demo-only passwords, published in the code):")
    for account in DEMO_ACCOUNTS:
        note = "" if account.email in created else " (already existed)"
        click.echo(f"  {account.label:<7} {account.email:<24} {account.password}{note}")
