"""A Thai catalog of a few messages, for tests that must see a translation before the
real catalogs are filled (a unique module name, not a conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from flask import Flask

THAI = {
    "Log in": "เข้าสู่ระบบ",
    "Confirm your email address": "ยืนยันที่อยู่อีเมลของคุณ",
    "Hello %(full_name)s,": "สวัสดี %(full_name)s",
}


@contextmanager
def thai_catalog(app: Flask, folder: Path) -> Iterator[None]:
    """Serve ``THAI`` as the Thai catalog, before the shipped ones, for the block."""
    catalog = Catalog(locale="th")
    for msgid, msgstr in THAI.items():
        catalog.add(msgid, msgstr)
    (folder / "th" / "LC_MESSAGES").mkdir(parents=True)
    with (folder / "th" / "LC_MESSAGES" / "messages.mo").open("wb") as handle:
        write_mo(handle, catalog)
    config = app.extensions["babel"]
    shipped = list(config.translation_directories)
    # Not get_domain(): it needs a context, and pushing one here would end (roll back)
    # the test's session when it pops. The ``app`` fixture's context is already there.
    domain = config.instance.domain_instance
    # Flask-Babel caches each locale's catalog per process, not per directory list.
    domain.cache.clear()
    config.translation_directories = [str(folder), *shipped]
    try:
        yield
    finally:
        config.translation_directories = shipped
        domain.cache.clear()
