"""Time ``portal import`` of a large synthetic corpus on fresh SQLite and PostgreSQL.

    .venv/bin/python benchmarks/import_benchmark.py --vendors 100000 --needs 20000 \\
        --corpus-tool /path/to/make_corpus.py

The corpus tool comes from --corpus-tool or $PORTAL_CORPUS_TOOL. For each database a
fresh one is made (a file in a temporary folder; a PostgreSQL database created and
dropped on the server of --pg-url / $PORTAL_BENCH_PG_URL), ``portal db upgrade`` builds
the schema, then ``/usr/bin/time -v portal import FILE`` runs; wall time and peak RSS
are printed, with the load average and the time at which each line of the command's
output came (one as each phase ends: records written, index and snapshot built,
vectors queued). Then ``portal leads vectors`` computes every sentence vector, and the time from
the start of the import until full-quality leads are ready is printed too (the bar: 15
minutes at 100,000 vendors). ``--model-dir`` keeps the prepared model between runs.
``--latency`` then runs ``leads_latency.py`` on the loaded portal before it is dropped
(with ``--edits N``: after N single-record edits too).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from machine import make_corpus

ROOT = Path(__file__).resolve().parent.parent
PORTAL = ROOT / ".venv" / "bin" / "portal"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _timed(
    command: list[str], env: dict[str, str], lines: list[tuple[float, str]] | None = None
) -> tuple[float, str, str]:
    """Run ``command`` under GNU time: wall seconds, peak RSS, stdout. With ``lines``,
    each line of its output is added with the seconds since the start at which it came
    (``portal import`` prints one as each phase ends)."""
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own CLI under GNU time
        ["/usr/bin/time", "-v", *command],
        env={**env, "PYTHONUNBUFFERED": "1"} if lines is not None else env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.extend(process.stderr), daemon=True)
    reader.start()
    output = []
    for line in process.stdout:
        output.append(line)
        if lines is not None:
            lines.append((time.perf_counter() - started, line.rstrip()))
    returncode = process.wait()
    wall = time.perf_counter() - started
    reader.join()
    stdout, stderr = "".join(output), "".join(errors)
    if returncode != 0:
        sys.exit(f"{command[1]} failed ({returncode}):\n{stdout}\n{stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    if lines is not None:  # the CPU it used, its writer processes' included
        cpu = sum(
            float(t) for t in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", stderr)
        )
        lines.append((wall, f"(exit; CPU {cpu:.1f} s, user and system, children included)"))
    return wall, f"{int(rss.group(1)) / 1024:.0f} MB" if rss else "?", stdout


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def run_import(
    database_url: str,
    corpus: Path,
    folder: Path,
    model_dir: Path | None,
    vectors: bool,
    latency: list[str] | None = None,
) -> dict[str, str]:
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_SECRET_KEY": "benchmark-only",
        "PORTAL_INDEX_DIR": str(folder / "index"),
        "PORTAL_MODEL_DIR": str(model_dir or folder / "models"),
    }
    upgrade = [str(PORTAL), "db", "upgrade"]
    subprocess.run(upgrade, env=env, check=True, capture_output=True)  # noqa: S603 - our CLI
    load_before = _load()
    phases: list[tuple[float, str]] = []
    wall, rss, stdout = _timed([str(PORTAL), "import", str(corpus)], env, phases)
    figures = {
        "wall": f"{wall:.1f} s",
        "peak_rss": rss,
        "summary": next((line for line in stdout.splitlines() if line.startswith("imported")), ""),
        "phases": "\n".join(f"{at:8.1f} s  {line}" for at, line in phases),
        "load": f"load average before {load_before}, after {_load()}",
    }
    if vectors:
        command = [str(PORTAL), "leads", "vectors", "--no-progress"]
        vectors_wall, vectors_rss, stdout = _timed(command, env)
        figures["vectors"] = f"{vectors_wall:.1f} s"
        figures["vectors_rss"] = vectors_rss
        figures["ready"] = f"{wall + vectors_wall:.1f} s"
        figures["vectors_summary"] = stdout.strip()
    if latency is not None:
        script = Path(__file__).resolve().parent / "leads_latency.py"
        subprocess.run([sys.executable, str(script), *latency], env=env, check=True)  # noqa: S603
    shutil.rmtree(folder / "index", ignore_errors=True)
    return figures


def benchmark_sqlite(corpus: Path, folder: Path, **options: Any) -> dict[str, str]:
    return run_import(f"sqlite:///{folder / 'bench.sqlite'}", corpus, folder, **options)


def benchmark_postgresql(
    corpus: Path, folder: Path, admin_url: str, **options: Any
) -> dict[str, str]:
    name = f"portal_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base, _, _ = admin_url.rpartition("/")
        return run_import(f"{base}/{name}", corpus, folder, **options)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vendors", type=int, default=10000)
    parser.add_argument("--needs", type=int, default=2000)
    parser.add_argument(
        "--corpus-tool",
        default=os.environ.get("PORTAL_CORPUS_TOOL"),
        help="make_corpus.py; default $PORTAL_CORPUS_TOOL",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("PORTAL_BENCH_PG_URL", DEFAULT_PG_URL),
        help="an admin connection used to create and drop the benchmark database",
    )
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql"
    )
    parser.add_argument(
        "--no-vectors",
        dest="vectors",
        action="store_false",
        help="time the import only, not the sentence vectors after it",
    )
    parser.add_argument("--model-dir", type=Path, help="keep the prepared model here")
    parser.add_argument(
        "--latency", action="store_true", help="then run leads_latency.py on the loaded portal"
    )
    parser.add_argument("--edits", type=int, default=0, help="leads_latency.py --edits")
    args = parser.parse_args()
    if not args.corpus_tool:
        parser.error("give --corpus-tool or set PORTAL_CORPUS_TOOL")

    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        folder = Path(tmp)
        corpus = make_corpus(args.corpus_tool, args.vendors, args.needs, folder)
        with open(corpus, "rb") as handle:
            lines = sum(1 for _ in handle)
        size = corpus.stat().st_size / 2**20
        print(f"corpus: {args.vendors} vendors, {args.needs} needs; {lines} lines, {size:.0f} MB")
        for database in args.databases.split(","):
            latency = ["--edits", str(args.edits)] if args.latency else None
            options = {"model_dir": args.model_dir, "vectors": args.vectors, "latency": latency}
            if database == "sqlite":
                figures = benchmark_sqlite(corpus, folder, **options)
            elif database == "postgresql":
                figures = benchmark_postgresql(corpus, folder, args.pg_url, **options)
            else:
                parser.error(f"unknown database {database!r}")
            print(f"{database:<10} wall {figures['wall']:>9}  peak RSS {figures['peak_rss']:>7}")
            print(f"{'':<10} {figures['summary']}")
            print(f"{'':<10} {figures['load']}; each line of its output, with when it came:")
            print(figures["phases"])
            if "vectors" in figures:
                print(
                    f"{'':<10} vectors {figures['vectors']} (peak RSS {figures['vectors_rss']}); "
                    f"full-quality leads ready {figures['ready']} after the import started"
                )
                print(f"{'':<10} {figures['vectors_summary']}")


if __name__ == "__main__":
    main()
