"""``portal leads``: leads for one need or vendor, and exports of all of them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import AppGroup
from tqdm import tqdm

from portal.extensions import db
from portal.matching.multilingual import PreparationFailed
from portal.matching.profiles import NeedProfile, VendorProfile, count_needs, count_vendors
from portal.matching.services import DEFAULT_LIMIT, current_model, export_leads
from portal.matching.store.queue import (
    compute_vectors,
    feed_vector_queue,
    pending_vectors,
    reconcile_vectors,
    sentence_encoder,
)
from portal.matching.store.snapshot import assemble_vectors, live_snapshot
from portal.needs.models import Need
from portal.organizations.models import Organization

leads = AppGroup("leads", help="Suggest vendors for needs and needs for vendors.")


def _print(rows: list[dict[str, object]], as_json: bool, side: str) -> None:
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    folded = False
    for i, row in enumerate(rows, 1):
        if not row["shown"] and not folded:
            # where a page stops showing leads first and folds the rest behind "show more"
            click.echo('    (weaker matches: a page shows these only on "show more")')
            folded = True
        click.echo(
            f"{i:2}. {row[side]}  {row['strength']}, probability {row['probability']:.2f},"
            f" score {row['score']}"
        )
        for reason in row["reasons"]:  # type: ignore[attr-defined]
            click.echo(f"      - {reason}")


@leads.command("need")
@click.argument("ref")
@click.option("--limit", default=DEFAULT_LIMIT, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def need_command(ref: str, limit: int, as_json: bool) -> None:
    """The vendors most likely to solve need REF."""
    need = db.session.scalar(sa.select(Need).where(Need.ref == ref))
    if need is None:
        raise click.ClickException(f"no need with ref {ref!r}")
    model = current_model()
    found = model.vendors_for(NeedProfile.of(need), limit)
    _print([lead.as_json("vendor") for lead in found], as_json, "vendor")


@leads.command("vendor")
@click.argument("ref")
@click.option("--limit", default=DEFAULT_LIMIT, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def vendor_command(ref: str, limit: int, as_json: bool) -> None:
    """The open needs vendor REF could win."""
    vendor = db.session.scalar(
        sa.select(Organization).where(Organization.ref == ref, Organization.kind == "vendor")
    )
    if vendor is None:
        raise click.ClickException(f"no vendor with ref {ref!r}")
    model = current_model()
    found = model.needs_for(VendorProfile.of(vendor), limit)
    _print([lead.as_json("need") for lead in found], as_json, "need")


def finish_vectors(show_progress: bool) -> str:
    """Compute every sentence vector the leads still lack, sharing the queue with any
    running workers (and waiting for the chunks they hold); say how it went.

    Ctrl-C ends it with exit code 130, keeping every chunk already committed.
    """
    encoder = sentence_encoder(prepare=True)
    if encoder is None:
        return "sentence encoder not installed: leads use the lexical ranking"
    generation, _ = live_snapshot()
    reconcile_vectors()
    feed_vector_queue()
    done = 0
    with tqdm(
        total=pending_vectors(),
        unit="record",
        desc="vectors",
        disable=not show_progress,
        file=sys.stderr,
    ) as bar:

        def progress(records: int) -> None:
            nonlocal done
            done += records
            bar.update(records)

        try:
            work = compute_vectors(encoder.encode, progress=progress, wait_for_others=True)
        except KeyboardInterrupt:
            db.session.rollback()
            bar.close()
            click.echo(
                f"interrupted: the {done} queued record(s) done so far are kept; "
                "run `portal leads vectors` again to finish",
                err=True,
            )
            raise SystemExit(130) from None
        except PreparationFailed as exc:
            db.session.rollback()
            bar.close()
            raise click.ClickException(
                f"{exc}. The {done} queued record(s) done so far are kept; needs not in "
                "English stay queued: run `portal leads vectors` again, or let "
                "`portal worker` retry"
            ) from None
    ready = assemble_vectors(generation)
    db.session.commit()
    return (
        f"sentence vectors: {ready.done} of {ready.total} records ready"
        f" ({work.embedded} embedded now, {work.claimed} queued record(s) checked)"
    )


@leads.command("vectors")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: when stderr is a terminal).",
)
def vectors_command(progress: bool | None) -> None:
    """Compute the sentence vectors the ranking still lacks (workers do this too).

    Shares the work with any running `portal worker` processes, on this machine or others
    using the same database: each claims its own chunks. Safe to interrupt (Ctrl-C):
    finished chunks are kept and the next run resumes.
    """
    click.echo(finish_vectors(sys.stderr.isatty() if progress is None else progress))


@leads.command("export")
@click.option(
    "--for",
    "direction",
    type=click.Choice(["needs", "vendors"]),
    required=True,
    help="One line per open need (with vendors) or per verified vendor (with needs).",
)
@click.option("--limit", default=DEFAULT_LIMIT, show_default=True, type=click.IntRange(1, 100))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The JSON Lines file to write.",
)
def export_command(direction: str, limit: int, out: Path) -> None:
    """Write every lead to FILE (--out) as JSON Lines.

    One line per open need ({"need": REF, "leads": [...]}) or per verified vendor
    ({"vendor": REF, "leads": [...]}), each lead with its ref, score and reasons, best
    first. Whatever the ranking still lacks (sentence vectors) is completed first, so
    the export has full-quality leads.
    """
    click.echo(finish_vectors(sys.stderr.isatty()), err=True)
    total = count_needs() if direction == "needs" else count_vendors()
    with (
        out.open("w", encoding="utf-8") as handle,
        tqdm(
            total=total, unit=direction[:-1], disable=not sys.stderr.isatty(), file=sys.stderr
        ) as bar,
    ):
        count = export_leads(direction, handle, limit, progress=bar.update)
    click.echo(f"wrote leads for {count} {direction} to {out}")
