"""Export then import gives back every record and every field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from exchange_factories import canonical, records_by_ref
from flask import Flask
from support import count_rows

from portal.exchange.exporter import export_file
from portal.extensions import db
from portal.needs.models import Need
from portal.organizations.models import Organization

FIXTURE = Path(__file__).with_name("roundtrip.jsonl")
DEV_DATA = Path("/work/shared/data/dev.jsonl")


def assert_round_trip(runner: Any, source: Path, tmp_path: Path) -> Path:
    result = runner.invoke(args=["import", str(source)])
    assert result.exit_code == 0, result.output
    exported = tmp_path / "out.jsonl"
    result = runner.invoke(args=["export", str(exported)])
    assert result.exit_code == 0, result.output
    before, after = records_by_ref(source), records_by_ref(exported)
    assert after.keys() == before.keys()
    for key, record in before.items():
        assert canonical(after[key]) == canonical(record), key
    return exported


def test_round_trip_of_every_field_and_edge(app: Flask, runner: Any, tmp_path: Path) -> None:
    exported = assert_round_trip(runner, FIXTURE, tmp_path)
    lines = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {"type": "header", "format": "smartcity-matchmaking/1"}
    organizations = [r["ref"] for r in lines if r["type"] == "organization"]
    needs = [r["ref"] for r in lines if r["type"] == "need"]
    assert organizations == sorted(organizations)
    assert needs == sorted(needs)
    assert [r["type"] for r in lines[1:]] == ["organization"] * 4 + ["need"] * 4
    # Empty optional fields are left out, a need's budget and date written as null.
    bare = next(r for r in lines if r.get("ref") == "rt-vendor-bare")
    assert bare == {
        "type": "organization",
        "ref": "rt-vendor-bare",
        "kind": "vendor",
        "name": "Bare Minimum LLC",
        "country": "US",
    }
    defaults = next(r for r in lines if r.get("ref") == "rt-need-defaults")
    assert defaults["status"] == "open"
    assert defaults["budget_usd"] is None and defaults["closes_on"] is None
    # Records already in canonical form come back byte for byte (unicode kept as is).
    source_lines = set(FIXTURE.read_text(encoding="utf-8").splitlines())
    full = next(
        line for line in exported.read_text("utf-8").splitlines() if "rt-vendor-full" in line
    )
    assert full in source_lines


def test_export_then_import_into_an_empty_portal(app: Flask, runner: Any, tmp_path: Path) -> None:
    assert runner.invoke(args=["import", str(FIXTURE)]).exit_code == 0
    first = tmp_path / "first.jsonl"
    export_file(first)
    db.session.execute(sa.delete(Organization))  # needs, capabilities, contacts cascade
    db.session.commit()
    assert count_rows(Need) == 0
    assert runner.invoke(args=["import", str(first)]).exit_code == 0
    second = tmp_path / "second.jsonl"
    export_file(second)
    assert second.read_bytes() == first.read_bytes()


@pytest.mark.skipif(not DEV_DATA.exists(), reason="the shared dev data set is not on this machine")
def test_round_trip_of_the_dev_data(app: Flask, runner: Any, tmp_path: Path) -> None:
    assert_round_trip(runner, DEV_DATA, tmp_path)
