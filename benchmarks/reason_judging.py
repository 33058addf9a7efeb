"""Reason precision, judged by a reader: the sheets a reader fills in, and the figures.

No labelled set says which capability answers a need or which part of the need it
answers, so the reasons are judged by reading them, the way a trade officer would. This
script writes what the reader reads and counts what the reader wrote; the judgments are
about the development sets, so they stay outside the project like the labels.

1. An export with reasons (``benchmarks/lead_quality.py ... --keep DIR`` keeps one), then
   a sheet of every lead shown by default::

       .venv/bin/python benchmarks/reason_judging.py sheet --data ../shared/data/dev-b.jsonl \\
           --leads DIR/leads.jsonl --out sheet.jsonl

   Each line: the need, every capability of the vendor, and the first reason with the
   capability it quotes and the part of the need it names.
   With ``--readers N`` (N ≥ 2) it writes N sheets, ``OUT`` with ``.r1`` … ``.rN``
   before the suffix, so that every lead is read by exactly two readers and every pair
   of readers shares about as many leads; a need's leads stay together in a sheet.
2. The reader gets ``benchmarks/reason_rubric.md`` (the fixed rubric: the same questions
   for every session's readers) and writes a TSV, one line per sheet line: ``id``,
   ``answers`` (yes / partly / no), ``best``, ``part_right``, ``junk_words``, ``whole``
   (yes / no) and ``why``. Sheets judged before the rubric have no ``whole``.
3. The figures, beside the labels' grades when ``--qrels`` is given; with several judged
   files, each reader's figure, the pooled one and how often two readers of a lead agree::

       .venv/bin/python benchmarks/reason_judging.py tally --judged r1.tsv [r2.tsv ...] \\
           [--qrels ../shared/data/dev-b-qrels.tsv]

An export made before pages showed only confident leads (no ``shown``; a page showed
the first ten) is read with ``sample``: a seeded sample of each need's first ten leads
whose first reason quotes a capability, the leads the issue's own reason precision
counted, so that today's readers can be set beside the issue's figures for it::

    .venv/bin/python benchmarks/reason_judging.py sample --data ... --leads OLD/leads.jsonl \
        --out sample.jsonl --readers 3 [--top 10 --size 120 --seed 20261205]

To read an old export beside today's without two groups of readers in between,
``mix`` puts every lead of each (an old export's first ``--top`` leads that quote a
capability; an export's shown leads) into one blind, shuffled mixture, two readers a
lead, and ``tally-versions`` gives each export's figures::

    .venv/bin/python benchmarks/reason_judging.py mix --data ... --sampled OLD/leads.jsonl \
        --shown NEW/leads.jsonl --readers 12 --out sheet.jsonl --key key.jsonl

To compare two versions of the reasons, ``pairs`` writes the leads whose first reason
differs between two exports, each pair in a random order, and a key kept apart from the
reader; ``prefer`` counts which version the reader preferred::

    .venv/bin/python benchmarks/reason_judging.py pairs --data ... --before A/leads.jsonl \\
        --after B/leads.jsonl --out pairs.jsonl --key key.jsonl
    .venv/bin/python benchmarks/reason_judging.py prefer --prefs prefs.tsv --key key.jsonl

Pairs say which version a reader prefers, not whether either answers: a reason quoting
the whole ask can be preferred and still claim more than its capability answers. To read
several versions absolutely, ``versions`` takes the leads whose first reason differs
between exports and gives each reader one version of each, every version of a lead to
other readers, all shuffled and under opaque ids; the readers fill in the usual sheet
(the rubric above) and ``tally-versions`` gives each version's figures on the same leads::

    .venv/bin/python benchmarks/reason_judging.py versions --data ... \
        --leads A/leads.jsonl B/leads.jsonl --readers 4 --out sheet.jsonl --key key.jsonl
    .venv/bin/python benchmarks/reason_judging.py tally-versions --key key.jsonl \
        --judged r1.tsv r2.tsv r3.tsv r4.tsv
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from collections import Counter
from pathlib import Path

# The two forms of a first reason (portal/matching/reasons.py), in English as exports
# print them: "“Capability” answers “part of the need”" and "“Capability” answers the
# need's <concept> problem (“words”, “words”)"; exports made before the calibrated
# ranking (2026-12-03) also wrote "“Capability” covers “word”, “word” from the need".
_FIRST_REASON = re.compile(
    r"“(.+?)” (?:answers (?:“(.+)”|the need's (.+))|covers (.+) from the need)$"
)


def _records(data: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """Organizations and needs of an exchange file, by ref."""
    organizations: dict[str, dict] = {}
    needs: dict[str, dict] = {}
    with open(data, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record.get("type") == "organization":
                organizations[record["ref"]] = record
            elif record.get("type") == "need":
                needs[record["ref"]] = record
    return organizations, needs


def shown_first_reasons(leads: Path) -> dict[str, str]:
    """``need|vendor`` -> the first reason, for every lead shown by default."""
    found: dict[str, str] = {}
    with open(leads, encoding="utf-8") as handle:
        for line in handle:
            block = json.loads(line)
            for lead in block["leads"]:
                if lead.get("shown"):
                    reasons = lead.get("reasons") or [""]
                    found[f"{block['need']}|{lead['vendor']}"] = reasons[0]
    return found


def _lead_text(key: str, organizations: dict[str, dict], needs: dict[str, dict]) -> dict:
    need_ref, vendor_ref = key.split("|")
    need, vendor = needs[need_ref], organizations[vendor_ref]
    return {
        "id": key,
        "need_title": need["title"],
        "need_description": need.get("description", ""),
        "vendor_name": vendor["name"],
        "vendor_summary": vendor.get("summary", ""),
        "capabilities": [
            f"{c['title']}: {c.get('description', '')}" for c in vendor.get("capabilities", [])
        ],
    }


def sheet_lines(data: Path, leads: Path) -> list[dict]:
    """What a reader reads of every shown lead, in the export's order (a need's leads together)."""
    return _lines(data, shown_first_reasons(leads))


def _lines(data: Path, firsts: dict[str, str]) -> list[dict]:
    """A sheet line for each ``need|vendor`` -> first reason, in that order."""
    organizations, needs = _records(data)
    return [
        _lead_text(key, organizations, needs) | _reason_fields(reason)
        for key, reason in firsts.items()
    ]


def _reason_fields(reason: str) -> dict[str, str | None]:
    """The first reason as a reader's sheet shows it: whole, and the capability and the
    part of the need it quotes."""
    quoted = _FIRST_REASON.match(reason)
    return {
        "first_reason": reason,
        "quoted_capability": quoted.group(1) if quoted else None,
        "quoted_need_part": next(filter(None, quoted.groups()[1:]), None) if quoted else None,
    }


def assign_readers(lines: list[dict], readers: int) -> list[list[dict]]:
    """Each need's leads to two readers, the pairs of readers taken in turn.

    Keeping a need's leads together lets a reader read the need once; cycling through
    every pair of readers makes each pair share about as many leads, so agreement can be
    measured between any two of them.
    """
    if readers < 2:
        return [list(lines)]
    pairs = [(a, b) for a in range(readers) for b in range(a + 1, readers)]
    sheets: list[list[dict]] = [[] for _ in range(readers)]
    by_need: dict[str, list[dict]] = {}
    for line in lines:
        by_need.setdefault(line["id"].split("|")[0], []).append(line)
    # Largest needs first; every pair is used once before any is used twice, and among
    # those the pair with the least to read so far, so the sheets come out about the same
    # length and every two readers share leads.
    used = dict.fromkeys(pairs, 0)
    for group in sorted(by_need.values(), key=len, reverse=True):
        first, second = min(
            pairs, key=lambda pair: (used[pair], len(sheets[pair[0]]) + len(sheets[pair[1]]), pair)
        )
        used[(first, second)] += 1
        sheets[first].extend(group)
        sheets[second].extend(group)
    return sheets


def write_sheet(data: Path, leads: Path, out: Path, readers: int = 1) -> int:
    lines = sheet_lines(data, leads)
    _write_sheets(lines, out, readers)
    return len(lines)


def _write_sheets(lines: list[dict], out: Path, readers: int) -> None:
    _save_sheets(assign_readers(lines, readers), out)


def _save_sheets(sheets: list[list[dict]], out: Path) -> None:
    """One sheet to ``out``; several to ``out`` with ``.r1`` … ``.rN`` before the suffix."""
    for number, sheet in enumerate(sheets, start=1):
        target = out if len(sheets) == 1 else out.with_suffix(f".r{number}{out.suffix}")
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in sheet)


def sampled_first_reasons(leads: Path, top: int, size: int, seed: int) -> dict[str, str]:
    """``need|vendor`` -> first reason for ``size`` leads drawn (seeded) from each need's
    first ``top`` whose first reason quotes a capability, in the export's order.

    Exports made before pages showed only confident leads have no ``shown``: a page
    showed the first ten, and the issue's reason precision counted "the capabilities the
    reasons quote" there. Reading a sample of those with today's rubric sets today's
    readers beside the issue's own figures for that export."""
    quoting: list[tuple[str, str]] = []
    with open(leads, encoding="utf-8") as handle:
        for line in handle:
            block = json.loads(line)
            for lead in block["leads"][:top]:
                first = (lead.get("reasons") or [""])[0]
                if _FIRST_REASON.match(first):
                    quoting.append((f"{block['need']}|{lead['vendor']}", first))
    chosen = set(random.Random(seed).sample(range(len(quoting)), min(size, len(quoting))))
    return dict(pair for number, pair in enumerate(quoting) if number in chosen)


