"""Crawl every page an anonymous visitor can reach and look for contact details.

    .venv/bin/python benchmarks/contact_privacy_crawl.py --data FILE.jsonl

Imports FILE (the exchange format) into a fresh SQLite portal in a temporary folder,
serves it with a real HTTP server on 127.0.0.1 (werkzeug, in a thread), then follows
every same-host link from ``/`` with GET, as a visitor without an account would (no
cookies kept, no forms sent, /logout and the like skipped). Every contact email and phone
in the database is looked for on every page. Prints the pages crawled and the leaks
found; exits 1 if any contact shows up. ``crawl`` is shared with the test suite
(tests/introductions/test_introductions_privacy_crawl.py), which runs it on the demo data.
"""

from __future__ import annotations

import argparse
import logging
import re
import secrets
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urldefrag, urlencode, urljoin, urlsplit

# Paths a crawler must not follow: they act rather than show (or serve files, not pages).
SKIPPED_PREFIXES = ("/logout", "/static/", "/confirm/", "/reset/", "/unsubscribe", "/mute")
MAX_PAGES = 20_000  # a safety net far above what the dev set produces


@dataclass
class Page:
    status: int
    content_type: str
    text: str


@dataclass
class CrawlReport:
    pages: dict[str, int] = field(default_factory=dict)  # path -> status
    leaks: list[tuple[str, str]] = field(default_factory=list)  # (path, what leaked)
    truncated: bool = False

    @property
    def html_pages(self) -> int:
        return sum(1 for status in self.pages.values() if status == 200)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def links_of(base: str, html: str) -> list[str]:
    """The same-host paths (with query) an HTML page links to."""
    parser = _Links()
    parser.feed(html)
    found = []
    for href in parser.hrefs:
        absolute, _ = urldefrag(urljoin(base, href))
        parts = urlsplit(absolute)
        if parts.scheme not in ("http", "https") or parts.netloc != urlsplit(base).netloc:
            continue
        # One page, one path: the same filters in another order are not another page.
        query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
        path = parts.path + (f"?{query}" if query else "")
        if not parts.path.startswith(SKIPPED_PREFIXES):
            found.append(path)
    return found


def _squeeze(text: str) -> str:
    """Text with the separators people put in phone numbers removed."""
    return re.sub(r"[\s\-.()/]", "", text)


def find_leaks(text: str, emails: Iterable[str], phones: Iterable[str]) -> list[str]:
    """The contact emails and phones that appear in ``text`` (phones in any spacing)."""
    lowered = text.lower()
    squeezed = _squeeze(text)
    leaks = [email for email in emails if email and email.lower() in lowered]
    for phone in phones:
        digits = _squeeze(phone)
        if phone and (phone in text or (len(digits) >= 7 and digits in squeezed)):
            leaks.append(phone)
    return leaks


def crawl(
    get: Callable[[str], Page],
    emails: Iterable[str],
    phones: Iterable[str],
    *,
    base: str = "http://localhost",
    start: str = "/",
    max_pages: int = MAX_PAGES,
) -> CrawlReport:
    """Breadth-first from ``start``: every reachable page fetched once, each checked."""
    emails, phones = list(emails), list(phones)
    report = CrawlReport()
    queue = deque([start])
    seen = {start}
    while queue:
        if len(report.pages) >= max_pages:
            report.truncated = True
            break
        path = queue.popleft()
        page = get(path)
        report.pages[path] = page.status
        report.leaks.extend((path, leak) for leak in find_leaks(page.text, emails, phones))
        if page.status != 200 or "html" not in page.content_type:
            continue
        for link in links_of(base + path, page.text):
            if link not in seen:
                seen.add(link)
                queue.append(link)
    return report


# --- the command-line run against a real server ------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect is recorded as what it is, and its target is not a link


def http_getter(base: str) -> Callable[[str], Page]:
    opener = urllib.request.build_opener(_NoRedirects)

    def get(path: str) -> Page:
        try:
            with opener.open(base + path, timeout=30) as response:
                body = response.read().decode("utf-8", "replace")
                return Page(response.status, response.headers.get("Content-Type", ""), body)
        except urllib.error.HTTPError as error:
            body = error.read().decode("utf-8", "replace")
            return Page(error.code, error.headers.get("Content-Type", ""), body)

    return get


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="an exchange-format JSONL file")
    parser.add_argument("--max-pages", type=int, default=MAX_PAGES)
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import select
    from werkzeug.serving import make_server

    from portal import create_app
    from portal.exchange.cli import run_import, update_search_index
    from portal.extensions import db
    from portal.organizations.models import Contact

    with tempfile.TemporaryDirectory(prefix="privacy-crawl-") as folder:
        root = Path(folder)
        app = create_app(
            {
                "SECRET_KEY": secrets.token_urlsafe(32),
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'portal.sqlite'}",
                "PORTAL_INDEX_DIR": str(root / "index"),
                "PORTAL_MODEL_DIR": str(root / "models"),
                "PORTAL_MAIL_DELIVERY": "worker",  # nothing is mailed by a crawl anyway
                "PORTAL_RATELIMIT_ENABLED": False,  # one visitor asking for every page
            }
        )
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            report = run_import(args.data)
            update_search_index(report.organizations + report.needs)
            contacts = db.session.execute(select(Contact.email, Contact.phone)).all()
            print(f"{report.summary()} in {time.perf_counter() - started:.1f} s")
            db.session.remove()
        emails = sorted({email for email, _ in contacts if email})
        phones = sorted({phone for _, phone in contacts if phone})
        print(f"looking for {len(emails)} contact emails and {len(phones)} phones")

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            started = time.perf_counter()
            result = crawl(http_getter(base), emails, phones, base=base, max_pages=args.max_pages)
            elapsed = time.perf_counter() - started
        finally:
            server.shutdown()
            with app.app_context():
                db.engine.dispose()

    statuses: dict[int, int] = {}
    for status in result.pages.values():
        statuses[status] = statuses.get(status, 0) + 1
    print(
        f"pages crawled: {len(result.pages)} in {elapsed:.1f} s "
        f"(by status: {dict(sorted(statuses.items()))})"
    )
    print(f"distinct pages answered 200: {result.html_pages}")
    if result.truncated:
        print(f"stopped at --max-pages {args.max_pages}: raise it to crawl the rest")
    print(f"leaks found: {len(result.leaks)}")
    for path, leak in result.leaks[:50]:
        print(f"  {path}: {leak}")
    return 1 if result.leaks or result.truncated else 0


if __name__ == "__main__":
    sys.exit(main())
