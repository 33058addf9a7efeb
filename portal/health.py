"""``/healthz`` for load balancers and monitors: is the database up, is the index readable?

200 when both checks pass, 503 naming the one that failed. No login, no rate limit, no
session: a probe every few seconds must cost one ``SELECT 1`` and one small index read,
and must not create sessions or cookies. The index check also reports how far this
node's index has followed the event table (``pending_events``: written but not yet
applied here), which a monitor can alert on; lag alone does not fail the check, since
searches still answer, from a slightly older index.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify

from portal.extensions import db
from portal.matching.store import vector_progress
from portal.search.index import IndexStore, read_state
from portal.search.models import IndexEvent

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
    with store.open().searcher() as searcher:
        state = read_state(searcher)
    result: dict[str, Any] = {
        "ok": True,
        "generation": generation.name,
        "last_applied_event": state.last_event,
    }
    vectors = vector_progress(generation)
    if vectors is not None:  # information: leads work (lexically) while these are missing
        result["sentence_vectors"] = {"done": vectors.done, "total": vectors.total}
    if not database_ok:
        return result
    latest, pending = db.session.execute(
        sa.select(
            sa.func.max(IndexEvent.id),
            sa.func.count().filter(IndexEvent.id > state.last_event),
        )
    ).one()
    result.update(latest_event=latest or 0, pending_events=pending or 0)
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
