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
from portal.matching.profiles import NeedProfile, VendorProfile, count_needs, count_vendors
from portal.matching.services import DEFAULT_LIMIT, current_model, export_leads
from portal.matching.store import (
    complete_vectors,
    live_snapshot,
    sentence_encoder,
    store_changed_vectors,
    vectors_done,
)
from portal.needs.models import Need
from portal.organizations.models import Organization

leads = AppGroup("leads", help="Suggest vendors for needs and needs for vendors.")


def _print(rows: list[dict[str, object]], as_json: bool, side: str) -> None:
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for i, row in enumerate(rows, 1):
        click.echo(f"{i:2}. {row[side]}  score {row['score']}")
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
    """Compute whatever sentence vectors the live snapshot still lacks; say how it went."""
    encoder = sentence_encoder(prepare=True)
    if encoder is None:
        return "sentence encoder not installed: leads use the lexical ranking"
    generation, snapshot = live_snapshot()
    missing = sum(
        len(side) - vectors_done(generation, name)
        for name, side in (("vendors", snapshot.vendors), ("needs", snapshot.needs))
    )
    with tqdm(
        total=missing, unit="text", desc="vectors", disable=not show_progress, file=sys.stderr
    ) as bar:
        result = complete_vectors(generation, encoder.encode, progress=bar.update)
    changed = store_changed_vectors(encoder.encode)
    db.session.commit()
    return (
        f"sentence vectors: {result.done} of {result.total} ready"
        f" ({changed} changed since the snapshot stored)"
    )


@leads.command("vectors")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: when stderr is a terminal).",
)
def vectors_command(progress: bool | None) -> None:
    """Compute the sentence vectors the ranking still lacks (the worker does this too).

    Safe to interrupt: finished chunks are kept and the next run resumes.
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
