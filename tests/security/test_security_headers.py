"""Security headers on every response, HSTS over HTTPS only, cookie flags, CSP-clean templates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from organizations.directory_factories import (
    PASSWORD,
    log_in,
    make_member,
    make_org,
    make_user,
)
from separate_app import separate_app

from portal.accounts.models import Role
from portal.config import PROJECT_ROOT, load_settings
from portal.security import CONTENT_SECURITY_POLICY

EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def test_the_policy_allows_nothing_inline_and_no_framing() -> None:
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert directives == {
        "default-src": "'self'",
        "img-src": "'self' data:",
        "style-src": "'self'",
        "script-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/login", 200),
        ("GET", "/search?q=%22(((", 200),
        ("GET", "/static/portal.css", 200),
        ("GET", "/no-such-page", 404),
        ("GET", "/account", 302),
        ("POST", "/logout", 302),
        ("GET", "/logout", 405),
        ("GET", "/healthz", 503),  # no index yet in this test: still headed
    ],
)
def test_every_kind_of_response_carries_the_headers(
    client: FlaskClient, method: str, path: str, status: int
) -> None:
    response = client.open(path, method=method)
    response.close()  # a static file's response holds the file open
    assert response.status_code == status
    for name, value in EXPECTED.items():
        assert response.headers[name] == value, name
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP


def test_the_reset_page_keeps_its_stricter_referrer_policy(client: FlaskClient) -> None:
    response = client.get("/reset/some-token")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_hsts_only_over_https(client: FlaskClient) -> None:
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    # A client cannot claim HTTPS with a header when no proxy is trusted.
    forged = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in forged.headers


def test_behind_one_trusted_proxy_its_forwarded_proto_and_address_count(
    _app: Flask, tmp_path: Path
) -> None:
    with separate_app(_app, tmp_path / "index", PORTAL_PROXY_HOPS=1) as app:
        client = app.test_client()
        proxied = client.get(
            "/login",
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.9"},
        )
        plain = client.get("/login", headers={"X-Forwarded-Proto": "http"})
    assert proxied.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in plain.headers


def _cookie(response, name: str) -> str:  # type: ignore[no-untyped-def]
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    return header


def _flags(header: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}


def test_the_login_page_sets_an_httponly_samesite_lax_session_cookie(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)  # the form's token is in it
    header = _cookie(client.get("/login"), "session")
    assert "httponly" in _flags(header)
    assert "SameSite=Lax" in header
    assert "secure" not in _flags(header)  # development default: plain HTTP


def test_secure_cookies_when_configured(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_member(make_org())
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    monkeypatch.setitem(app.config, "REMEMBER_COOKIE_SECURE", True)
    session = _cookie(client.get("/login", base_url="https://localhost"), "session")
    assert {"httponly", "secure", "samesite"} <= _flags(session)

    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    response = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "remember": "y"},
        base_url="https://localhost",
    )
    assert response.status_code == 302
    remember = _cookie(response, "remember_token")
    assert {"httponly", "secure"} <= _flags(remember)
    assert "SameSite=Lax" in remember


def test_portal_secure_cookies_sets_both_cookies_secure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings(tmp_path, needs_secret=False)["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("PORTAL_SECURE_COOKIES", "true")
    settings = load_settings(tmp_path, needs_secret=False)
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["REMEMBER_COOKIE_SECURE"] is True
    assert settings["SESSION_COOKIE_HTTPONLY"] and settings["REMEMBER_COOKIE_HTTPONLY"]
    assert settings["SESSION_COOKIE_SAMESITE"] == settings["REMEMBER_COOKIE_SAMESITE"] == "Lax"


TEMPLATES = sorted((PROJECT_ROOT / "templates").rglob("*.html"))
INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "event handler": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_no_template_has_anything_the_policy_would_block(template: Path) -> None:
    text = template.read_text(encoding="utf-8")
    found = {name for name, pattern in INLINE.items() if pattern.search(text)}
    assert not found, f"{template.name}: {found}"


def test_private_pages_are_never_stored_public_ones_and_static_files_may_be(
    client: FlaskClient, _app: Flask, tmp_path: Path
) -> None:
    """Regression: pages made for one person had no Cache-Control, so a shared cache or
    the back button on a shared computer could show them to someone else."""
    assert "no-store" not in client.get("/vendors").headers.get("Cache-Control", "")
    with separate_app(_app, tmp_path / "index", WTF_CSRF_ENABLED=True) as csrf_app:
        form = csrf_app.test_client().get("/login")  # its CSRF token is this visitor's
        assert form.headers["Cache-Control"] == "no-store"

    log_in(client, make_user(Role.VENDOR, make_org()))
    for path in ("/account", "/vendors", "/introductions"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    assert "no-store" not in client.get("/static/portal.css").headers.get("Cache-Control", "")
