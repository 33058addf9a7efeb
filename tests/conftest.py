"""Fixtures: a real database built by the migrations, each test rolled back, real SMTP.

``make test`` runs the suite twice: ``PORTAL_TEST_DB=sqlite`` (a file in a temporary
folder) and ``PORTAL_TEST_DB=postgresql`` (a fresh database created on 127.0.0.1:5432 for
the run and dropped after it). The schema is built once per run by ``flask db upgrade``.

Every test runs inside an outer transaction on one connection that is rolled back after
it; the code under test commits as usual, which only releases a SAVEPOINT. Requests made
with ``client`` run in a fresh context, as they would in a real server, but share that
one session, so a test sees what its requests committed.
"""

from __future__ import annotations

import contextvars
import email
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy.orm import scoped_session
from support import TEST_DB, count_rows

from portal import create_app
from portal.extensions import PortalSession, db
from portal.search.index import close_searchers

__all__ = ["TEST_DB", "count_rows"]  # re-exported for tests that import them from here

PG_ADMIN_URL = os.environ.get("PORTAL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_url(database: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{database}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if TEST_DB == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal.sqlite'}"
        return
    if TEST_DB != "postgresql":
        raise pytest.UsageError(f"PORTAL_TEST_DB must be sqlite or postgresql, not {TEST_DB!r}")
    name = f"portal_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.exit(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}", returncode=3)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _postgres_url(name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Mailbox:
    """What a real SMTP server on loopback received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.arrived:
            self.messages.append(message)  # type: ignore[arg-type]
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def wait_for(
        self,
        address: str,
        matches: Callable[[EmailMessage], bool] = lambda message: True,
        timeout: float = 20.0,
    ) -> EmailMessage:
        """The newest message to ``address`` that ``matches``, once it has arrived. A live
        server delivers mail after its response has gone out, in its own thread: woken by
        each arrival, not by polling."""
        with self.arrived:
            found = self.arrived.wait_for(
                lambda: [m for m in self.to(address) if matches(m)], timeout
            )
        assert found, f"no matching mail to {address} within {timeout} s"
        return found[-1]

    @staticmethod
    def body(message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Controller, Mailbox]]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller, mailbox
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp_server: tuple[Controller, Mailbox]) -> Mailbox:
    """The SMTP server's inbox, emptied for this test."""
    _, box = smtp_server
    box.messages.clear()
    return box


class RequestIsolatingClient(FlaskClient):
    """Each request runs in an empty context, as in a real server: its own app context
    and ``g`` (so Flask-Login never sees the previous request's user). And, as a server
    does, the response is read to the end and closed before the test looks at it, so the
    work the portal does after a response has gone out (delivering mail) is done."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        return contextvars.Context().run(self._open_and_close, *args, **kwargs)

    def _open_and_close(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        if not kwargs.get("buffered"):  # buffered responses are closed by werkzeug
            response.make_sequence()
            response.close()
        return response


@pytest.fixture(scope="session")
def shared_model_dir(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Where the suite's apps keep prepared sentence encoders: a folder of pytest's cache,
    shared by the SQLite and PostgreSQL runs and kept between runs, so that each graph is
    built once (an 8-bit one is calibrated: minutes), not once per app and run. Its files
    are named by the weights' digest and the recipe, so a change never reuses an old one;
    the tests of building them use folders of their own."""
    cache = getattr(request.config, "cache", None)
    if cache is None:  # pytest -p no:cacheprovider
        return tmp_path_factory.mktemp("models")
    return Path(cache.mkdir("portal-models"))


@pytest.fixture(scope="session")
def _app(
    database_url: str,
    smtp_server: tuple[Controller, Mailbox],
    tmp_path_factory: pytest.TempPathFactory,
    shared_model_dir: Path,
) -> Iterator[Flask]:
    controller, _ = smtp_server
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "PORTAL_INDEX_DIR": str(tmp_path_factory.mktemp("index")),
            "PORTAL_MODEL_DIR": str(shared_model_dir),
            "PORTAL_UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads")),  # never instance/
            "PORTAL_MAIL_SERVER": "127.0.0.1",
            "PORTAL_MAIL_PORT": controller.port,
            "PORTAL_MAIL_DELIVERY": "request",
            "PORTAL_BASE_URL": "http://localhost",
            "SERVER_NAME": "localhost",
            "WTF_CSRF_ENABLED": False,
            # Off for the suite; tests/security turns it on in apps of their own.
            "PORTAL_RATELIMIT_ENABLED": False,
        }
    )
    app.test_client_class = RequestIsolatingClient
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(_app: Flask, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app with an app context pushed and every database change rolled back after;
    each test has its own, empty search index in a temporary folder."""
    index_dir = tmp_path / "search_index"
    monkeypatch.setitem(_app.config, "PORTAL_INDEX_DIR", str(index_dir))
    with _app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        factory = db._make_session_factory(
            {
                "class_": PortalSession,
                "bind": connection,
                "join_transaction_mode": "create_savepoint",
            }
        )
        session = scoped_session(factory, scopefunc=lambda: "test")
        # A request's teardown removes the session; here that only rolls back what the
        # request left uncommitted, as closing a real session would.
        session.remove = lambda: session.registry().rollback()  # type: ignore[method-assign]
        original = db.session
        db.session = session
        try:
            yield _app
        finally:
            close_searchers(index_dir)
            db.session = original
            session.registry().close()
            outer.rollback()
            connection.close()


@pytest.fixture
def committing_app(_app: Flask, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app with real commits, for tests of concurrency; every table is emptied after."""
    index_dir = tmp_path / "search_index"
    monkeypatch.setitem(_app.config, "PORTAL_INDEX_DIR", str(index_dir))
    with _app.app_context():
        try:
            yield _app
        finally:
            close_searchers(index_dir)
            db.session.remove()
            with db.engine.begin() as connection:
                for table in reversed(db.metadata.sorted_tables):
                    connection.execute(table.delete())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def every_lead_shown(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The shipped calibration with its shown threshold at 0: every lead is one a page
    shows first and mail carries. For tests of what mail or a page does with confident
    leads, in small markets whose leads (lexical, a handful of vendors) all fall under the
    shipped threshold; which leads are confident is tested with the real threshold."""
    from dataclasses import replace

    from portal.matching.calibration import Calibration, calibration

    shipped = calibration()
    calibration.cache_clear()
    monkeypatch.setattr(Calibration, "load", classmethod(lambda cls: replace(shipped, shown=0.0)))
    yield
    calibration.cache_clear()  # the next call loads the shipped one again
