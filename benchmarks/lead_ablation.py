"""Each ranking signal's contribution: the leads ranked with one signal changed at a time.

    .venv/bin/python benchmarks/lead_ablation.py --data ../shared/data/dev.jsonl \\
        --qrels ../shared/data/dev-qrels.tsv --eval ../shared/tools/eval_leads.py

On a fresh SQLite database in a temporary folder: ``portal db upgrade``, ``portal import``,
``portal leads vectors``; then, in this process, every open need's vendors are ranked
through ``LeadsModel.vendors_for`` (the code path of ``portal leads export``) with each
variant's weights, written in the export's form and scored by the evaluation script.
Prints one row per variant as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from lead_quality import parse_arguments, throwaway_portal

ROOT = Path(__file__).resolve().parent.parent
PORTAL = ROOT / ".venv" / "bin" / "portal"
LIMIT = 20


def variants() -> list[tuple[str, dict[str, float]]]:
    """(description, the weights that change) for each row of the table."""
    return [
        ("all signals: 0.5 lexical, 0.5 concepts, 1.0 semantic, 1.0 sector, 1.0 market", {}),
        ("without semantic (what runs while vectors are computed)", {"semantic": 0}),
        ("without lexical", {"lexical": 0}),
        ("without concepts (thesaurus)", {"concepts": 0}),
        ("without sector", {"sector": 0}),
        ("without market", {"market": 0}),
        ("without sector and market", {"sector": 0, "market": 0}),
        ("lexical alone", {"concepts": 0, "semantic": 0, "sector": 0, "market": 0}),
        ("semantic alone", {"lexical": 0, "concepts": 0, "sector": 0, "market": 0}),
        ("concepts alone", {"lexical": 0, "semantic": 0, "sector": 0, "market": 0}),
    ]


def rank_all(folder: Path) -> list[tuple[str, Path]]:
    """Write one leads file per variant; runs inside the portal's app context."""
    from portal import create_app
    from portal.matching.profiles import open_needs
    from portal.matching.ranking import DEFAULT_WEIGHTS
    from portal.matching.services import current_model

    written = []
    with create_app().app_context():
        model = current_model()
        needs = list(open_needs())
        for number, (name, change) in enumerate(variants()):
            weights = replace(DEFAULT_WEIGHTS, **change)
            path = folder / f"variant-{number}.jsonl"
            with path.open("w", encoding="utf-8") as out:
                for need in needs:
                    leads = model.vendors_for(need, LIMIT, weights=weights)
                    row = {"need": need.ref, "leads": [lead.as_json("vendor") for lead in leads]}
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
            written.append((name, path))
    return written


def score(args: argparse.Namespace, leads: Path) -> dict[str, float]:
    command = [sys.executable, args.eval, "--data", args.data, "--qrels", args.qrels]
    command += ["--leads", str(leads), "--json"]
    result = subprocess.run(  # noqa: S603 - the evaluation script named by the user
        command,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout)["portal"]


def main() -> int:
    args = parse_arguments(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ.update(throwaway_portal(tmp, args.model_dir))  # this process ranks too
        for words in (["db", "upgrade"], ["import", args.data], ["leads", "vectors"]):
            subprocess.run([str(PORTAL), *words], check=True, capture_output=True)  # noqa: S603 - our CLI
        print("| variant | nDCG@10 | P@5 | MRR | recall@20 |")
        print("|---|---|---|---|---|")
        for name, path in rank_all(folder):
            figures = score(args, path)
            print(
                f"| {name} | {figures['ndcg@10']:.3f} | {figures['p@5']:.3f} "
                f"| {figures['mrr']:.3f} | {figures['recall@20']:.3f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
