"""Sentence vectors computed by 1 and 2 worker processes sharing one PostgreSQL queue.

    .venv/bin/python benchmarks/vector_workers.py --vendors 1000 --needs 200 \\
        --corpus-tool /path/to/make_corpus.py --model-dir /path/to/model-cache

For each worker count a fresh PostgreSQL database is made (on --pg-url /
$PORTAL_BENCH_PG_URL, dropped after), ``portal db upgrade`` builds the schema and
``portal import`` loads the synthetic corpus (with no prepared model, so the import itself
embeds nothing). The index events are fed to the vector queue, then N processes start,
each preparing the real encoder, and once all are ready they work through the queue
together, each claiming its own chunks (``FOR UPDATE SKIP LOCKED``), exactly as
``portal worker`` does. Printed: the CPU model and flags, records per second from the
moment all start until the last one ends, each worker's share, and how many records were
embedded more than once (must be 0); the database is then checked to hold every
candidate's vectors with the queue empty.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
from machine import cpu_model_and_flags, make_corpus

ROOT = Path(__file__).resolve().parent.parent
PORTAL = ROOT / ".venv" / "bin" / "portal"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8")


def cpu() -> tuple[str, list[str], int]:
    """The CPU's model, the matrix-relevant flags it has, and how many CPUs we may use."""
    model, flags = cpu_model_and_flags()
    return model, [flag for flag in FLAGS if flag in flags], len(os.sched_getaffinity(0))


def worker(chunk: int) -> None:
    """One worker process (``--worker``): prepare the encoder, say so, wait for "go" on
    stdin, work through the queue, print what it embedded as JSON."""
    from portal import create_app
    from portal.matching.store.queue import compute_vectors, sentence_encoder

    app = create_app()
    with app.app_context():
        encoder = sentence_encoder(prepare=True)
        if encoder is None:
            sys.exit("the sentence encoder is not installed")
        print("ready", flush=True)
        sys.stdin.readline()
        started = time.perf_counter()
        work = compute_vectors(encoder.encode, chunk=chunk)
        seconds = time.perf_counter() - started
    print(json.dumps({"records": work.records, "claimed": work.claimed, "seconds": seconds}))


def _portal(env: dict[str, str], *words: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own CLI
        [str(PORTAL), *words], env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"portal {words[0]} failed:\n{result.stdout}\n{result.stderr[-3000:]}")
    return result.stdout


def _python(env: dict[str, str], code: str) -> str:
    result = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


FEED = """
from portal import create_app
from portal.matching.store.snapshot import feed_vector_queue, pending_vectors
with create_app().app_context():
    feed_vector_queue()
    print(pending_vectors())
"""

CHECK = """
import json
import sqlalchemy as sa
from portal import create_app
from portal.extensions import db
from portal.matching.models import LeadVector
from portal.matching.profiles import count_needs, count_vendors
from portal.matching.store.snapshot import pending_vectors
with create_app().app_context():
    stored = db.session.scalar(sa.select(sa.func.count()).select_from(LeadVector))
    print(json.dumps({"stored": stored, "candidates": count_vendors() + count_needs(),
                      "pending": pending_vectors()}))
"""


def run(workers: int, corpus: Path, pg_url: str, model_dir: Path, chunk: int) -> dict:
    name = f"portal_vectors_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = pg_url.rpartition("/")
    database_url = f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    try:
        with tempfile.TemporaryDirectory() as folder:
            env = {
                **os.environ,
                "PORTAL_DATABASE_URL": database_url,
                "PORTAL_SECRET_KEY": "benchmark-only",
                "PORTAL_INDEX_DIR": str(Path(folder) / "index"),
                "PORTAL_MODEL_DIR": str(Path(folder) / "no-model"),  # the import embeds nothing
            }
            _portal(env, "db", "upgrade")
            _portal(env, "import", str(corpus))
            queued = int(_python(env, FEED).strip())
            env["PORTAL_MODEL_DIR"] = str(model_dir)
            processes = [
                subprocess.Popen(  # noqa: S603 - this script, in worker mode
                    [sys.executable, __file__, "--worker", "--chunk", str(chunk)],
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(workers)
            ]
            for process in processes:
                if process.stdout.readline().strip() != "ready":
                    sys.exit("a worker did not start")
            started = time.perf_counter()
            for process in processes:
                process.stdin.write("go\n")
                process.stdin.flush()
            outputs = [process.communicate()[0] for process in processes]
            wall = time.perf_counter() - started
            if any(process.returncode for process in processes):
                sys.exit("a worker failed")
            reports = [json.loads(output.strip().splitlines()[-1]) for output in outputs]
            check = json.loads(_python(env, CHECK))
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    embedded = Counter(tuple(record) for report in reports for record in report["records"])
    return {
        "workers": workers,
        "queued": queued,
        "embedded": sum(embedded.values()),
        "records_per_s": sum(embedded.values()) / wall,
        "wall_s": wall,
        "shares": [len(report["records"]) for report in reports],
        "embedded_more_than_once": sum(1 for count in embedded.values() if count > 1),
        **check,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--chunk", type=int, default=256, help="records claimed per chunk")
    parser.add_argument("--vendors", type=int, default=1000)
    parser.add_argument("--needs", type=int, default=200)
    parser.add_argument("--workers", default="1,2", help="worker counts to run, in order")
    parser.add_argument("--corpus-tool", default=os.environ.get("PORTAL_CORPUS_TOOL"))
    parser.add_argument("--pg-url", default=os.environ.get("PORTAL_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--model-dir", help="keeps the prepared model between runs")
    args = parser.parse_args()
    if args.worker:
        worker(args.chunk)
        return 0
    if not args.corpus_tool:
        parser.error("--corpus-tool (or $PORTAL_CORPUS_TOOL) is required")
    model, flags, cpus = cpu()
    print(f"CPU: {model}; flags: {' '.join(flags) or 'none of ' + ', '.join(FLAGS)}")
    print(f"CPUs available: {cpus}; load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        corpus = make_corpus(args.corpus_tool, args.vendors, args.needs, Path(folder))
        model_dir = Path(args.model_dir) if args.model_dir else Path(folder) / "model"
        for count in [int(n) for n in args.workers.split(",")]:
            figures = run(count, corpus, args.pg_url, model_dir, args.chunk)
            print(
                f"{count} worker(s): {figures['embedded']} records in {figures['wall_s']:.1f} s"
                f" = {figures['records_per_s']:.1f} records/s; shares {figures['shares']};"
                f" embedded more than once: {figures['embedded_more_than_once']};"
                f" stored {figures['stored']} of {figures['candidates']} candidates,"
                f" {figures['pending']} left in the queue"
                f" (load average now {os.getloadavg()[0]:.2f})",
                flush=True,
            )
            if figures["embedded_more_than_once"] or figures["pending"]:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
