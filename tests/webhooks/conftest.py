"""Fixtures of the webhook tests: loopback allowed (as only tests do), receivers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from webhooks.webhook_helpers import Receiver


@pytest.fixture
def loopback(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The app with plain http to 127.0.0.1 allowed (never in production)."""
    monkeypatch.setitem(app.config, "PORTAL_WEBHOOKS_ALLOW_LOOPBACK", True)
    return app


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    """Start receivers on demand; all are stopped (and their gates opened) after the test."""
    started: list[Receiver] = []

    def start(port: int = 0) -> Receiver:
        receiver = Receiver(port)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def receiver(receivers: Callable[..., Receiver]) -> Receiver:
    return receivers()
