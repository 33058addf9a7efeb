"""benchmarks/reason_judging.py: how leads are shared among readers and how their
judgments are counted. The figure of the reason-precision bar comes out of these two
functions, so a lead read by one reader only, or an agreement counted wrongly, would
change what the docs report."""

from __future__ import annotations

import importlib.util
import json
from itertools import combinations
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "reason_judging.py"
HEADER = "id\tanswers\tbest\tpart_right\tjunk_words\twhole\twhy\n"


@pytest.fixture(scope="module")
def judging() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reason_judging", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lines(leads_per_need: list[int]) -> list[dict]:
    return [
        {"id": f"n-{need}|v-{vendor}"}
        for need, count in enumerate(leads_per_need)
        for vendor in range(count)
    ]


def test_every_lead_goes_to_exactly_two_readers_with_its_need(judging: ModuleType) -> None:
    lines = _lines([5, 4, 4, 3, 3, 3, 2, 2, 1, 1, 6, 2])
    sheets = judging.assign_readers(lines, 4)

    readers_of: dict[str, list[int]] = {}
    for number, sheet in enumerate(sheets):
        for line in sheet:
            readers_of.setdefault(line["id"], []).append(number)
    assert set(readers_of) == {line["id"] for line in lines}
    assert all(len(readers) == 2 and readers[0] != readers[1] for readers in readers_of.values())
    # A need's leads are read by the same two readers, so each reads the need once.
    by_need: dict[str, set[tuple[int, ...]]] = {}
    for key, readers in readers_of.items():
        by_need.setdefault(key.split("|")[0], set()).add(tuple(readers))
    assert all(len(pairs) == 1 for pairs in by_need.values())
    # Sheets come out about the same length: no reader gets more than a need more.
    sizes = [len(sheet) for sheet in sheets]
    assert max(sizes) - min(sizes) <= 6
    # Every pair of readers shares some leads, so agreement is measured between all.
    shared = {pair: 0 for pair in combinations(range(4), 2)}
    for readers in readers_of.values():
        shared[tuple(sorted(readers))] += 1
    assert all(count > 0 for count in shared.values())


def test_one_reader_gets_the_whole_sheet_in_order(judging: ModuleType) -> None:
    lines = _lines([2, 3])
    assert judging.assign_readers(lines, 1) == [lines]


