"""``portal index``: apply pending events, rebuild, check and describe the search index."""

from __future__ import annotations

import os
import sys

import click
from flask.cli import AppGroup
from tqdm import tqdm

from portal.matching.store.snapshot import build_snapshot, vector_progress
from portal.search.index import IndexOutdated, IndexStore, read_state
from portal.search.sync import apply_pending_events, check, expected_count, rebuild

index = AppGroup("index", help="Keep the Whoosh search index in step with the database.")


@index.command("sync")
def sync_command() -> None:
    """Apply every pending index event (what the worker and requests do after commits)."""
    report = apply_pending_events(wait=30.0)
    if report.locked:
        raise click.ClickException("another process is writing the index; try again")
    if report.outdated is not None:
        raise click.ClickException(str(IndexOutdated(report.outdated)))
    click.echo(
        f"applied {report.events} event(s): {report.updated} document(s) updated, "
        f"{report.deleted} removed; last event {report.state.last_event}"
    )


@index.command("rebuild")
@click.option(
    "--procs", default=min(os.cpu_count() or 1, 2), show_default=True, help="Writer processes."
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: when stderr is a terminal).",
)
@click.option(
    "--if-outdated",
    is_flag=True,
    help="Only if the live index was built with another schema version (after an upgrade).",
)
def rebuild_command(procs: int, progress: bool | None, if_outdated: bool) -> None:
    """Build a fresh index from the database beside the live one, then swap it in.

    Interrupting it (Ctrl-C) leaves the live index serving as before. `make run` passes
    --if-outdated, so that a developer's old index is rebuilt once after an upgrade
    instead of answering "being rebuilt" until a worker runs.
    """
    if if_outdated and IndexStore.from_app().outdated_version() is None:
        click.echo("the search index is up to date with this version's schema")
        return
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=expected_count(), unit="doc", disable=not show, file=sys.stderr)
    try:
        report = rebuild(progress=bar.update, procs=procs, also_build=build_snapshot)
    except KeyboardInterrupt:
        bar.close()
        raise click.ClickException("rebuild interrupted; the live index was not changed") from None
    bar.close()
    click.echo(
        f"rebuilt {report.documents} document(s) into {report.generation}; "
        f"caught up {report.caught_up.events} event(s) written meanwhile"
    )


@index.command("check")
@click.option("--show", default=20, show_default=True, help="How many ids to list per kind.")
def check_command(show: int) -> None:
    """Report documents missing, stale or extra against the database; exit 1 if any."""
    report = check()
    click.echo(
        f"database: {report.expected} searchable; index: {report.indexed} document(s); "
        f"last event applied {report.state.last_event}"
    )
    for label, ids in (
        ("missing", report.missing),
        ("stale", report.stale),
        ("extra", report.extra),
    ):
        if ids:
            more = f" (+{len(ids) - show} more)" if len(ids) > show else ""
            click.echo(f"{label}: {len(ids)}: {', '.join(ids[:show])}{more}")
    if report.outdated is not None:
        click.echo(str(IndexOutdated(report.outdated)))
    if not report.ok:
        raise SystemExit(1)
    click.echo("index is in step with the database")


@index.command("status")
def status_command() -> None:
    """Where the live index is and how far it has applied the event table."""
    store = IndexStore.from_app()
    store.open()
    with store.open().searcher() as searcher:
        state = read_state(searcher)
        count = searcher.doc_count() - 1
    generation = store.current_generation()
    click.echo(f"live generation: {generation}")
    outdated = store.outdated_version()
    if outdated is not None:
        click.echo(str(IndexOutdated(outdated)))
    click.echo(f"documents: {count}; last event applied: {state.last_event}")
    vectors = vector_progress(generation) if generation is not None else None
    if vectors is None:
        click.echo("leads snapshot: not built yet (the first leads request builds it)")
    else:
        note = "" if vectors.complete else " (leads rank without the semantic signal until then)"
        click.echo(f"sentence vectors: {vectors.done} of {vectors.total} records{note}")
