"""The API's rate limit: per token whichever address it comes from, else per address.

An app of its own with the limits on (the suite runs with them off). The requests write
nothing: the public lists, and tokens that do not exist (a 401 still counts: a client
guessing tokens is slowed like any other).
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
