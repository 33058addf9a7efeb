"""Fixtures for the browser tests: the real portal served on loopback, and headless Chromium.

The server is the app from ``create_app`` on its own scratch database (a second SQLite
file, or a second PostgreSQL database, on the run's kind of database), built by the
migrations and holding the demo data as ``portal demo`` loads it. It is never rolled back,
so it must not share the database the other tests roll back; each journey makes its own
accounts and records (unique names) and so does not depend on the order of the tests.
Mail goes to the real SMTP server of ``tests/conftest.py``; the pages are served by
werkzeug in a thread on 127.0.0.1.

The browser is Debian's Chromium (``/usr/bin/chromium``) driven by Playwright, with no
browser download. Without it the tests skip on a laptop, but fail in CI (``CI`` set).
Each test gets a fresh browser context, so no cookie leaks from one to the next, and a
screenshot of the page it ended on is kept under ``PORTAL_E2E_ARTIFACTS``.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller
from flask_migrate import upgrade
from live_portal import TIMEOUT_MS, Browsing, LiveServer, PageProblems
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from support import TEST_DB
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from portal import create_app
from portal.extensions import db
from portal.search.index import close_searchers

CHROMIUM = Path("/usr/bin/chromium")
PG_ADMIN_URL = os.environ.get("PORTAL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def e2e_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scratch database for the server, of the run's kind, dropped after the run."""
    if TEST_DB == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('e2e-db') / 'portal.sqlite'}"
        return
    name = f"portal_e2e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base, _, _ = PG_ADMIN_URL.rpartition("/")
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _closed_before_sending(app: Any) -> Any:
    """Read each response whole and close it before werkzeug sends it.

    werkzeug's development server closes a response's iterator only after draining what
    the client still sends; when the browser has reset the connection (a favicon it no
    longer wants), that read raises, the close is skipped, and a static file stays open
    until garbage collection, where pytest's unraisable-exception check fails whichever
    test runs then. The portal's responses are small pages and files, so nothing is lost
    by buffering them here.
    """

    def wrapped(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return wrapped


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: failures show the page and its errors instead."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture(scope="session")
def live_server(
    e2e_database_url: str,
    smtp_server: tuple[Controller, Any],
    tmp_path_factory: pytest.TempPathFactory,
    shared_model_dir: Path,
) -> Iterator[LiveServer]:
    controller, mailbox = smtp_server
    index_dir = tmp_path_factory.mktemp("e2e-index")
    app = create_app(
        {
            "SECRET_KEY": "e2e-secret-key",
            "SQLALCHEMY_DATABASE_URI": e2e_database_url,
            "PORTAL_INDEX_DIR": str(index_dir),
            "PORTAL_MODEL_DIR": str(shared_model_dir),
            "PORTAL_UPLOAD_DIR": str(tmp_path_factory.mktemp("e2e-uploads")),  # not instance/
            "PORTAL_MAIL_SERVER": "127.0.0.1",
            "PORTAL_MAIL_PORT": controller.port,
            "PORTAL_MAIL_DELIVERY": "request",
            # The limits stay on, but high: one browser on one address plays every
            # person of every journey, far faster than any one person logs in.
            "PORTAL_RATELIMIT_LOGIN": "1000 per minute",
            "PORTAL_RATELIMIT_REGISTER": "1000 per minute",
            "PORTAL_RATELIMIT_SEARCH": "1000 per minute",
        }
    )
    with app.app_context():
        upgrade()
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output

    server: BaseWSGIServer = make_server(
        "127.0.0.1", 0, _closed_before_sending(app), threaded=True, request_handler=_QuietHandler
    )
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["PORTAL_BASE_URL"] = url  # links in mail lead back to this server
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app=app, url=url, mailbox=mailbox)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        close_searchers(index_dir)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"the browser tests need chromium at {CHROMIUM}: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)  # never a silent skip in CI
        pytest.skip(message)
    expect.set_options(timeout=TIMEOUT_MS)
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``PORTAL_E2E_ARTIFACTS`` (one folder per kind of database),
    else a folder under pytest's temporary directory."""
    root = os.environ.get("PORTAL_E2E_ARTIFACTS")
    folder = Path(root) / TEST_DB if root else tmp_path_factory.mktemp("e2e-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browsing(
    browser: Browser,
    live_server: LiveServer,
    artifacts_dir: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Browsing]:
    """A fresh browser for each person in the test; the last page each one saw is saved
    as a screenshot (``<test>.png``, then ``<test>-2.png`` for a second person...)."""
    session = Browsing(browser, live_server, PageProblems(), [])
    try:
        yield session
    finally:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
        for number, context in enumerate(session.contexts, start=1):
            suffix = "" if number == 1 else f"-{number}"
            for page in context.pages:
                page.screenshot(path=artifacts_dir / f"{name}{suffix}.png", full_page=True)
            context.close()
    assert not session.problems.items, "the browser met problems:\n" + "\n".join(
        session.problems.items
    )


@pytest.fixture
def page(browsing: Browsing) -> Page:
    """One person's browser tab on the live portal."""
    return browsing.new_page()
