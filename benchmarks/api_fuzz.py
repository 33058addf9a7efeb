"""Fuzz the public API with schemathesis against its own OpenAPI document.

    .venv/bin/pip install -e '.[fuzz]'
    .venv/bin/python benchmarks/api_fuzz.py --data ../shared/data/dev.jsonl [--seconds 90]

Imports FILE (the exchange format) into a fresh SQLite portal in a temporary folder,
adds a vendor member with a personal API token (so that the ``/me`` endpoints are fuzzed
too), serves the portal with a real HTTP server on 127.0.0.1 (werkzeug, in a thread),
and runs ``schemathesis run`` on ``/api/v1/openapi.json`` with the checks
``not_a_server_error`` and ``response_schema_conformance`` and ``--max-time --seconds``
(its phases repeat until the time is spent). Before that, it checks two bars on the
loaded data over HTTP: ``/api/v1/needs`` pages through exactly the open public needs,
and no answer of the lists and of every vendor, buyer and need holds a contact's email
or phone. Exits with schemathesis's status (0 when it found nothing), 1 if a bar fails.
A run that overstays its time by two minutes is interrupted (SIGINT, so that it still
prints what it found) and counts as a failure.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

CHECKS = "not_a_server_error,response_schema_conformance"
OVERSTAY = 120  # seconds past --max-time before the run is interrupted


def schemathesis_command() -> str:
    beside = Path(sys.executable).with_name("schemathesis")
    found = str(beside) if beside.exists() else shutil.which("schemathesis")
    if not found:
        sys.exit("schemathesis is not installed: pip install -e '.[fuzz]'")
    return found


def prepare(app: object, data: Path) -> str:
    """Load ``data`` and return a token of a member of its first verified vendor."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from portal.accounts.models import Role
    from portal.accounts.services import create_user
    from portal.api.tokens import create_token
    from portal.exchange.cli import run_import, update_search_index
    from portal.extensions import db
    from portal.organizations.models import Organization, OrganizationKind, VerificationStatus

    with app.app_context():  # type: ignore[attr-defined]
        upgrade()
        started = time.perf_counter()
        report = run_import(data)
        update_search_index(report.organizations + report.needs)
        print(f"{report.summary()} in {time.perf_counter() - started:.1f} s")
        vendor = db.session.scalar(
            sa.select(Organization)
            .where(
                Organization.kind == OrganizationKind.VENDOR,
                Organization.status == VerificationStatus.VERIFIED,
            )
            .order_by(Organization.id)
            .limit(1)
        )
        if vendor is None:
            sys.exit("the data has no verified vendor")
        user = create_user(
            "fuzz@example.org",
            secrets.token_urlsafe(16),
            Role.VENDOR,
            full_name="Fuzz Member",
            organization_id=vendor.id,
            email_confirmed=True,
        )
        secret = create_token(user, "schemathesis").secret
        db.session.commit()
        db.session.remove()
    return secret


def get_json(url: str) -> tuple[str, object]:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - our loopback
        text = response.read().decode()
    return text, json.loads(text)


def check_bars(app: object, base: str) -> list[str]:
    """The needs list pages through exactly the open public needs; no contact in any
    answer of the lists and of each record. Returns what failed."""
    import sqlalchemy as sa

    from portal.extensions import db
    from portal.needs.models import Need
    from portal.organizations.models import Contact

    with app.app_context():  # type: ignore[attr-defined]
        public = set(db.session.scalars(sa.select(Need.ref).where(Need.is_public)))
        contacts = db.session.execute(sa.select(Contact.email, Contact.phone)).all()
        db.session.remove()
    emails = {email.lower() for email, _ in contacts if email}
    phones = {re.sub(r"[\s\-.()/]", "", phone) for _, phone in contacts if phone}
    failures: list[str] = []
    answers: list[tuple[str, str]] = []
    records: dict[str, list[str]] = {}
    for name in ("needs", "vendors", "buyers"):
        url: str | None = f"{base}/{name}?limit=7"
        while url:
            text, body = get_json(url)
            answers.append((url, text))
            records.setdefault(name, []).extend(item["url"] for item in body["items"])  # type: ignore[index]
            url = body["next"]  # type: ignore[index]
    listed = [url.rsplit("/", 1)[1] for url in records["needs"]]
    if len(listed) != len(set(listed)) or set(listed) != public:
        failures.append(
            f"/needs listed {len(listed)} needs, the open public ones are {len(public)}"
        )
    for url in [u for urls in records.values() for u in urls]:
        answers.append((url, get_json(url)[0]))
    for url, text in answers:
        lowered, digits = text.lower(), re.sub(r"[\s\-.()/]", "", text)
        leaked = [e for e in emails if e in lowered] + [
            p for p in phones if len(p) >= 7 and p in digits
        ]
        if leaked:
            failures.append(f"{url} holds contact details: {leaked[:3]}")
    print(
        f"bars: {len(listed)} needs listed of {len(public)} open public ones; "
        f"{len(answers)} answers searched for {len(emails)} emails and {len(phones)} phones"
    )
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="an exchange-format JSONL file")
    parser.add_argument("--seconds", type=float, default=90.0, help="how long to fuzz")
    parser.add_argument("--workers", type=int, default=1, help="schemathesis workers")
    args = parser.parse_args()
    command = schemathesis_command()

    # Imported before the app is made: create_app binds Flask-Migrate only when it is loaded.
    import flask_migrate  # noqa: F401
    from werkzeug.serving import make_server

    from portal import create_app
    from portal.extensions import db

    with tempfile.TemporaryDirectory(prefix="api-fuzz-") as folder:
        root = Path(folder)
        app = create_app(
            {
                "SECRET_KEY": secrets.token_urlsafe(32),
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'portal.sqlite'}",
                "PORTAL_INDEX_DIR": str(root / "index"),
                "PORTAL_MODEL_DIR": str(root / "models"),
                "PORTAL_MAIL_DELIVERY": "worker",
                "PORTAL_RATELIMIT_ENABLED": False,  # fuzzing is one very busy client
            }
        )
        secret = prepare(app, args.data)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}/api/v1"
        failures = check_bars(app, base)
        for failure in failures:
            print("FAILED:", failure)
        schema = f"{base}/openapi.json"
        run = [
            command,
            "run",
            schema,
            "--checks",
            CHECKS,
            "--header",
            f"Authorization: Bearer {secret}",
            "--workers",
            str(args.workers),
            "--max-time",
            str(max(1, round(args.seconds))),
        ]
        print("running:", " ".join(run[:5]), "...", f"for {args.seconds:.0f} s")
        started = time.perf_counter()
        process = subprocess.Popen(run, env={**os.environ, "NO_COLOR": "1"})  # noqa: S603
        stopped = False
        try:
            code = process.wait(timeout=args.seconds + OVERSTAY)
        except subprocess.TimeoutExpired:
            stopped = True
            process.send_signal(signal.SIGINT)
            try:
                code = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
        finally:
            server.shutdown()
            with app.app_context():
                db.engine.dispose()
    elapsed = time.perf_counter() - started
    how = "interrupted after" if stopped else "ended after"
    print(f"schemathesis {how} {elapsed:.0f} s with status {code}")
    return 1 if stopped or failures else code


if __name__ == "__main__":
    sys.exit(main())
