"""Measure lead quality on a labelled set, end to end through the CLI.

    .venv/bin/python benchmarks/lead_quality.py --data ../shared/data/dev.jsonl \\
        --qrels ../shared/data/dev-qrels.tsv --eval ../shared/tools/eval_leads.py

On a fresh SQLite database in a temporary folder: ``portal db upgrade``, ``portal import``,
``portal leads export --for needs --limit 20`` (which completes the sentence vectors
first), then the evaluation script with its keyword baseline. Prints its figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORTAL = ROOT / ".venv" / "bin" / "portal"


def parse_arguments(description: str) -> argparse.Namespace:
    """The options both quality scripts take (lead_ablation.py imports this)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", required=True, help="an exchange file with needs and vendors")
    parser.add_argument("--qrels", required=True, help="graded labels: need, vendor, grade")
    parser.add_argument("--eval", required=True, help="the eval_leads.py script")
    parser.add_argument("--model-dir", help="where the prepared model is kept between runs")
    parser.add_argument(
        "--by-language",
        action="store_true",
        help="also nDCG@10 per need language, as the portal detected it on import",
    )
    parser.add_argument(
        "--keep", help="a folder to copy the export and the database into (to compare runs)"
    )
    return parser.parse_args()


def throwaway_portal(folder: str, model_dir: str | None) -> dict[str, str]:
    """Settings of a portal on a fresh SQLite database and index inside ``folder``."""
    return {
        "PORTAL_DATABASE_URL": f"sqlite:///{folder}/portal.sqlite",
        "PORTAL_INDEX_DIR": f"{folder}/index",
        "PORTAL_MODEL_DIR": model_dir or f"{folder}/models",
        "PORTAL_SECRET_KEY": "benchmark-only",
    }


def main() -> int:
    args = parse_arguments(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, **throwaway_portal(folder, args.model_dir)}

        def portal(*words: str) -> None:
            subprocess.run([str(PORTAL), *words], env=env, check=True, capture_output=True)  # noqa: S603 - our CLI

        portal("db", "upgrade")
        portal("import", args.data)
        leads = Path(folder) / "leads.jsonl"
        started = time.perf_counter()
        portal("leads", "export", "--for", "needs", "--limit", "20", "--out", str(leads))
        print(f"export (with vectors) took {time.perf_counter() - started:.1f} s", flush=True)
        result = subprocess.run(  # noqa: S603 - the evaluation script named by the user
            [
                sys.executable,
                args.eval,
                "--data",
                args.data,
                "--qrels",
                args.qrels,
                "--leads",
                str(leads),
                "--baseline",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        print(result.stdout, end="")
        if args.by_language:
            by_language(args, Path(folder) / "portal.sqlite", leads)
        if args.keep:
            kept = Path(args.keep)
            kept.mkdir(parents=True, exist_ok=True)
            shutil.copy(leads, kept / "leads.jsonl")
            shutil.copy(Path(folder) / "portal.sqlite", kept / "portal.sqlite")
    return 0


def by_language(args: argparse.Namespace, database: Path, leads: Path) -> None:
    """nDCG@10 of the export per need language (the one stored on import), with the
    evaluation script's own formula and labels."""
    import importlib.util
    import sqlite3
    from collections import defaultdict

    spec = importlib.util.spec_from_file_location("eval_leads", args.eval)
    assert spec is not None and spec.loader is not None
    evaluation = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(evaluation)
    labels = evaluation.read_qrels(args.qrels)
    with sqlite3.connect(database) as connection:
        languages = dict(connection.execute("SELECT ref, coalesce(language, '?') FROM needs"))
    scores: dict[str, list[float]] = defaultdict(list)
    for row in evaluation.read_jsonl(leads):
        if row["need"] in labels:
            ranked = [lead["vendor"] for lead in row["leads"]]
            score = evaluation.ndcg(ranked, labels[row["need"]], 10)
            scores[languages.get(row["need"], "?")].append(score)
    print("| language | needs | nDCG@10 |")
    print("|---|---|---|")
    for language, found in sorted(scores.items(), key=lambda item: -len(item[1])):
        print(f"| {language} | {len(found)} | {sum(found) / len(found):.3f} |")


if __name__ == "__main__":
    raise SystemExit(main())
