"""The live portal and the people browsing it, as the browser tests see them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page

from portal.extensions import db

# A shared machine with two cores: the first leads page builds the ranking snapshot.
TIMEOUT_MS = 20_000

T = TypeVar("T")


@dataclass
class LiveServer:
    """The portal served over HTTP, and a way to set up data in it directly."""

    app: Flask
    url: str
    mailbox: Any  # tests/conftest.py's Mailbox: what the SMTP server received

    def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` in the server's app context and commit: for setting up records a
        journey does not click through itself (e.g. an organization waiting in a queue)."""
        with self.app.app_context():
            result = work()
            db.session.commit()
            return result

    def mail_link(self, address: str, path: str) -> str:
        """The first link to ``path`` in the newest mail to ``address`` that has one (mail
        leaves after the response that queued it, so this waits for it to arrive)."""
        link = re.compile(rf"{re.escape(self.url)}{re.escape(path)}\S+")
        message = self.mailbox.wait_for(
            address, lambda m: link.search(self.mailbox.body(m)) is not None
        )
        match = link.search(self.mailbox.body(message))
        assert match is not None
        return match.group(0)


class PageProblems:
    """What a person would call broken, collected while a test clicks: server errors and
    scripts the Content-Security-Policy refused."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def watch(self, context: BrowserContext) -> None:
        context.on(
            "response",
            lambda response: (
                self.items.append(f"{response.status} from {response.url}")
                if response.status >= 500
                else None
            ),
        )
        context.on("console", self._console)
        context.on("weberror", lambda error: self.items.append(f"page error: {error.error}"))

    def _console(self, message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.items.append(f"CSP: {message.text}")


@dataclass
class Browsing:
    """Opens browser contexts (one per person in a journey) and checks them at the end."""

    browser: Browser
    server: LiveServer
    problems: PageProblems
    contexts: list[BrowserContext]

    def new_page(self, **options: Any) -> Page:
        context = self.browser.new_context(base_url=self.server.url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        self.problems.watch(context)
        self.contexts.append(context)
        return context.new_page()
