"""``portal import``: all-or-nothing validation, --skip-bad, re-import, interruption."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from exchange_factories import buyer, need, vendor, write_file
from flask import Flask
from support import count_rows

from portal.exchange import cli as exchange_cli
from portal.exchange.exporter import export_file
from portal.exchange.importer import InvalidFile, import_file, validate_file
from portal.extensions import db
from portal.needs.models import Need
from portal.organizations.models import Capability, Contact, Organization
from portal.outbox import IndexEvent


def table_counts() -> dict[str, int]:
    return {
        model.__name__: count_rows(model) for model in (Organization, Capability, Contact, Need)
    }


def test_a_valid_file_imports_verified_organizations_and_needs(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    path = write_file(
        tmp_path / "ok.jsonl",
        need("need-1", buyer="city"),  # before its buyer
        vendor(
            "acme",
            capabilities=[
                {"title": "First", "description": "a", "sectors": []},
                {"title": "Second", "description": "b", "sectors": ["energy"]},
            ],
        ),
        buyer("city"),
        need("need-2", buyer="city", budget_usd=None, closes_on=None, status="awarded"),
    )
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 2 organizations (2 new, 0 updated) and 2 needs" in result.output

    acme = db.session.scalar(sa.select(Organization).where(Organization.ref == "acme"))
    assert acme is not None
    assert acme.status == "verified"
    assert acme.verified_at is not None
    assert [c.title for c in acme.capabilities] == ["First", "Second"]
    assert [c.email for c in acme.contacts] == ["jane@acme.example.com"]
    awarded = db.session.scalar(sa.select(Need).where(Need.ref == "need-2"))
    assert awarded is not None
    assert awarded.buyer.ref == "city"
    assert (awarded.budget_min, awarded.budget_max, awarded.closes_on) == (None, None, None)
    assert awarded.status == "awarded"


def test_a_need_naming_a_vendor_as_buyer_rejects_the_whole_file(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    path = write_file(
        tmp_path / "bad.jsonl",
        vendor("acme"),
        need("hcmc-07", buyer="acme"),  # line 3
        buyer("city"),
    )
    before = table_counts()
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 1
    assert 'line 3: need "hcmc-07": buyer "acme" is not an organization of kind buyer' in (
        result.output
    )
    assert "nothing imported" in result.output
    assert table_counts() == before


# Each case: the record on line 3 (after the header and a buyer "city"), and what the
# message must say about it.
RULES: list[tuple[Any, str]] = [
    ("{not json", "invalid JSON"),
    ([1, 2], "must be a JSON object"),
    ({"ref": "x"}, "type is required"),
    ({"type": "vendor", "ref": "x"}, 'type "vendor" is not one of'),
    (vendor("bad ref!"), 'ref "bad ref!" must be 1-64 characters'),
    (vendor("x" * 65), "must be 1-64 characters"),
    (buyer("city", name="Again"), 'organization "city": ref duplicates the organization on line 2'),
    (vendor("acme", kind="supplier"), 'organization "acme": kind "supplier" is not one of'),
    ({**vendor("acme"), "name": None}, 'organization "acme": name is required'),
    (vendor("acme", name="   "), "name must not be empty"),
    (vendor("acme", name="n" * 201), "name is 201 characters long"),
    (vendor("acme", name="a\u0000b"), "name contains a NUL character"),
    (vendor("acme", country="VN"), 'country "VN": vendors must be in the United States'),
    (buyer("town", country="US"), 'country "US": buyers must be in an ASEAN country'),
    (buyer("town", country=[]), "country []: buyers must be in an ASEAN country"),
    (vendor("acme", website="ftp://acme.example.com"), "website"),
    (vendor("acme", summary="s" * 5001), "summary is 5001 characters long"),
    (vendor("acme", sectors=["mobility", "spaceflight"]), 'sectors: "spaceflight" is not one'),
    (vendor("acme", markets=["US"]), 'markets: "US" is not one of the ASEAN country codes'),
    (vendor("acme", capabilities=[{"description": "x"}]), "capabilities[1].title is required"),
    (vendor("acme", capabilities="signals"), "capabilities must be a list of objects"),
    (
        vendor("acme", capabilities=[{"title": "x", "sector": ["energy"]}]),
        'capabilities[1]: unknown field "sector"',
    ),
    (vendor("acme", contacts=[{"email": "a@b.example.com"}]), "contacts[1].name is required"),
    (
        vendor("acme", contacts=[{"name": "A", "email": "not-an-email"}]),
        'contacts[1].email "not-an-email" is not an email address',
    ),
    (vendor("acme", sumary="typo"), 'organization "acme": unknown field "sumary"'),
    (need("n1", buyer="nowhere"), 'buyer "nowhere" is not an organization in the file or'),
    (need("n1", title=""), 'need "n1": title must not be empty'),
    ({**need("n1"), "description": None}, "description is required"),
    (need("n1", description="d" * 10001), "description is 10001 characters long"),
    (need("n1", budget_usd={"min": 10, "max": 5}), "budget_usd: min 10 is greater than max 5"),
    (need("n1", budget_usd={"min": -1, "max": 5}), "budget_usd.min -1 is out of range"),
    (need("n1", budget_usd={"min": 1.5, "max": 5}), "budget_usd.min must be a whole number"),
    (need("n1", budget_usd={"min": 1}), "budget_usd must be null or"),
    (need("n1", closes_on="2027-02-30"), 'closes_on "2027-02-30" is not a date'),
    (need("n1", closes_on="31/12/2027"), 'closes_on "31/12/2027" is not a date'),
    (need("n1", status="pending"), 'status "pending" is not one of open, closed, awarded'),
    (need("n1", budget="big"), 'need "n1": unknown field "budget"'),
    ({"type": "header", "format": "smartcity-matchmaking/1"}, "only the first line may be"),
]


@pytest.mark.parametrize(("record", "message"), RULES)
def test_each_rule_names_the_line_and_the_field(
    app: Flask, runner: Any, tmp_path: Path, record: Any, message: str
) -> None:
    line = record if isinstance(record, str) else json.dumps(record)
    path = write_file(tmp_path / "case.jsonl", buyer("city"), line, vendor("fine"))
    before = table_counts()
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 1, result.output
    assert f"line 3: {message}" in result.output or (
        "line 3:" in result.output and message in result.output
    ), result.output
    assert "line 2:" not in result.output  # the good records are not blamed
    assert table_counts() == before


def test_the_header_must_come_first_and_name_the_format(app: Flask, tmp_path: Path) -> None:
    missing = write_file(tmp_path / "no-header.jsonl", "", buyer("city"), header=False)
    report = validate_file(missing)
    assert report.header_error is not None
    assert str(report.header_error).startswith("line 2: the first line must be the header")

    wrong = write_file(tmp_path / "v2.jsonl", {"type": "header", "format": "other/2"}, header=False)
    assert 'format "other/2" is not supported' in str(validate_file(wrong).header_error)

    empty = write_file(tmp_path / "empty.jsonl", header=False)
    assert "the file is empty" in str(validate_file(empty).header_error)


def test_a_wrong_header_is_refused_even_with_skip_bad(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    path = write_file(tmp_path / "no-header.jsonl", buyer("city"), header=False)
    result = runner.invoke(args=["import", "--skip-bad", str(path)])
    assert result.exit_code == 1
    assert "line 1: the first line must be the header" in result.output
    assert count_rows(Organization) == 0


def test_a_buyer_may_already_be_in_the_portal(app: Flask, runner: Any, tmp_path: Path) -> None:
    first = write_file(tmp_path / "orgs.jsonl", buyer("city"), vendor("acme"))
    assert runner.invoke(args=["import", str(first)]).exit_code == 0
    needs_only = write_file(tmp_path / "needs.jsonl", need("n1", buyer="city"))
    result = runner.invoke(args=["import", str(needs_only)])
    assert result.exit_code == 0, result.output
    assert count_rows(Need) == 1

    to_vendor = write_file(tmp_path / "bad-needs.jsonl", need("n2", buyer="acme"))
    result = runner.invoke(args=["import", str(to_vendor)])
    assert result.exit_code == 1
    assert 'line 2: need "n2": buyer "acme" is not an organization of kind buyer' in result.output


def test_an_organization_cannot_change_kind(app: Flask, runner: Any, tmp_path: Path) -> None:
    assert (
        runner.invoke(args=["import", str(write_file(tmp_path / "a.jsonl", vendor("x")))]).exit_code
        == 0
    )
    path = write_file(tmp_path / "b.jsonl", buyer("x"))
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 1
    assert 'line 2: organization "x": kind cannot change from vendor to buyer' in result.output


def test_all_errors_are_reported_not_just_the_first(app: Flask, tmp_path: Path) -> None:
    path = write_file(
        tmp_path / "many.jsonl",
        vendor("a", country="VN", website="nope"),
        need("n", buyer="nowhere", status="x"),
        vendor("a"),
    )
    with pytest.raises(InvalidFile) as caught:
        import_file(path)
    messages = [str(error) for error in caught.value.report.errors]
    assert [m.split(":")[0] for m in messages] == ["line 2", "line 2", "line 3", "line 3", "line 4"]
    assert any("website" in m for m in messages)
    assert any("duplicates the organization on line 2" in m for m in messages)


def test_the_printout_is_capped(app: Flask, runner: Any, tmp_path: Path) -> None:
    bad = [vendor(f"v{i}", country="VN") for i in range(250)]
    result = runner.invoke(args=["import", str(write_file(tmp_path / "bad.jsonl", *bad))])
    assert result.exit_code == 1
    assert "line 201:" in result.output
    assert "line 202:" not in result.output
    assert "... and 50 more errors" in result.output


def test_skip_bad_imports_the_good_and_lists_the_bad(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    path = write_file(
        tmp_path / "mixed.jsonl",
        buyer("city"),
        vendor("bad", country="TH"),  # line 3
        need("n1", buyer="city"),
        need("n2", buyer="bad"),  # line 5: its buyer is not imported
        vendor("good"),
    )
    result = runner.invoke(args=["import", "--skip-bad", str(path)])
    assert result.exit_code == 0, result.output
    assert "skipped 2 bad record(s), with 2 error(s):" in result.output
    assert 'line 3: organization "bad": country "TH"' in result.output
    assert 'line 5: need "n2": buyer "bad" is not imported: its line 3 has errors' in result.output
    refs = set(db.session.scalars(sa.select(Organization.ref)))
    assert refs == {"city", "good"}
    assert list(db.session.scalars(sa.select(Need.ref))) == ["n1"]


def test_skip_bad_counts_records_not_errors(app: Flask, runner: Any, tmp_path: Path) -> None:
    """Regression: a record with three errors was counted as three skipped records."""
    path = write_file(
        tmp_path / "mixed.jsonl",
        vendor("bad", country="TH", website="ftp://x", sectors=["nope"]),  # three errors
        vendor("good"),
    )

    result = runner.invoke(args=["import", "--skip-bad", str(path)])

    assert result.exit_code == 0, result.output
    assert "skipped 1 bad record(s), with 3 error(s):" in result.output
    assert result.output.count("line 2:") == 3
    assert "imported 1 organizations (1 new, 0 updated)" in result.output
    assert "; skipped 1 bad record(s)" in result.output


def test_importing_twice_changes_nothing_and_keeps_the_status(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    path = write_file(
        tmp_path / "data.jsonl", buyer("city"), vendor("acme"), need("n1", buyer="city")
    )
    assert runner.invoke(args=["import", str(path)]).exit_code == 0
    acme = db.session.scalar(sa.select(Organization).where(Organization.ref == "acme"))
    assert acme is not None
    acme.status = "rejected"  # staff changed their mind after the first import
    db.session.commit()
    export_file(tmp_path / "first.jsonl")
    counts = table_counts()

    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0
    assert "(0 new, 2 updated)" in result.output
    export_file(tmp_path / "second.jsonl")
    assert (tmp_path / "second.jsonl").read_bytes() == (tmp_path / "first.jsonl").read_bytes()
    assert table_counts() == counts
    db.session.expire_all()
    assert db.session.scalar(sa.select(Organization.status).where(Organization.ref == "acme")) == (
        "rejected"
    )


def test_reimport_replaces_capabilities_and_contacts_and_updates_needs(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    first = write_file(tmp_path / "1.jsonl", buyer("city"), vendor("acme"), need("n1"))
    assert runner.invoke(args=["import", str(first)]).exit_code == 0
    second = write_file(
        tmp_path / "2.jsonl",
        vendor("acme", name="Acme Two", capabilities=[{"title": "New"}], contacts=[]),
        need("n1", title="Retitled", status="closed"),
    )
    result = runner.invoke(args=["import", str(second)])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    acme = db.session.scalar(sa.select(Organization).where(Organization.ref == "acme"))
    assert acme is not None
    assert acme.name == "Acme Two"
    assert [c.title for c in acme.capabilities] == ["New"]
    assert acme.contacts == []
    assert count_rows(Capability) == 1
    n1 = db.session.scalar(sa.select(Need).where(Need.ref == "n1"))
    assert n1 is not None
    assert (n1.title, n1.status) == ("Retitled", "closed")


def test_an_interrupted_import_leaves_the_database_as_before(app: Flask, tmp_path: Path) -> None:
    import_file(write_file(tmp_path / "base.jsonl", buyer("city"), vendor("acme")))
    db.session.commit()
    export_file(tmp_path / "before.jsonl")
    counts = table_counts()

    records = [vendor(f"v{i}") for i in range(6)] + [vendor("acme", name="Changed")]
    path = write_file(tmp_path / "big.jsonl", *records, need("n1"))
    calls: list[int] = []

    def interrupt_after_first_batch(phase: str, done: int, total: int | None) -> None:
        if phase == "write":
            calls.append(done)
            if done >= 4:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_file(path, progress=interrupt_after_first_batch, batch_size=2)
    assert calls == [0, 2, 4]  # some batches were written before the interruption
    db.session.rollback()
    assert table_counts() == counts
    export_file(tmp_path / "after.jsonl")
    assert (tmp_path / "after.jsonl").read_bytes() == (tmp_path / "before.jsonl").read_bytes()


def test_ctrl_c_in_the_command_rolls_back_and_says_so(
    app: Flask, runner: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupting_bar(path: Path) -> Any:
        def progress(phase: str, done: int, total: int | None) -> None:
            if phase == "write" and done > 0:
                raise KeyboardInterrupt

        return progress

    monkeypatch.setattr(exchange_cli, "progress_for", interrupting_bar)
    path = write_file(tmp_path / "data.jsonl", buyer("city"), vendor("acme"), need("n1"))
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 130
    assert "interrupted: the import was rolled back" in result.output
    assert table_counts() == dict.fromkeys(("Organization", "Capability", "Contact", "Need"), 0)


def test_a_missing_file_is_a_clear_error(app: Flask, runner: Any, tmp_path: Path) -> None:
    result = runner.invoke(args=["import", str(tmp_path / "nope.jsonl")])
    assert result.exit_code != 0
    assert "does not exist" in result.output


def test_large_files_show_a_progress_bar_on_stderr(app: Flask, runner: Any, tmp_path: Path) -> None:
    vendors = [vendor(f"v{i:05d}", capabilities=[], contacts=[]) for i in range(5001)]
    path = write_file(tmp_path / "large.jsonl", *vendors)
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "importing" in result.stderr
    assert "imported 5001 organizations" in result.stdout
    assert count_rows(Organization) == 5001


def test_the_import_records_search_index_events(app: Flask, tmp_path: Path) -> None:
    path = write_file(tmp_path / "data.jsonl", buyer("city"), vendor("acme"), need("n1"))
    import_file(path)
    ids = {
        ref: db.session.scalar(sa.select(model.id).where(model.ref == ref))
        for model, ref in ((Organization, "city"), (Organization, "acme"), (Need, "n1"))
    }
    events = set(db.session.execute(sa.select(IndexEvent.kind, IndexEvent.record_id)).all())
    assert events == {("buyer", ids["city"]), ("vendor", ids["acme"]), ("need", ids["n1"])}


def test_line_breaks_in_one_line_fields_are_folded_on_import(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    """An organization name with a line break would break every mail subject it goes in."""
    path = write_file(
        tmp_path / "breaks.jsonl",
        vendor(
            "acme",
            name="Acme\r\nBcc: victim@example.org",
            capabilities=[{"title": "Smart\tpoles\n", "description": "Two\nlines stay."}],
            contacts=[{"name": "Jane\nRoe", "title": "CEO\u2028CTO"}],
        ),
        buyer("city", city="Da\nNang"),
        need("need-1", buyer="city", title="Flood\r\nsensors"),
        vendor("blank", name="\x01\x02"),  # nothing left once folded
    )

    result = runner.invoke(args=["import", "--skip-bad", str(path)])

    assert result.exit_code == 0, result.output
    assert 'organization "blank": name must not be empty' in result.output
    acme = db.session.scalar(sa.select(Organization).where(Organization.ref == "acme"))
    assert acme is not None and acme.name == "Acme Bcc: victim@example.org"
    assert [(c.title, c.description) for c in acme.capabilities] == [
        ("Smart poles", "Two\nlines stay.")
    ]
    assert [(c.name, c.title) for c in acme.contacts] == [("Jane Roe", "CEO CTO")]
    city = db.session.scalar(sa.select(Organization).where(Organization.ref == "city"))
    assert city is not None and city.city == "Da Nang"
    assert db.session.scalar(sa.select(Need.title).where(Need.ref == "need-1")) == "Flood sensors"
