"""Rate limits on login, registration, reset and search: in memory and in a real Redis.

Each test builds its own app with the limits on (the suite runs with them off). The
requests it makes write nothing: unknown addresses and invalid forms, which is also what
an attacker's guesses look like. The Redis tests use a key prefix of their own and
delete their keys after; Redis must be running on 127.0.0.1:6379 (``.ci/run`` starts
it), and a test FAILS rather than skips when it is not.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from separate_app import separate_app

from portal.config import load_settings
from portal.ratelimit import LIMITED_ENDPOINTS

REDIS_URL = "redis://127.0.0.1:6379/0"
RUN_PREFIX = f"portal-test-{uuid.uuid4().hex[:12]}"

ATTEMPTS = {
    # path, method, form: a request that is refused on its merits and writes nothing
    "login": ("/login", "POST", {"email": "nobody@vendor.example", "password": "guess guess"}),
    "register": ("/register", "POST", {"email": "not-an-address"}),
    "resend": ("/confirm/resend", "POST", {"email": "not-an-address"}),
    "reset": ("/reset", "POST", {"email": "not-an-address"}),
    "reset-link": ("/reset/not-a-real-token", "POST", {"password": "x"}),
    "search": ("/search?q=water+sensors", "GET", None),
}


@pytest.fixture(scope="module")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} (.ci/run starts it): {exc}")
    try:
        yield client
    finally:
        keys = list(client.scan_iter(match=f"*{RUN_PREFIX}*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        request.getfixturevalue("redis_client")
        return REDIS_URL
    return "memory://"


def limited_app(
    _app: Flask,
    tmp_path: Path,
    storage: str,
    limit: str = "3 per minute",
    account_limit: str = "100 per minute",
) -> object:
    return separate_app(
        _app,
        tmp_path / "index",
        PORTAL_RATELIMIT_ENABLED=True,
        PORTAL_RATELIMIT_STORAGE_URL=storage,
        # A prefix per test: counters never carry over from one test to the next.
        PORTAL_RATELIMIT_KEY_PREFIX=f"{RUN_PREFIX}-{uuid.uuid4().hex[:8]}",
        PORTAL_RATELIMIT_LOGIN=limit,
        PORTAL_RATELIMIT_LOGIN_ACCOUNT=account_limit,
        PORTAL_RATELIMIT_REGISTER=limit,
        PORTAL_RATELIMIT_RESET=limit,
        PORTAL_RATELIMIT_SEARCH=limit,
    )


def send(client, name: str, address: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    path, method, form = ATTEMPTS[name]
    return client.open(path, method=method, data=form, environ_base={"REMOTE_ADDR": address})


@pytest.mark.parametrize("name", list(ATTEMPTS))
def test_each_limited_page_answers_429_with_the_portal_page_after_its_limit(
    _app: Flask, tmp_path: Path, storage: str, name: str
) -> None:
    with limited_app(_app, tmp_path, storage) as app:
        client = app.test_client()
        answers = [send(client, name).status_code for _ in range(3)]
        refused = send(client, name)

    assert 429 not in answers
    assert refused.status_code == 429
    assert "Too many requests. Please wait a moment and try again." in refused.text
    assert "Smart Cities" in refused.text  # the portal's own error page, not a bare one
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.headers["Content-Security-Policy"]


def test_limits_are_per_client_address_and_per_page(
    _app: Flask, tmp_path: Path, storage: str
) -> None:
    with limited_app(_app, tmp_path, storage, limit="2 per minute") as app:
        client = app.test_client()
        for _ in range(2):
            send(client, "login", "127.0.0.2")
        assert send(client, "login", "127.0.0.2").status_code == 429
        # Another address, and another limited page from the same address, still answer.
        assert send(client, "login", "127.0.0.3").status_code == 400
        assert send(client, "search", "127.0.0.2").status_code == 200
        # Reading the login form is never limited, only sending it.
        assert client.get("/login", environ_base={"REMOTE_ADDR": "127.0.0.2"}).status_code == 200


def test_a_known_and_an_unknown_email_are_limited_alike(_app: Flask, tmp_path: Path) -> None:
    """The counter is the client's address, never the email: no enumeration by 429s."""
    with limited_app(_app, tmp_path, "memory://", limit="2 per minute") as app:
        client = app.test_client()
        statuses = [
            client.post("/login", data={"email": email, "password": "wrong password"}).status_code
            for email in ("a@vendor.example", "b@vendor.example", "c@vendor.example")
        ]
    assert statuses == [400, 400, 429]