def write_sample(
    data: Path, leads: Path, out: Path, readers: int, top: int, size: int, seed: int
) -> int:
    """``write_sheet`` over ``sampled_first_reasons`` instead of the shown leads."""
    lines = _lines(data, sampled_first_reasons(leads, top, size, seed))
    _write_sheets(lines, out, readers)
    return len(lines)


def _grades(qrels: Path) -> dict[str, int]:
    grades: dict[str, int] = {}
    with open(qrels, encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 3 and parts[-1].isdigit():
                grades[f"{parts[0]}|{parts[1]}"] = int(parts[2])
    return grades


def _judgments(judged: Path) -> list[dict[str, str]]:
    with open(judged, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    for number, row in enumerate(rows, start=2):
        if row.get("answers", "").strip() not in ("yes", "partly", "no"):
            raise ValueError(f"{judged}:{number}: answers must be yes, partly or no")
        row["answers"] = row["answers"].strip()
    return rows


def _precision(rows: list[dict[str, str]]) -> tuple[float, float]:
    """Strict (answers yes) and lenient (yes or partly) shares."""
    total = len(rows) or 1
    answers = Counter(row["answers"] for row in rows)
    return answers["yes"] / total, (answers["yes"] + answers["partly"]) / total


def tally(files: list[Path], qrels: Path | None) -> list[str]:
    readers = [_judgments(path) for path in files]
    rows = [row for reader in readers for row in reader]
    total = len(rows) or 1
    strict, lenient = _precision(rows)
    lines = [
        f"judgments: {len(rows)} of {len({row['id'] for row in rows})} shown leads"
        f" by {len(readers)} reader(s)",
        f"reason precision, the quoted capability answers the need: {strict:.3f}"
        f" (partly useful counted as answering: {lenient:.3f})",
    ]
    if len(readers) > 1:
        # readers' files often share a name, each in its reader's folder
        named = len({path.name for path in files}) == len(files)
        for path, reader in zip(files, readers, strict=True):
            one, either = _precision(reader)
            name = path.name if named else f"{path.parent.name}/{path.name}"
            lines.append(f"  {name}: {len(reader)} leads, {one:.3f} ({either:.3f})")
        lines.extend(_agreement(readers))
    for field, meaning in (
        ("best", "the quoted capability is the vendor's best for the need"),
        ("part_right", "the part of the need named is the one it answers"),
        ("junk_words", "a reason quotes uninformative words or words not in the need"),
        ("whole", "the vendor would solve everything the need asks"),
    ):
        if any(field in row for row in rows):
            share = sum(row.get(field, "").strip() == "yes" for row in rows) / total
            lines.append(f"{meaning}: {share:.3f}")
    if qrels is not None:
        lines.extend(_by_grade(rows, _grades(qrels)))
    return lines


def _by_grade(rows: list[dict[str, str]], grades: dict[str, int]) -> list[str]:
    """The answers given to leads of each grade the labels give (``need|vendor`` ids)."""
    by_grade: dict[int, Counter] = {}
    for row in rows:
        by_grade.setdefault(grades.get(row["id"], 0), Counter())[row["answers"]] += 1
    lines = []
    for grade in sorted(by_grade):
        counts = by_grade[grade]
        size = sum(counts.values())
        lines.append(
            f"grade {grade}: {size} judgments, answers yes {counts['yes'] / size:.2f}, "
            f"partly {counts['partly'] / size:.2f}, no {counts['no'] / size:.2f}"
        )
    return lines


def _agreement(readers: list[list[dict[str, str]]]) -> list[str]:
    """How often two readers of the same lead gave the same ``answers``, and Cohen's kappa."""
    given: dict[str, list[str]] = {}
    for reader in readers:
        for row in reader:
            given.setdefault(row["id"], []).append(row["answers"])
    both = [answers[:2] for answers in given.values() if len(answers) >= 2]
    if not both:
        return ["no lead was read by two readers"]
    same = sum(a == b for a, b in both) / len(both)
    first, second = Counter(a for a, _ in both), Counter(b for _, b in both)
    chance = sum(first[v] * second[v] for v in ("yes", "partly", "no")) / len(both) ** 2
    kappa = (same - chance) / (1 - chance) if chance < 1 else 1.0
    both_yes = sum(a == b == "yes" for a, b in both) / len(both)
    either_yes = sum("yes" in (a, b) for a, b in both) / len(both)
    return [
        f"leads read twice: {len(both)}; same answer {same:.3f} (Cohen's kappa {kappa:.2f})",
        f"answers yes by both readers: {both_yes:.3f}; by at least one: {either_yes:.3f}",
    ]


def write_pairs(data: Path, before: Path, after: Path, out: Path, key: Path, seed: int = 7) -> int:
    organizations, needs = _records(data)
    first, second = shown_first_reasons(before), shown_first_reasons(after)
    changed = sorted(k for k in second if k in first and first[k] != second[k])
    order = random.Random(seed)
    rows, keys = [], []
    for number, lead in enumerate(changed):
        flipped = order.random() < 0.5
        one, two = (second[lead], first[lead]) if flipped else (first[lead], second[lead])
        rows.append(
            {"pair": number, **_lead_text(lead, organizations, needs)}
            | {"reason_1": one, "reason_2": two}
        )
        keys.append({"pair": number, "before_is": 2 if flipped else 1})
    order.shuffle(rows)
    with open(out, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    with open(key, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(k) + "\n" for k in keys)
    return len(rows)


def preferences(prefs: Path, key: Path) -> Counter:
    with open(key, encoding="utf-8") as handle:
        before_is = {int(k["pair"]): int(k["before_is"]) for k in map(json.loads, handle)}
    found: Counter = Counter()
    with open(prefs, encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            choice = row["better"].strip()
            if choice == "=":
                found["same"] += 1
            else:
                found["before" if int(choice) == before_is[int(row["pair"])] else "after"] += 1
    return found


def version_sheets(
    data: Path, exports: list[Path], readers: int, seed: int = 7
) -> tuple[list[list[dict]], list[dict]]:
    """Sheets for ``readers`` readers (a multiple of the number of versions) over the leads
    shown in every export whose first reason is not the same in all of them: reader ``r``
    reads version ``(lead + r) % versions`` of each, so no reader sees two versions of a
    lead and each version of each lead is read by ``readers / versions`` readers. Each
    line has an opaque id; the key says which lead and which version it is."""
    versions = len(exports)
    if versions < 2 or readers < versions or readers % versions:
        raise ValueError("readers must be a multiple of the number of versions (two or more)")
    organizations, needs = _records(data)
    firsts = [shown_first_reasons(export) for export in exports]
    changed = sorted(
        lead
        for lead in firsts[0]
        if all(lead in first for first in firsts) and len({f[lead] for f in firsts}) > 1
    )
    order = random.Random(seed)
    sheets: list[list[dict]] = [[] for _ in range(readers)]
    key: list[dict] = []
    ids = list(range(len(changed) * readers))
    order.shuffle(ids)
    for number, lead in enumerate(changed):
        text = _lead_text(lead, organizations, needs)
        for reader in range(readers):
            version = (number + reader) % versions
            opaque = f"x{ids[number * readers + reader]}"
            sheets[reader].append(text | {"id": opaque} | _reason_fields(firsts[version][lead]))
            key.append({"id": opaque, "lead": lead, "version": version})
    for sheet in sheets:
        order.shuffle(sheet)
    return sheets, key


def write_versions(data: Path, exports: list[Path], readers: int, out: Path, key: Path) -> int:
    sheets, entries = version_sheets(data, exports, readers)
    _save_sheets(sheets, out)  # two or more: version_sheets refuses fewer readers
    with open(key, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(entry) + "\n" for entry in entries)
    return len(entries) // readers


def tally_versions(files: list[Path], key: Path, qrels: Path | None = None) -> list[str]:
    """Each version's share of answers yes (and yes or partly), part named right and
    quotes of empty words, over the same leads; how often the two readers of a lead's
    version agree; and with ``qrels``, its answers by the labels' grade."""
    with open(key, encoding="utf-8") as handle:
        entries = {entry["id"]: entry for entry in map(json.loads, handle)}
    by_version: dict[int, list[dict[str, str]]] = {}
    for path in files:
        for row in _judgments(path):
            if row["id"] not in entries:
                raise ValueError(f"{path}: id {row['id']} is not in the key")
            by_version.setdefault(int(entries[row["id"]]["version"]), []).append(row)
    grades = _grades(qrels) if qrels is not None else None
    lines = []
    for version in sorted(by_version):
        rows = by_version[version]
        strict, lenient = _precision(rows)
        part = sum(row.get("part_right", "").strip() == "yes" for row in rows) / len(rows)
        junk = sum(row.get("junk_words", "").strip() == "yes" for row in rows) / len(rows)
        lines.append(
            f"version {version + 1}: {len(rows)} judgments, answers yes {strict:.3f}"
            f" (with partly {lenient:.3f}), part named right {part:.3f}, empty words {junk:.3f}"
        )
        # the two readings of a lead's version carry different ids: agree by the lead
        as_lead = [row | {"id": entries[row["id"]]["lead"]} for row in rows]
        lines.extend(f"  {line}" for line in _agreement([as_lead]))
        if grades is not None:
            lines.extend(f"  {line}" for line in _by_grade(as_lead, grades))
    return lines


def mixed_sheets(
    data: Path, sources: list[dict[str, str]], readers: int, seed: int = 7
) -> tuple[list[list[dict]], list[dict]]:
    """Sheets for ``readers`` readers (four or more) over every lead of every source
    (``need|vendor`` -> first reason), all shuffled together under opaque ids: each lead of
    each source is read by two readers, no reader reads a lead in two sources, every reader
    reads about as many lines, and pairs of readers are used in turn. The key says which
    lead and which source (its ``version``) each line is, for ``tally-versions``.

    Reading an old export and today's in one blind mixture puts both before the same
    readers in the same frame of mind: the ratio of their figures is then the readers'
    judgment of the change, not the difference between two groups of readers."""
    if readers < 4:
        raise ValueError("mixing needs at least four readers (two a lead, none twice)")
    organizations, needs = _records(data)
    pairs = [(a, b) for a in range(readers) for b in range(a + 1, readers)]
    used = dict.fromkeys(pairs, 0)
    sheets: list[list[dict]] = [[] for _ in range(readers)]
    key: list[dict] = []
    order = random.Random(seed)
    leads = sorted({lead for source in sources for lead in source})
    ids = list(range(2 * sum(len(source) for source in sources)))
    order.shuffle(ids)
    for lead in leads:
        text = _lead_text(lead, organizations, needs)
        taken: set[int] = set()
        for version, source in enumerate(sources):
            if lead not in source:
                continue
            pair = min(
                (p for p in pairs if not taken.intersection(p)),
                key=lambda p: (len(sheets[p[0]]) + len(sheets[p[1]]), used[p], p),
            )
            used[pair] += 1
            taken.update(pair)
            for reader in pair:
                opaque = f"x{ids.pop()}"
                sheets[reader].append(text | {"id": opaque} | _reason_fields(source[lead]))
                key.append({"id": opaque, "lead": lead, "version": version})
    for sheet in sheets:
        order.shuffle(sheet)
    return sheets, key


def write_mixed(
    data: Path,
    sampled: list[Path],
    shown: list[Path],
    top: int,
    readers: int,
    out: Path,
    key: Path,
) -> list[int]:
    """``mixed_sheets`` over each ``sampled`` export's first ``top`` leads that quote a
    capability (all of them), then each ``shown`` export's shown leads; the leads of each."""
    sources = [sampled_first_reasons(path, top, size=10**9, seed=0) for path in sampled]
    sources += [shown_first_reasons(path) for path in shown]
    sheets, entries = mixed_sheets(data, sources, readers)
    _save_sheets(sheets, out)
    with open(key, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(entry) + "\n" for entry in entries)
    return [len(source) for source in sources]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sheet = commands.add_parser("sheet", help="what a reader judges: every shown lead")
    sheet.add_argument("--data", type=Path, required=True)
    sheet.add_argument("--leads", type=Path, required=True)
    sheet.add_argument("--out", type=Path, required=True)
    sheet.add_argument(
        "--readers", type=int, default=1, help="sheets for N readers, each lead read by two"
    )
    sample = commands.add_parser(
        "sample", help="a sheet of a sample of each need's first leads (exports without shown)"
    )
    sample.add_argument("--data", type=Path, required=True)
    sample.add_argument("--leads", type=Path, required=True)
    sample.add_argument("--out", type=Path, required=True)
    sample.add_argument("--readers", type=int, default=1)
    sample.add_argument("--top", type=int, default=10, help="the leads a page showed")
    sample.add_argument("--size", type=int, default=120)
    sample.add_argument("--seed", type=int, default=20261205)
    count = commands.add_parser("tally", help="the figures of a judged sheet")
    count.add_argument("--judged", type=Path, nargs="+", required=True)
    count.add_argument("--qrels", type=Path)
    pairs = commands.add_parser("pairs", help="leads whose first reason differs, blind")
    pairs.add_argument("--data", type=Path, required=True)
    pairs.add_argument("--before", type=Path, required=True)
    pairs.add_argument("--after", type=Path, required=True)
    pairs.add_argument("--out", type=Path, required=True)
    pairs.add_argument("--key", type=Path, required=True)
    prefer = commands.add_parser("prefer", help="which version the reader preferred")
    prefer.add_argument("--prefs", type=Path, required=True)
    prefer.add_argument("--key", type=Path, required=True)
    several = commands.add_parser("versions", help="several versions, each read absolutely")
    several.add_argument("--data", type=Path, required=True)
    several.add_argument("--leads", type=Path, nargs="+", required=True)
    several.add_argument("--readers", type=int, required=True)
    several.add_argument("--out", type=Path, required=True)
    several.add_argument("--key", type=Path, required=True)
    mixed = commands.add_parser(
        "mix", help="several exports' leads read blind in one mixture (versions in order)"
    )
    mixed.add_argument("--data", type=Path, required=True)
    mixed.add_argument("--sampled", type=Path, nargs="*", default=[], help="old exports")
    mixed.add_argument("--shown", type=Path, nargs="*", default=[], help="exports with shown")
    mixed.add_argument("--top", type=int, default=10, help="the leads an old page showed")
    mixed.add_argument("--readers", type=int, required=True)
    mixed.add_argument("--out", type=Path, required=True)
    mixed.add_argument("--key", type=Path, required=True)
    by_version = commands.add_parser("tally-versions", help="each version's figures")
    by_version.add_argument("--judged", type=Path, nargs="+", required=True)
    by_version.add_argument("--key", type=Path, required=True)
    by_version.add_argument("--qrels", type=Path)
    args = parser.parse_args()
    if args.command == "sheet":
        written = write_sheet(args.data, args.leads, args.out, args.readers)
        print(f"{written} shown leads written")
    elif args.command == "sample":
        written = write_sample(
            args.data, args.leads, args.out, args.readers, args.top, args.size, args.seed
        )
        print(f"{written} sampled leads written")
    elif args.command == "tally":
        print("\n".join(tally(args.judged, args.qrels)))
    elif args.command == "pairs":
        print(f"{write_pairs(args.data, args.before, args.after, args.out, args.key)} pairs")
    elif args.command == "versions":
        written = write_versions(args.data, args.leads, args.readers, args.out, args.key)
        print(f"{written} leads whose first reason differs, one version each per reader")
    elif args.command == "mix":
        counts = write_mixed(
            args.data, args.sampled, args.shown, args.top, args.readers, args.out, args.key
        )
        print("leads per version: " + ", ".join(map(str, counts)))
    elif args.command == "tally-versions":
        print("\n".join(tally_versions(args.judged, args.key, args.qrels)))
    else:
        found = preferences(args.prefs, args.key)
        print(f"before {found['before']}, after {found['after']}, alike {found['same']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
