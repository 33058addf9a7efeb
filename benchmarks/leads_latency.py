"""Latency of leads and search on a loaded portal, in-process and as a whole command.

    PORTAL_DATABASE_URL=... PORTAL_INDEX_DIR=... .venv/bin/python benchmarks/leads_latency.py

Against the portal the environment points at (load it first, e.g. with
``portal import`` of ``make_corpus.py --vendors 100000 --needs 20000``). Prints p50 and
p95 of: leads for one need, leads for one vendor, a one-to-three-word search; the median
wall time of ``portal leads need REF --json`` as a process; and this process's peak RSS.
Warm: each measured call follows one unmeasured call, and every call asks
``current_model()`` first, as a request does (two indexed queries while nothing changed).

``--edits N`` then edits N random vendors' first capability, one commit each as a form
save would, without any rebuild, and measures leads for a need again twice: at once (the
process follows the outbox; the edited vendors rank on their words until their vectors
are stored) and after ``portal leads vectors`` ran as a separate process, as a worker
would. The issue's bar: p95 at most 150 ms before and after 1,000 edits at 100,000
vendors.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import subprocess
import time
from pathlib import Path

from machine import cpu_model_and_flags
from search_words import SEARCH_WORDS

ROOT = Path(__file__).resolve().parent.parent
PORTAL = ROOT / ".venv" / "bin" / "portal"


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms"


def timed(call, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def edit_vendors(count: int, rng: random.Random) -> int:
    """Edit ``count`` random vendors' first capability, one commit each: what a day of
    profile edits does to the outbox. Returns how many were edited."""
    import sqlalchemy as sa

    from portal.extensions import db
    from portal.organizations.models import Capability, Organization
    from portal.organizations.services import update_capability

    first = (
        sa.select(sa.func.min(Capability.id))
        .join(Organization)
        .where(Organization.kind == "vendor")
        .group_by(Capability.organization_id)
    )
    ids = db.session.scalars(first).all()
    edited = 0
    for capability_id in rng.sample(ids, min(count, len(ids))):
        capability = db.session.get(Capability, capability_id)
        update_capability(
            capability,
            title=capability.title,
            description=f"{capability.description} Edited {edited}: also remote monitoring.",
            sectors=list(capability.sectors),
        )
        db.session.commit()
        edited += 1
    return edited


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--processes", type=int, default=7, help="runs of the CLI command")
    parser.add_argument(
        "--edits", type=int, default=0, help="then edit this many vendors and measure again"
    )
    args = parser.parse_args()
    rng = random.Random(1)
    cpu, flags = cpu_model_and_flags()
    isa = [flag for flag in flags if flag in ("avx2", "avx512f", "avx512_vnni", "amx_bf16")]
    print(f"cpu: {cpu} ({' '.join(isa)})")

    import sqlalchemy as sa

    from portal import create_app
    from portal.extensions import db
    from portal.matching.profiles import NeedProfile, VendorProfile
    from portal.matching.services import current_model
    from portal.needs.models import Need
    from portal.organizations.models import Organization
    from portal.search.queries import search

    app = create_app()
    with app.app_context():
        started = time.perf_counter()
        model = current_model()
        print(
            f"model ready in {time.perf_counter() - started:.1f} s "
            f"(vectors: {model.vendors.snapshot.pieces is not None})"
        )
        need_ids = db.session.scalars(sa.select(Need.id).where(Need.is_open)).all()
        vendor_ids = db.session.scalars(
            sa.select(Organization.id).where(Organization.kind == "vendor")
        ).all()
        needs = [
            NeedProfile.of(db.session.get(Need, i)) for i in rng.sample(need_ids, args.samples)
        ]
        vendors = [
            VendorProfile.of(db.session.get(Organization, i))
            for i in rng.sample(vendor_ids, args.samples)
        ]

        def need_leads() -> list[float]:
            current_model().vendors_for(needs[0])
            return [timed(lambda n=n: current_model().vendors_for(n), 1)[0] for n in needs]

        need_times = need_leads()
        current_model().needs_for(vendors[0])
        vendor_times = [timed(lambda v=v: current_model().needs_for(v), 1)[0] for v in vendors]
        queries = [
            " ".join(rng.sample(SEARCH_WORDS, rng.randint(1, 3))) for _ in range(args.samples)
        ]
        search(queries[0])
        search_times = [timed(lambda q=q: search(q), 1)[0] for q in queries]
        ref = db.session.get(Need, need_ids[0]).ref
        print(f"leads for a need    ({len(need_times)}): {percentiles(need_times)}")
        print(f"leads for a vendor  ({len(vendor_times)}): {percentiles(vendor_times)}")
        print(f"search, 1-3 words   ({len(search_times)}): {percentiles(search_times)}")
        if args.edits:
            started = time.perf_counter()
            edited = edit_vendors(args.edits, rng)
            took = time.perf_counter() - started
            print(f"edited {edited} vendors, one commit each: {took:.1f} s")
            started = time.perf_counter()
            current_model()
            took = time.perf_counter() - started
            print(f"the first request after the edits followed them in {took:.2f} s")
            after = need_leads()
            print(f"leads for a need, vectors pending ({len(after)}): {percentiles(after)}")
            db.session.rollback()  # hold no read transaction while the worker writes
            started = time.perf_counter()
            worker = subprocess.run(  # noqa: S603 - our own CLI, as a worker would run it
                [str(PORTAL), "leads", "vectors", "--no-progress"], capture_output=True, text=True
            )
            if worker.returncode:
                raise SystemExit(f"portal leads vectors failed:\n{worker.stderr[-3000:]}")
            print(f"`portal leads vectors` for the edits: {time.perf_counter() - started:.1f} s")
            db.session.rollback()  # end the read transaction: see what the worker stored
            after = need_leads()
            print(f"leads for a need, after the worker ({len(after)}): {percentiles(after)}")
    print(
        f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB"
    )
    walls = []
    for _ in range(args.processes):
        started = time.perf_counter()
        subprocess.run(  # noqa: S603 - our own CLI
            [str(PORTAL), "leads", "need", ref, "--json"],
            check=True,
            capture_output=True,
        )
        walls.append(time.perf_counter() - started)
    print(
        f"`portal leads need REF --json` as a process ({args.processes}): "
        f"median {statistics.median(walls):.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
