"""Work scheduled for after the response runs however the server ends the response:
closed after the last chunk, or dropped without ``close()`` (werkzeug's development server
does that when the browser resets the connection while the request is drained)."""

from __future__ import annotations

import gc

from flask import Flask

from portal.after_response import AfterResponseMiddleware, after_response


def _app(ran: list[str]) -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def index() -> str:
        after_response(lambda: ran.append("first"))
        after_response(lambda: 1 / 0)  # a failing piece does not stop the others
        after_response(lambda: ran.append("last"))
        return "hello"

    @app.get("/quiet")
    def quiet() -> str:
        return "nothing scheduled"

    app.wsgi_app = AfterResponseMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    return app


def _environ(path: str) -> dict[str, object]:
    from werkzeug.test import EnvironBuilder

    return EnvironBuilder(path=path).get_environ()


def test_work_runs_once_the_last_chunk_is_written_and_only_once() -> None:
    ran: list[str] = []
    body = _app(ran).wsgi_app(_environ("/"), lambda *args: None)
    chunks = iter(body)
    assert next(chunks) == b"hello" and ran == []  # not while the body is going out
    assert list(chunks) == [] and ran == ["first", "last"]
    body.close()
    assert ran == ["first", "last"]


def test_work_runs_when_the_server_drops_the_body_without_closing_it() -> None:
    ran: list[str] = []
    body = _app(ran).wsgi_app(_environ("/"), lambda *args: None)
    next(iter(body))  # a chunk went out, then the connection failed
    del body
    gc.collect()
    assert ran == ["first", "last"]


def test_a_response_with_nothing_scheduled_is_passed_through() -> None:
    ran: list[str] = []
    app = _app(ran)
    body = app.wsgi_app(_environ("/quiet"), lambda *args: None)
    assert not hasattr(body, "gi_frame")  # not wrapped in a generator
    assert b"".join(body) == b"nothing scheduled"
