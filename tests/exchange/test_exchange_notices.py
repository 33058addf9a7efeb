"""A need's notice type and funding in ``portal import`` and ``portal export``: defaults,
line-numbered errors for bad values (all or nothing), and both written back out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from exchange_factories import buyer, need, write_file
from flask import Flask
from support import count_rows

from portal.exchange.exporter import export_file
from portal.extensions import db
from portal.needs.models import Need


def _need(ref: str) -> Need:
    db.session.expire_all()
    found = db.session.scalar(sa.select(Need).where(Need.ref == ref))
    assert found is not None
    return found


def test_notice_and_funding_are_imported_with_their_defaults(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    path = write_file(
        tmp_path / "notices.jsonl",
        buyer("city"),
        need("tender", notice="rfp", funding={"source": "world-bank", "stage": "procurement"}),
        need("plain"),  # neither field: a concept without known funding
        need("sounding", notice="sources-sought", funding=None),
    )
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output

    tender = _need("tender")
    assert (tender.notice, tender.funding_source, tender.funding_stage) == (
        "rfp",
        "world-bank",
        "procurement",
    )
    plain = _need("plain")
    assert (plain.notice, plain.funding_source, plain.funding_stage) == ("concept", None, None)
    assert _need("sounding").notice == "sources-sought"

    # Importing the record again without funding takes it away, as for any field.
    path = write_file(tmp_path / "again.jsonl", buyer("city"), need("tender", notice="rfi"))
    assert runner.invoke(args=["import", str(path)]).exit_code == 0
    again = _need("tender")
    assert (again.notice, again.funding_source, again.funding_stage) == ("rfi", None, None)


BAD_VALUES = [
    ({"notice": "tender"}, 'need "bad": notice "tender" is not one of'),
    ({"notice": 3}, 'need "bad": notice 3 is not one of'),
    ({"notice": None}, 'need "bad": notice is required'),
    ({"funding": "adb"}, 'need "bad": funding must be null or {"source": str, "stage": str}'),
    ({"funding": {"source": "adb"}}, 'need "bad": funding must be null or'),
    (
        {"funding": {"source": "adb", "stage": "funded", "amount": 5}},
        'need "bad": funding must be null or',
    ),
    ({"funding": {"source": "imf", "stage": "funded"}}, 'need "bad": funding.source "imf"'),
    ({"funding": {"source": "adb", "stage": "signed"}}, 'need "bad": funding.stage "signed"'),
    ({"funding": {"source": "adb", "stage": None}}, 'need "bad": funding.stage null'),
]


@pytest.mark.parametrize(("fields", "message"), BAD_VALUES)
def test_bad_notice_or_funding_is_reported_by_line_and_nothing_is_imported(
    app: Flask, runner: Any, tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    path = write_file(
        tmp_path / "bad.jsonl",
        buyer("city"),  # line 2
        need("good", notice="rfp"),  # line 3
        need("bad", **fields),  # line 4
    )
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 1, result.output
    assert f"line 4: {message}" in result.output
    assert "line 3:" not in result.output
    assert count_rows(Need) == 0  # all or nothing: the good need is not imported either


def test_export_writes_notice_and_funding_always(app: Flask, runner: Any, tmp_path: Path) -> None:
    path = write_file(
        tmp_path / "in.jsonl",
        buyer("city"),
        need("funded", notice="rfi", funding={"source": "ustda", "stage": "funded"}),
        need("unknown"),
    )
    assert runner.invoke(args=["import", str(path)]).exit_code == 0
    out = tmp_path / "out.jsonl"
    export_file(out)
    needs = {
        record["ref"]: record
        for record in map(json.loads, out.read_text(encoding="utf-8").splitlines())
        if record["type"] == "need"
    }
    assert needs["funded"]["notice"] == "rfi"
    assert needs["funded"]["funding"] == {"source": "ustda", "stage": "funded"}
    # Written even when unknown, as budget_usd and closes_on are: a reader sees it.
    assert needs["unknown"]["notice"] == "concept"
    assert needs["unknown"]["funding"] is None
