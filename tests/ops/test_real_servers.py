"""The portal as production and development serve it: gunicorn with deploy/gunicorn.conf.py
(two workers) and ``flask --app wsgi run``, on a free loopback port, over real HTTP.

Each shows the security headers, sets the session cookie with its flags, and answers
/healthz; gunicorn also honours one trusted proxy's X-Forwarded-Proto (HSTS) and writes
JSON request lines.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from portal.config import PROJECT_ROOT
from portal.search.index import IndexStore
from portal.security import CONTENT_SECURITY_POLICY

BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def _wait_until_serving(process: subprocess.Popen[bytes], port: int) -> None:
    """Poll until the server accepts connections (a process starting, not a test race)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


@pytest.fixture(params=["gunicorn", "flask run"])
def server(
    request: pytest.FixtureRequest, _app: Flask, tmp_path: Path
) -> Iterator[tuple[str, int, Path]]:
    port = _free_port()
    index_dir = tmp_path / "index"
    IndexStore(index_dir).open()  # an index exists, as after `portal index rebuild`
    log_file = tmp_path / "server.log"
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": _app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTAL_SECRET_KEY": "served-test-secret",
        "PORTAL_INDEX_DIR": str(index_dir),
        "PORTAL_MODEL_DIR": str(tmp_path / "models"),
        "PORTAL_SECURE_COOKIES": "true",
        "PORTAL_PROXY_HOPS": "1",
        "PORTAL_LOG_FORMAT": "json",
        "PORTAL_BIND": f"127.0.0.1:{port}",
        "PORTAL_WEB_WORKERS": "2",
    }
    if request.param == "gunicorn":
        command = [
            str(BIN / "gunicorn"),
            "--config",
            str(PROJECT_ROOT / "deploy" / "gunicorn.conf.py"),
            "wsgi:app",
        ]
    else:
        command = [str(BIN / "flask"), "--app", "wsgi", "run", "--port", str(port)]
    with log_file.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own executables, no shell
            command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_until_serving(process, port)
            yield request.param, port, log_file
        finally:
            process.terminate()
            process.wait(timeout=60)


def test_served_pages_show_the_headers_and_cookie_flags(server: tuple[str, int, Path]) -> None:
    _, port, _ = server
    login = _get(port, "/login")
    assert login.status == 200
    assert login.getheader("Content-Security-Policy") == CONTENT_SECURITY_POLICY
    assert login.getheader("X-Content-Type-Options") == "nosniff"
    assert login.getheader("X-Frame-Options") == "DENY"
    assert login.getheader("Referrer-Policy") == "strict-origin-when-cross-origin"
    assert login.getheader("Strict-Transport-Security") is None  # plain HTTP, no proxy
    [cookie] = [c for c in login.headers.get_all("Set-Cookie") or [] if c.startswith("session=")]
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite"} <= flags
    assert "SameSite=Lax" in cookie

    # A malformed query is a page, not a 500.
    assert _get(port, "/search?q=%22(((%20AND%20title:*").status == 200

    health = _get(port, "/healthz")
    assert health.status == 200
    assert health.getheader("Set-Cookie") is None


def test_one_trusted_proxy_says_https(server: tuple[str, int, Path]) -> None:
    _, port, _ = server
    proxied = _get(port, "/login", {"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.7"})
    assert proxied.getheader("Strict-Transport-Security") == "max-age=31536000"


def test_request_lines_are_json(server: tuple[str, int, Path]) -> None:
    _, port, log_file = server
    _get(port, "/healthz", {"X-Request-ID": "served-test-request-1"})
    lines = []
    deadline = time.monotonic() + 10
    while not lines and time.monotonic() < deadline:  # the log is written by another process
        lines = [
            json.loads(line)
            for line in log_file.read_text(encoding="utf-8").splitlines()
            if "served-test-request-1" in line and line.startswith("{")
        ]
        if not lines:
            time.sleep(0.1)
    [line] = lines
    assert line["path"] == "/healthz"
    assert line["status"] == 200


def test_gunicorn_says_when_each_worker_counts_rate_limits_alone(
    server: tuple[str, int, Path],
) -> None:
    """With memory:// (the default) every worker keeps its own counters: a client gets
    each limit once per worker. gunicorn says so when it starts."""
    kind, port, log_file = server
    if kind != "gunicorn":
        pytest.skip("a gunicorn start-up message")
    # A worker answered, so the master has started up (it logs this before any worker).
    assert _get(port, "/healthz").status in (200, 503)
    text = log_file.read_text(encoding="utf-8")
    assert "rate limits are counted per worker" in text
    assert "PORTAL_RATELIMIT_STORAGE_URL=redis://" in text