def test_write_sheet_names_each_readers_file(judging: ModuleType, tmp_path: Path) -> None:
    data = tmp_path / "set.jsonl"
    records = [
        {
            "type": "organization",
            "ref": "v-1",
            "name": "Lampworks",
            "summary": "Lights",
            "capabilities": [{"title": "LED retrofit", "description": "Streetlights"}],
        },
        {"type": "need", "ref": "n-1", "title": "Dark streets", "description": "Lamps fail."},
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    leads = tmp_path / "leads.jsonl"
    lead = {"vendor": "v-1", "shown": True, "reasons": ["“LED retrofit” answers “Dark streets”"]}
    hidden = {"vendor": "v-2", "shown": False, "reasons": ["“Other” answers “Dark streets”"]}
    leads.write_text(json.dumps({"need": "n-1", "leads": [lead, hidden]}) + "\n", "utf-8")

    assert judging.write_sheet(data, leads, tmp_path / "sheet.jsonl", readers=3) == 1

    written = {
        path.name: [json.loads(line) for line in path.read_text("utf-8").splitlines()]
        for path in sorted(tmp_path.glob("sheet.r*.jsonl"))
    }
    assert set(written) == {"sheet.r1.jsonl", "sheet.r2.jsonl", "sheet.r3.jsonl"}
    read = [line for sheet in written.values() for line in sheet]
    assert len(read) == 2
    assert read[0]["quoted_capability"] == "LED retrofit"
    assert read[0]["quoted_need_part"] == "Dark streets"
    assert read[0]["capabilities"] == ["LED retrofit: Streetlights"]


def test_sample_draws_from_each_needs_first_leads_that_quote_a_capability(
    judging: ModuleType, tmp_path: Path
) -> None:
    """An export from before ``shown``: its pages showed the first ten leads, and only a
    first reason that quotes a capability is judged (the issue's "capabilities the
    reasons quote"); the old "covers … from the need" form counts as one."""
    data = tmp_path / "set.jsonl"
    records = [
        {"type": "organization", "ref": f"v-{n}", "name": f"Vendor {n}", "capabilities": []}
        for n in range(12)
    ] + [{"type": "need", "ref": f"n-{n}", "title": "Dark streets"} for n in range(2)]
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    reasons = [
        "“LED retrofit” answers the need's street lighting problem (“lamps fail”)",
        "“Dimming” covers “lamps”, “streets” from the need",
        "Its profile uses several of the need's key words",
        "Already serves Viet Nam, the buyer's country",
    ]
    blocks = [
        {
            "need": f"n-{need}",
            "leads": [{"vendor": f"v-{v}", "reasons": [reasons[v % 4]]} for v in range(12)],
        }
        for need in range(2)
    ]
    leads = tmp_path / "leads.jsonl"
    leads.write_text("".join(json.dumps(b) + "\n" for b in blocks), encoding="utf-8")

    everything = judging.sampled_first_reasons(leads, top=10, size=100, seed=1)
    # of each need's first ten, the six whose first reason quotes a capability
    assert sorted(everything) == sorted(
        f"n-{need}|v-{v}" for need in range(2) for v in (0, 1, 4, 5, 8, 9)
    )
    some = judging.sampled_first_reasons(leads, top=10, size=4, seed=1)
    assert len(some) == 4 and set(some) <= set(everything)
    assert some == judging.sampled_first_reasons(leads, top=10, size=4, seed=1)

    assert judging.write_sample(data, leads, tmp_path / "s.jsonl", 1, 10, 100, 1) == 12
    lines = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text("utf-8").splitlines()]
    covers = next(line for line in lines if line["id"] == "n-0|v-1")
    assert covers["quoted_capability"] == "Dimming"
    assert covers["quoted_need_part"] == "“lamps”, “streets”"
    concept = next(line for line in lines if line["id"] == "n-0|v-0")
    assert concept["quoted_need_part"] == "street lighting problem (“lamps fail”)"


def test_tally_counts_readers_pooled_and_their_agreement(
    judging: ModuleType, tmp_path: Path
) -> None:
    first = tmp_path / "r1.tsv"
    second = tmp_path / "r2.tsv"
    first.write_text(
        HEADER
        + "a|1\tyes\tyes\tyes\tno\tno\tsolves it\n"
        + "a|2\tpartly\tyes\tno\tno\tno\tbeside it\n"
        + "b|1\tyes\tyes\tyes\tno\tyes\tsolves it\n"
        + "b|2\tno\tyes\tno\tyes\tno\tshared word\n",
        encoding="utf-8",
    )
    second.write_text(
        HEADER
        + "a|1\tyes\tyes\tyes\tno\tno\tsolves it\n"
        + "a|2\tyes\tyes\tyes\tno\tno\tthe named part\n"
        + "b|1\tyes\tno\tyes\tno\tno\tsolves it\n"
        + "b|2\tno\tyes\tno\tno\tno\tunrelated\n",
        encoding="utf-8",
    )
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("a\t1\t3\na\t2\t1\nb\t1\t2\n", encoding="utf-8")

    lines = judging.tally([first, second], qrels)

    assert "judgments: 8 of 4 shown leads by 2 reader(s)" in lines
    # 5 of 8 judgments say yes; 6 of 8 say yes or partly.
    assert any(
        line.endswith("need: 0.625 (partly useful counted as answering: 0.750)") for line in lines
    )
    assert "  r1.tsv: 4 leads, 0.500 (0.750)" in lines
    assert "  r2.tsv: 4 leads, 0.750 (0.750)" in lines
    # Same answer on 3 of 4 leads; chance agreement from the two readers' margins:
    # r1 yes 2, partly 1, no 1; r2 yes 3, no 1 -> (2*3 + 1*1) / 16 = 0.4375.
    kappa = (0.75 - 0.4375) / (1 - 0.4375)
    assert f"leads read twice: 4; same answer 0.750 (Cohen's kappa {kappa:.2f})" in lines
    assert "answers yes by both readers: 0.500; by at least one: 0.750" in lines
    assert "the vendor would solve everything the need asks: 0.125" in lines
    assert "grade 0: 2 judgments, answers yes 0.00, partly 0.00, no 1.00" in lines
    assert "grade 1: 2 judgments, answers yes 0.50, partly 0.50, no 0.00" in lines