def test_failed_logins_are_counted_per_account_from_any_address(
    _app: Flask, tmp_path: Path, storage: str
) -> None:
    """Guessing one account's password from many addresses is limited too; the key is
    the email as typed, known or not, so a 429 tells nothing about accounts."""
    with limited_app(
        _app, tmp_path, storage, limit="100 per minute", account_limit="3 per minute"
    ) as app:
        client = app.test_client()

        def guess(email: str, address: str) -> int:
            form = {"email": email, "password": "guess guess"}
            return client.post(
                "/login", data=form, environ_base={"REMOTE_ADDR": address}
            ).status_code

        statuses = [guess(" Victim@Vendor.example", f"127.0.1.{i}") for i in range(1, 5)]
        assert statuses == [400, 400, 400, 429]
        assert guess("victim@vendor.example", "127.0.1.9") == 429  # the same account
        assert guess("someone.else@vendor.example", "127.0.1.1") == 400


def test_redis_holds_the_counters_and_two_apps_share_them(
    _app: Flask, tmp_path: Path, redis_client: redis.Redis
) -> None:
    """Two gunicorn workers (here: two apps) on one Redis count together."""
    prefix = f"{RUN_PREFIX}-shared-{uuid.uuid4().hex[:8]}"
    settings = {
        "PORTAL_RATELIMIT_ENABLED": True,
        "PORTAL_RATELIMIT_STORAGE_URL": REDIS_URL,
        "PORTAL_RATELIMIT_KEY_PREFIX": prefix,
        "PORTAL_RATELIMIT_LOGIN": "3 per minute",
    }
    with (
        separate_app(_app, tmp_path / "one", **settings) as one,
        separate_app(_app, tmp_path / "two", **settings) as two,
    ):
        first, second = one.test_client(), two.test_client()
        assert send(first, "login").status_code == 400
        assert send(second, "login").status_code == 400
        assert send(first, "login").status_code == 400
        assert send(second, "login").status_code == 429
        assert list(redis_client.scan_iter(match=f"*{prefix}*"))


def test_the_limits_are_off_in_the_rest_of_the_suite(client) -> None:  # type: ignore[no-untyped-def]
    assert not client.application.config["PORTAL_RATELIMIT_ENABLED"]
    for _ in range(5):
        assert (
            client.post("/login", data={"email": "x@example.org", "password": "y"}).status_code
            == 400
        )


def test_healthz_is_never_limited(_app: Flask, tmp_path: Path) -> None:
    with limited_app(_app, tmp_path, "memory://", limit="1 per minute") as app:
        client = app.test_client()
        assert {client.get("/healthz").status_code for _ in range(5)} <= {200, 503}


def test_settings_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = load_settings(tmp_path, needs_secret=False)
    assert defaults["PORTAL_RATELIMIT_ENABLED"] is True
    assert defaults["PORTAL_RATELIMIT_STORAGE_URL"] == "memory://"
    monkeypatch.setenv("PORTAL_RATELIMIT_STORAGE_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("PORTAL_RATELIMIT_LOGIN", "5 per hour")
    monkeypatch.setenv("PORTAL_RATELIMIT_ENABLED", "false")
    settings = load_settings(tmp_path, needs_secret=False)
    assert settings["PORTAL_RATELIMIT_STORAGE_URL"] == "redis://127.0.0.1:6379/3"
    assert settings["PORTAL_RATELIMIT_LOGIN"] == "5 per hour"
    assert settings["PORTAL_RATELIMIT_ENABLED"] is False
    assert set(LIMITED_ENDPOINTS) >= {
        "accounts.login",
        "accounts.register",
        "accounts.reset_request",
        "search.search_page",
    }
