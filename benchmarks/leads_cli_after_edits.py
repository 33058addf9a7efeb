"""`portal leads need` as a whole process, before and after every vendor is edited.

    .venv/bin/python benchmarks/leads_cli_after_edits.py --data ../shared/data/dev.jsonl \\
        [--runs 7] [--model-dir DIR]

On a fresh SQLite portal in a temporary folder: ``portal db upgrade``, ``portal import``,
``portal leads vectors``; then the median wall time of ``portal leads need REF --json``
over ``--runs`` runs (REF: the file's first open need). Then the same file is imported
again, which saves every vendor once more (no index rebuild), and the command is timed
again. The issue's bar: median at most 2 s, and at most 1.5 times slower after the edits.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from lead_quality import throwaway_portal

ROOT = Path(__file__).resolve().parent.parent
PORTAL = ROOT / ".venv" / "bin" / "portal"


def cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def first_open_need(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record.get("type") == "need" and record.get("status", "open") == "open":
                return str(record["ref"])
    raise SystemExit("no open need in the file")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--model-dir")
    args = parser.parse_args()
    need = first_open_need(args.data)
    print(f"CPU: {cpu()}")
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, **throwaway_portal(folder, args.model_dir)}

        def portal(*words: str) -> float:
            started = time.perf_counter()
            subprocess.run([str(PORTAL), *words], env=env, check=True, capture_output=True)  # noqa: S603 - our CLI
            return time.perf_counter() - started

        portal("db", "upgrade")
        portal("import", args.data)
        portal("leads", "vectors")

        def median() -> float:
            portal("leads", "need", need, "--json")  # one unmeasured run: caches warm
            return statistics.median(
                portal("leads", "need", need, "--json") for _ in range(args.runs)
            )

        before = median()
        print(f"leads need {need}: median {before:.2f} s over {args.runs} runs")
        took = portal("import", args.data)
        print(f"re-import (every vendor saved again, no rebuild): {took:.1f} s")
        after = median()
        print(f"leads need {need} after the edits: median {after:.2f} s ({after / before:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