def test_tally_names_the_line_of_a_judgment_it_cannot_read(
    judging: ModuleType, tmp_path: Path
) -> None:
    judged = tmp_path / "r1.tsv"
    judged.write_text(
        HEADER + "a|1\tyes\tyes\tyes\tno\tno\tok\na|2\tmaybe\tyes\tno\tno\tno\t?\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"r1.tsv:3: answers must be yes, partly or no"):
        judging.tally([judged], None)


def _version_files(tmp_path: Path) -> tuple[Path, list[Path]]:
    """A set of one need and three vendors, and two exports: the first reasons of v-1 and
    v-2 differ between them, v-3's is the same, v-4 is shown in one export only."""
    data = tmp_path / "set.jsonl"
    records = [
        {"type": "need", "ref": "n-1", "title": "Dark streets", "description": "Lamps fail."},
        *(
            {
                "type": "organization",
                "ref": f"v-{number}",
                "name": f"Vendor {number}",
                "capabilities": [{"title": "LED retrofit", "description": "Streetlights"}],
            }
            for number in range(1, 5)
        ),
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    exports = []
    for version, quote in enumerate(("Lamps fail", "Dark streets")):
        leads = [
            {"vendor": "v-1", "shown": True, "reasons": [f"“LED retrofit” answers “{quote}”"]},
            {"vendor": "v-2", "shown": True, "reasons": [f"“LED retrofit” answers “{quote}.”"]},
            {"vendor": "v-3", "shown": True, "reasons": ["“LED retrofit” answers “Lamps”"]},
            {"vendor": "v-4", "shown": version == 0, "reasons": [f"“LED retrofit” {quote}"]},
        ]
        export = tmp_path / f"leads-{version}.jsonl"
        export.write_text(json.dumps({"need": "n-1", "leads": leads}) + "\n", encoding="utf-8")
        exports.append(export)
    return data, exports


def test_versions_give_each_reader_one_version_of_each_changed_lead(
    judging: ModuleType, tmp_path: Path
) -> None:
    data, exports = _version_files(tmp_path)

    sheets, key = judging.version_sheets(data, exports, readers=4)

    # Only the leads shown in both exports whose first reason differs: v-1 and v-2.
    assert sorted({entry["lead"] for entry in key}) == ["n-1|v-1", "n-1|v-2"]
    by_id = {entry["id"]: entry for entry in key}
    for sheet in sheets:
        seen = [by_id[line["id"]] for line in sheet]
        assert sorted(entry["lead"] for entry in seen) == ["n-1|v-1", "n-1|v-2"]
        # the id says nothing of the lead or the version
        assert all("v-" not in line["id"] for line in sheet)
    # Each version of each lead is read by two of the four readers.
    readings = [(entry["lead"], entry["version"]) for entry in key]
    assert sorted(readings) == sorted(
        [(lead, version) for lead in ("n-1|v-1", "n-1|v-2") for version in (0, 1)] * 2
    )
    # The reader reads the reason of the version the key names.
    line = sheets[0][0]
    version = by_id[line["id"]]["version"]
    assert line["first_reason"].endswith(("“Lamps fail”", "“Lamps fail.”")) == (version == 0)


def test_versions_need_a_multiple_of_the_versions_as_readers(
    judging: ModuleType, tmp_path: Path
) -> None:
    data, exports = _version_files(tmp_path)
    with pytest.raises(ValueError, match="multiple of the number of versions"):
        judging.version_sheets(data, exports, readers=3)


def _judged_versions(
    tmp_path: Path, versions: tuple[int, ...], first: str, second: str
) -> tuple[Path, Path, Path]:
    """A key of x1..x4 (leads n|a, n|a, n|b, n|b in ``versions``) and two readers' files."""
    key = tmp_path / "key.jsonl"
    leads = ("n|a", "n|a", "n|b", "n|b")
    entries = [
        {"id": f"x{number}", "lead": lead, "version": version}
        for number, (lead, version) in enumerate(zip(leads, versions, strict=True), start=1)
    ]
    key.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    files = tmp_path / "r1.tsv", tmp_path / "r2.tsv"
    for path, judged in zip(files, (first, second), strict=True):
        path.write_text(HEADER + judged, encoding="utf-8")
    return key, *files


def test_tally_versions_counts_each_version_on_the_same_leads(
    judging: ModuleType, tmp_path: Path
) -> None:
    key, first, second = _judged_versions(
        tmp_path,
        versions=(0, 1, 1, 0),
        first="x1\tpartly\tyes\tno\tno\tno\tbeside\nx3\tyes\tyes\tyes\tno\tno\tit\n",
        second="x2\tyes\tyes\tyes\tno\tno\tit\nx4\tno\tyes\tno\tyes\tno\tword\n",
    )

    lines = judging.tally_versions([first, second], key)

    assert [line for line in lines if line.startswith("version")] == [
        "version 1: 2 judgments, answers yes 0.000 (with partly 0.500), part named right 0.000,"
        " empty words 0.500",
        "version 2: 2 judgments, answers yes 1.000 (with partly 1.000), part named right 1.000,"
        " empty words 0.000",
    ]
    assert "  no lead was read by two readers" in lines


def test_tally_versions_pairs_two_readings_of_a_version_by_their_lead(
    judging: ModuleType, tmp_path: Path
) -> None:
    """Mixed sheets give each reading its own id; agreement and grades go by the lead."""
    key, first, second = _judged_versions(
        tmp_path,
        versions=(0, 0, 0, 0),
        first="x1\tyes\tyes\tyes\tno\tno\tit\nx3\tno\tyes\tno\tno\tno\tx\n",
        second="x2\tyes\tyes\tyes\tno\tno\tit\nx4\tpartly\tyes\tno\tno\tno\t-\n",
    )
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("n\ta\t3\nn\tb\t0\n", encoding="utf-8")

    lines = judging.tally_versions([first, second], key, qrels)

    assert "  leads read twice: 2; same answer 0.500 (Cohen's kappa 0.33)" in lines
    assert "  grade 3: 2 judgments, answers yes 1.00, partly 0.00, no 0.00" in lines
    assert "  grade 0: 2 judgments, answers yes 0.00, partly 0.50, no 0.50" in lines


def test_mix_reads_every_lead_of_every_export_twice_blind(
    judging: ModuleType, tmp_path: Path
) -> None:
    data, _ = _version_files(tmp_path)
    old = {f"n-1|v-{n}": f"“LED retrofit” covers “lamps” ({n})" for n in (1, 2, 3)}
    new = {f"n-1|v-{n}": f"“LED retrofit” answers “Lamps fail” ({n})" for n in (2, 3, 4)}

    sheets, key = judging.mixed_sheets(data, [old, new], readers=4)

    by_id = {entry["id"]: entry for entry in key}
    # every lead of each source read by exactly two readers
    readings = sorted((entry["lead"], entry["version"]) for entry in key)
    expected = [(lead, 0) for lead in old] + [(lead, 1) for lead in new]
    assert readings == sorted(expected * 2)
    for sheet in sheets:
        seen = [by_id[line["id"]] for line in sheet]
        # no reader reads one lead twice (in two sources, or the same one twice)
        assert len({entry["lead"] for entry in seen}) == len(seen)
        for line, entry in zip(sheet, seen, strict=True):
            assert "v-" not in line["id"]
            source = old if entry["version"] == 0 else new
            assert line["first_reason"] == source[entry["lead"]]
    # about as much for each reader
    assert max(map(len, sheets)) - min(map(len, sheets)) <= 1
    # the ids are all distinct
    assert len(by_id) == len(key)


def test_mix_needs_four_readers(judging: ModuleType, tmp_path: Path) -> None:
    data, _ = _version_files(tmp_path)
    with pytest.raises(ValueError, match="at least four readers"):
        judging.mixed_sheets(data, [{"n-1|v-1": "x"}], readers=3)
