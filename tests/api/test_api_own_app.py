"""The API under conditions of its own app: rate limits on, and errors as in production.

Each test builds an app of its own (the suite's runs with the limits off and in testing
mode). The requests write nothing: the public lists, and tokens that do not exist (a 401
still counts against the limit: a client guessing tokens is slowed like any other).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from flask import Flask
from separate_app import separate_app

API = "/api/v1"


def test_the_api_is_limited_per_token_and_per_address(_app: Flask, tmp_path: Path) -> None:
    with separate_app(
        _app,
        tmp_path / "index",
        PORTAL_RATELIMIT_ENABLED=True,
        PORTAL_RATELIMIT_STORAGE_URL="memory://",
        PORTAL_RATELIMIT_KEY_PREFIX=f"api-test-{uuid.uuid4().hex[:8]}",
        PORTAL_RATELIMIT_API="3 per minute",
    ) as app:
        client = app.test_client()
        first = "Bearer smp_" + "a" * 43
        second = "Bearer smp_" + "b" * 43
        for _ in range(3):
            assert client.get(f"{API}/needs").status_code == 200
            assert client.get(f"{API}/needs", headers={"Authorization": first}).status_code == 401
        limited = client.get(f"{API}/vendors")
        assert limited.status_code == 429
        assert limited.mimetype == "application/problem+json"
        assert limited.get_json()["status"] == 429
        assert int(limited.headers["Retry-After"]) > 0
        token_limited = client.get(f"{API}/me", headers={"Authorization": first})
        assert token_limited.status_code == 429
        # another token from the same address has its own count
        assert client.get(f"{API}/me", headers={"Authorization": second}).status_code == 401
        # and from another address, the first token is still limited
        elsewhere = client.get(
            f"{API}/me",
            headers={"Authorization": first},
            environ_base={"REMOTE_ADDR": "198.51.100.7"},
        )
        assert elsewhere.status_code == 429
        # the pages are not counted with the API
        assert client.get("/needs").status_code == 200


def test_an_unexpected_error_under_the_api_is_a_problem_not_a_page(
    _app: Flask, tmp_path: Path
) -> None:
    """Outside testing an exception becomes a 500: under /api/ it is problem+json too."""
    with separate_app(_app, tmp_path / "index", TESTING=False) as app:

        def broken() -> str:
            raise RuntimeError("a bug")

        app.add_url_rule(f"{API}/broken-for-this-test", "api.broken", broken)
        response = app.test_client().get(f"{API}/broken-for-this-test")
        assert response.status_code == 500
        assert response.mimetype == "application/problem+json"
        problem = response.get_json()
        assert problem["status"] == 500 and "a bug" not in response.text
