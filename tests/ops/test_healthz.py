"""/healthz: the database and this node's index, 200 or 503 naming the failed check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from organizations.directory_factories import make_need, make_org
from separate_app import separate_app

from portal.db import utc_now
from portal.extensions import db
from portal.organizations.models import OrganizationKind
from portal.outbox import IndexEvent
from portal.search.index import IndexStore
from portal.search.sync import apply_pending_events


def test_healthy_with_the_index_following_the_event_table(client: FlaskClient) -> None:
    make_need(make_org(OrganizationKind.BUYER))
    apply_pending_events()
    latest = db.session.scalar(sa.select(sa.func.max(IndexEvent.id)))

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.is_json
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True}
    index = body["checks"]["index"]
    assert index["ok"] is True
    assert index["last_applied_event"] == index["latest_event"] == latest
    assert index["pending_events"] == 0 and index["lag_seconds"] == 0
    assert "gen-" not in response.text  # no folder names in a public answer


def test_lag_is_reported_and_does_not_fail_the_check(client: FlaskClient) -> None:
    make_org(OrganizationKind.VENDOR)
    apply_pending_events()
    applied = client.get("/healthz").get_json()["checks"]["index"]["last_applied_event"]
    # Two more changes committed that this node has not applied yet.
    make_org(OrganizationKind.VENDOR)
    make_org(OrganizationKind.BUYER)

    response = client.get("/healthz")

    assert response.status_code == 200
    index = response.get_json()["checks"]["index"]
    assert index["last_applied_event"] == applied
    assert index["pending_events"] == 2
    assert index["latest_event"] > applied


def test_events_waiting_too_long_fail_the_check(client: FlaskClient, app: Flask) -> None:
    """Regression: /healthz said ok while 30,000 index events waited for a worker that was
    not running. Events older than PORTAL_HEALTH_MAX_LAG_SECONDS fail it."""
    make_org(OrganizationKind.VENDOR)
    apply_pending_events()
    make_org(OrganizationKind.VENDOR)  # written, not applied: this node's worker is down
    db.session.execute(
        sa.update(IndexEvent).values(created_at=utc_now() - dt.timedelta(minutes=10))
    )
    db.session.commit()

    response = client.get("/healthz")

    assert response.status_code == 503
    index = response.get_json()["checks"]["index"]
    assert index["ok"] is False and index["pending_events"] == 1
    assert index["lag_seconds"] >= 600
    assert "portal worker" in index["error"]


def test_no_index_yet_is_a_503_naming_the_index(client: FlaskClient, app: Flask) -> None:
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "fail"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["index"]["ok"] is False
    assert "portal index rebuild" in body["checks"]["index"]["error"]
    # The probe did not create an index as a side effect.
    assert IndexStore.from_app().current_generation() is None


def test_a_database_that_cannot_be_reached_is_a_503_naming_the_database(
    _app: Flask, tmp_path: Path
) -> None:
    unreachable = f"sqlite:///{tmp_path / 'no-such-folder' / 'portal.sqlite'}"
    with separate_app(_app, tmp_path / "index", SQLALCHEMY_DATABASE_URI=unreachable) as app:
        with app.app_context():
            IndexStore.from_app().open()  # the index itself is fine
        response = app.test_client().get("/healthz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    assert body["checks"]["index"]["ok"] is True
    assert "no-such-folder" not in response.text  # no paths or hosts in a public answer


def test_no_session_no_cookie_and_no_caching(client: FlaskClient) -> None:
    # A browser's stale remember-me cookie is not even looked at.
    client.set_cookie("remember_token", "garbage")
    response = client.get("/healthz")
    assert response.headers.getlist("Set-Cookie") == []
    assert response.headers["Cache-Control"] == "no-store"
