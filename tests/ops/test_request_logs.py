"""PORTAL_LOG_FORMAT=json: one JSON line per request, and never a secret or a contact in it."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from separate_app import separate_app

from portal.accounts.models import Role, User
from portal.accounts.services import create_user, start_session
from portal.db import utc_now
from portal.extensions import db
from portal.logs import JsonFormatter

PASSWORD = "a very secret passphrase"


@pytest.fixture
def json_app(_app: Flask, tmp_path: Path) -> Iterator[tuple[Flask, io.StringIO]]:
    """An app logging JSON; its handler writes to a buffer for the test to read."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    flask_logger = logging.getLogger("portal")
    saved_flask = (list(flask_logger.handlers), flask_logger.propagate)
    with separate_app(_app, tmp_path / "index", PORTAL_LOG_FORMAT="json") as app:
        [handler] = [h for h in root.handlers if getattr(h, "portal_json", False)]
        buffer = io.StringIO()
        handler.setStream(buffer)  # type: ignore[attr-defined]
        try:
            yield app, buffer
        finally:
            root.handlers[:] = saved[0]
            root.setLevel(saved[1])
            flask_logger.handlers[:] = saved_flask[0]
            flask_logger.propagate = saved_flask[1]


def request_lines(buffer: io.StringIO) -> list[dict]:
    entries = [json.loads(line) for line in buffer.getvalue().splitlines()]
    return [e for e in entries if e["logger"] == "portal.request"]


def test_one_json_line_per_request_with_its_fields(json_app: tuple[Flask, io.StringIO]) -> None:
    app, buffer = json_app
    client = app.test_client()
    client.get("/login")
    client.get("/no-such-page", headers={"X-Request-ID": "trace-0123456789"})

    first, second = request_lines(buffer)
    assert first["method"] == "GET"
    assert first["path"] == "/login"
    assert first["status"] == 200
    assert first["duration_ms"] >= 0
    assert first["user_id"] is None
    assert len(first["request_id"]) == 32
    assert first["level"] == "INFO"
    assert first["time"].endswith("+00:00")
    assert second["status"] == 404
    assert second["request_id"] == "trace-0123456789"  # the proxy's id, to join its logs


def test_the_request_id_is_echoed_and_a_malformed_one_replaced(
    json_app: tuple[Flask, io.StringIO],
) -> None:
    app, buffer = json_app
    response = app.test_client().get("/login", headers={"X-Request-ID": "bad id; <script>"})
    [line] = request_lines(buffer)
    assert response.headers["X-Request-ID"] == line["request_id"]
    assert line["request_id"] != "bad id; <script>"


def test_no_password_token_email_or_query_reaches_the_log(
    json_app: tuple[Flask, io.StringIO],
) -> None:
    app, buffer = json_app
    client = app.test_client()
    client.post("/login", data={"email": "someone@private.example", "password": PASSWORD})
    client.post("/reset", data={"email": "someone@private.example"})
    client.get("/reset/tok3n-SECRET-value")
    client.get("/confirm/c0nfirm-SECRET-value")
    client.get("/search?q=someone%40private.example")

    text = buffer.getvalue()
    for secret in (PASSWORD, "someone", "private.example", "SECRET", "tok3n", "c0nfirm"):
        assert secret not in text
    paths = [line["path"] for line in request_lines(buffer)]
    assert paths == ["/login", "/reset", "/reset/<token>", "/confirm/<token>", "/search"]


def test_the_logged_in_users_id_is_logged(json_app: tuple[Flask, io.StringIO]) -> None:
    app, buffer = json_app
    with app.app_context():
        user = create_user("log-test@staff.example", PASSWORD, Role.STAFF, full_name="Log Test")
        user.email_confirmed_at = utc_now()
        session_id = start_session(user)
        db.session.commit()
        user_id = user.id
    try:
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = session_id
        assert client.get("/account").status_code == 200
        [line] = request_lines(buffer)
        assert line["user_id"] == user_id
        assert "log-test" not in buffer.getvalue()
    finally:
        with app.app_context():
            db.session.execute(db.delete(User).where(User.id == user_id))
            db.session.commit()


def test_an_exception_is_one_json_object_with_its_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("portal", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed"
    assert "ValueError: boom" in entry["exception"]


def test_text_is_the_default_and_adds_no_json_handler(_app: Flask) -> None:
    assert _app.config["PORTAL_LOG_FORMAT"] == "text"
    assert not [h for h in logging.getLogger().handlers if getattr(h, "portal_json", False)]
