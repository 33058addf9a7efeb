"""Time ``portal import`` of a large synthetic corpus on fresh SQLite and PostgreSQL.

    .venv/bin/python benchmarks/import_benchmark.py --vendors 100000 --needs 20000 \\
        --corpus-tool /path/to/make_corpus.py

The corpus tool comes from --corpus-tool or $PORTAL_CORPUS_TOOL. For each database a
fresh one is made (a file in a temporary folder; a PostgreSQL database created and
dropped on the server of --pg-url / $PORTAL_BENCH_PG_URL), ``portal db upgrade`` builds
the schema, then ``/usr/bin/time -v portal import FILE`` runs; wall time and peak RSS
are printed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PORTAL = ROOT / ".venv" / "bin" / "portal"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def make_corpus(tool: str, vendors: int, needs: int, folder: Path) -> Path:
    path = folder / f"corpus-{vendors}-{needs}.jsonl"
    with open(path, "wb") as handle:
        subprocess.run(  # noqa: S603 - runs the corpus tool the user named
            [sys.executable, tool, "--vendors", str(vendors), "--needs", str(needs), "--seed", "1"],
            stdout=handle,
            check=True,
        )
    return path


def run_import(database_url: str, corpus: Path, folder: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_SECRET_KEY": "benchmark-only",
        "PORTAL_INDEX_DIR": str(folder / "index"),
    }
    upgrade = [str(PORTAL), "db", "upgrade"]
    subprocess.run(upgrade, env=env, check=True, capture_output=True)  # noqa: S603 - our CLI
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 - our own CLI under GNU time
        ["/usr/bin/time", "-v", str(PORTAL), "import", str(corpus)],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"import failed ({result.returncode}):\n{result.stdout}\n{result.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    return {
        "wall": f"{wall:.1f} s",
        "peak_rss": f"{int(rss.group(1)) / 1024:.0f} MB" if rss else "?",
        "summary": next(
            (line for line in result.stdout.splitlines() if line.startswith("imported")), ""
        ),
    }


def benchmark_sqlite(corpus: Path, folder: Path) -> dict[str, str]:
    return run_import(f"sqlite:///{folder / 'bench.sqlite'}", corpus, folder)


def benchmark_postgresql(corpus: Path, folder: Path, admin_url: str) -> dict[str, str]:
    name = f"portal_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base, _, _ = admin_url.rpartition("/")
        return run_import(f"{base}/{name}", corpus, folder)
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
            if database == "sqlite":
                figures = benchmark_sqlite(corpus, folder)
            elif database == "postgresql":
                figures = benchmark_postgresql(corpus, folder, args.pg_url)
            else:
                parser.error(f"unknown database {database!r}")
            print(f"{database:<10} wall {figures['wall']:>9}  peak RSS {figures['peak_rss']:>7}")
            print(f"{'':<10} {figures['summary']}")


if __name__ == "__main__":
    main()
