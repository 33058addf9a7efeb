"""``/healthz`` for load balancers and monitors: is the database up, is the index readable?

200 when both checks pass, 503 naming the one that failed. No login, no rate limit, no
session: a probe every few seconds must cost one ``SELECT 1`` and one small index read,
and must not create sessions or cookies. The index check also reports how far this
node's index has followed the event table (``pending_events``: written but not yet
applied here, and ``lag_seconds``: how long the oldest of them has waited). A short lag
is normal (a large import, a worker pass not yet run) and searches still answer from a
slightly older index; events waiting longer than ``PORTAL_HEALTH_MAX_LAG_SECONDS`` mean
this node's worker is not running, and fail the check.

The answer is public: it holds numbers and fixed words, never a path, a host, a folder
name or an exception's message.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify

from portal.db import utc_now
from portal.extensions import db
from portal.matching.store.snapshot import vector_progress
from portal.outbox import IndexEvent
from portal.search.index import IndexOutdated, IndexStore, read_state

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


def check_database() -> dict[str, Any]:
    db.session.execute(sa.text("SELECT 1"))
    return {"ok": True}


def check_index(database_ok: bool = True) -> dict[str, Any]:
    """Open the live generation (never creating one) and read its applied-events state;
    with the database up, compare it with the event table."""
    store = IndexStore.from_app()
    generation = store.current_generation()
    if generation is None:
        return {"ok": False, "error": "no live index generation; run `portal index rebuild`"}
    outdated = store.outdated_version()
    if outdated is not None:  # after an upgrade, until the worker or a person rebuilds it
        return {"ok": False, "error": str(IndexOutdated(outdated))}
    with store.open().searcher() as searcher:
        state = read_state(searcher)
    result: dict[str, Any] = {"ok": True, "last_applied_event": state.last_event}
    vectors = vector_progress(generation)
    if vectors is not None:  # information: leads work (lexically) while these are missing
        result["sentence_vectors"] = {"done": vectors.done, "total": vectors.total}
    if not database_ok:
        return result
    waiting = IndexEvent.id > state.last_event
    latest, pending, oldest = db.session.execute(
        sa.select(
            sa.func.max(IndexEvent.id),
            sa.func.count().filter(waiting),
            sa.func.min(IndexEvent.created_at).filter(waiting),
        )
    ).one()
    lag = 0
    if oldest is not None:
        lag = max(int((utc_now() - oldest).total_seconds()), 0)
    result.update(latest_event=latest or 0, pending_events=pending or 0, lag_seconds=lag)
    longest = int(current_app.config["PORTAL_HEALTH_MAX_LAG_SECONDS"])
    if lag > longest:
        result["ok"] = False
        result["error"] = (
            f"index events have waited {lag} s (over {longest} s): is `portal worker` running?"
        )
    return result


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    checks: dict[str, dict[str, Any]] = {}
    for name, check in (
        ("database", check_database),
        ("index", lambda: check_index(database_ok=checks["database"]["ok"])),
    ):
        try:
            checks[name] = check()
        except Exception as exc:  # a failed check is the answer, not an error page
            log.exception("health check %s failed", name)
            db.session.rollback()
            # The exception's type only: its message may name hosts, paths or users.
            checks[name] = {"ok": False, "error": type(exc).__name__}
    ok = all(check["ok"] for check in checks.values())
    response = jsonify(status="ok" if ok else "fail", checks=checks)
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if ok else 503
