"""The URL rules: HTTPS to the internet; loopback http only where the setting allows it."""

from __future__ import annotations

import pytest
from flask import Flask

from portal.webhooks.services import WebhookError, check_url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "Give the URL"),
        ("http://hooks.example.org/portal", "https://"),
        ("ftp://hooks.example.org/portal", "https://"),
        ("hooks.example.org/portal", "https://"),
        ("https://user:secret@hooks.example.org/", "password"),
        ("https://hooks.example.org/#part", "fragment"),
        ("https://hooks.example.org:99999/", "port"),
        ("https://hooks.example.org/a b", "spaces"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://[::1]/hook", "loopback"),
        ("https://localhost/hook", "localhost"),
        ("https://10.1.2.3/hook", "private network"),
        ("https://192.168.0.10/hook", "private network"),
        ("https://[::ffff:10.0.0.1]/hook", "private network"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://0.0.0.0/hook", "cannot be sent to 0.0.0.0"),
        ("https://224.0.0.1/hook", "not a public"),
        ("https://" + "a" * 2000 + ".example.org/", "under 2000"),
    ],
)
def test_refused_urls_say_why(app: Flask, url: str, reason: str) -> None:
    with pytest.raises(WebhookError, match=reason) as refused:
        check_url(url)
    assert refused.value.field == "url"


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.org/portal",
        "https://93.184.215.14:8443/in?x=1",
        " https://a.example/ ",
    ],
)
def test_public_https_urls_are_accepted(app: Flask, url: str) -> None:
    assert check_url(url) == url.strip()


def test_loopback_http_only_where_the_setting_allows_it(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(WebhookError, match="https://"):
        check_url("http://127.0.0.1:8080/hook")
    monkeypatch.setitem(app.config, "PORTAL_WEBHOOKS_ALLOW_LOOPBACK", True)
    assert check_url("http://127.0.0.1:8080/hook") == "http://127.0.0.1:8080/hook"
    assert check_url("http://localhost:8080/hook") == "http://localhost:8080/hook"
    with pytest.raises(WebhookError, match="https://"):
        check_url("http://hooks.example.org/hook")  # loopback only, not the internet
    with pytest.raises(WebhookError, match="private network"):
        check_url("https://10.0.0.1/hook")
