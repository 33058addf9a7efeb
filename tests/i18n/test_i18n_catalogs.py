"""The catalogs say everything the portal says, and every shipped language translates it.

The template (``messages.pot``) must match what the source marks today: a message added
or changed without ``make translations`` fails here, on any language. Each shipped
``messages.po`` must translate every message, none fuzzy (a guess ``pybabel update`` made).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from portal.config import PROJECT_ROOT
from portal.i18n.catalogs import TRANSLATIONS_DIR, compile_catalog, stale_catalogs
from portal.i18n.locales import TRANSLATED_LOCALES

POT = TRANSLATIONS_DIR / "messages.pot"
# As `make translations` extracts: Babel's keywords, lazy_gettext and lazy_ngettext.
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "lazy_ngettext": (1, 2)}

MessageKey = tuple[str | None, str | tuple[str, ...]]


def extracted_now() -> set[MessageKey]:
    """What ``pybabel extract -F babel.cfg -k lazy_gettext -k lazy_ngettext:1,2`` would
    write, as keys."""
    with (PROJECT_ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    catalog = Catalog()
    for filename, lineno, message, comments, context in extract_from_dir(
        PROJECT_ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return {(m.context, m.id) for m in catalog if m.id}


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def test_the_committed_template_has_every_message_of_the_source() -> None:
    committed = {(m.context, m.id) for m in read_catalog(POT) if m.id}
    now = extracted_now()

    missing = sorted(map(repr, now - committed))
    stale = sorted(map(repr, committed - now))
    assert not missing and not stale, (
        "portal/translations/messages.pot is out of date: run `make translations`.\n"
        f"Not in it yet ({len(missing)}): " + "\n  ".join(missing[:40]) + "\n"
        f"In it but no longer in the source ({len(stale)}): " + "\n  ".join(stale[:40])
    )


@pytest.mark.parametrize("locale", TRANSLATED_LOCALES)
def test_each_shipped_language_has_a_catalog_of_the_current_template(locale: str) -> None:
    po_path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
    assert po_path.exists(), f"{po_path.relative_to(PROJECT_ROOT)} is missing"
    template = {(m.context, m.id) for m in read_catalog(POT) if m.id}
    catalog = {(m.context, m.id) for m in read_catalog(po_path) if m.id}
    missing = sorted(map(repr, template - catalog))
    assert not missing, (
        f"{po_path.relative_to(PROJECT_ROOT)} lacks {len(missing)} message(s) of the "
        "template: run `make translations`.\n  " + "\n  ".join(missing[:40])
    )


def untranslated(po_path: Path) -> list[str]:
    """Each message of ``po_path`` with no translation or a fuzzy one: file, line, msgid."""
    problems = []
    relative = po_path.relative_to(PROJECT_ROOT)
    for message in read_catalog(po_path):
        if not message.id:
            continue  # the header
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"{relative}:{message.lineno}: fuzzy: {message.id!r}")
        elif not all(strings):
            problems.append(f"{relative}:{message.lineno}: untranslated: {message.id!r}")
    return problems


# A message added to the source and not translated in every shipped language fails here,
# naming the file, line and message.
@pytest.mark.parametrize("locale", TRANSLATED_LOCALES)
def test_every_message_is_translated_in_each_shipped_language(locale: str) -> None:
    problems = untranslated(TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po")
    assert not problems, f"{len(problems)} message(s) not translated:\n" + "\n".join(problems)


def test_the_completeness_check_names_the_file_the_line_and_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check itself, on a catalog with one good, one empty and one fuzzy message."""
    po_path = tmp_path / "messages.po"
    po_path.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Log in"\nmsgstr "เข้าสู่ระบบ"\n\n'
        'msgid "Log out"\nmsgstr ""\n\n'
        '#, fuzzy\nmsgid "Search"\nmsgstr "ค้นหา"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(f"{__name__}.PROJECT_ROOT", tmp_path)

    assert untranslated(po_path) == [
        "messages.po:8: untranslated: 'Log out'",
        "messages.po:12: fuzzy: 'Search'",
    ]


def test_a_missing_or_older_compiled_catalog_is_compiled_again(tmp_path: Path) -> None:
    folder = tmp_path / "th" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po_path = folder / "messages.po"
    po_path.write_text('msgid "Log in"\nmsgstr "เข้าสู่ระบบ"\n', encoding="utf-8")

    assert stale_catalogs(tmp_path) == [po_path]
    mo_path = compile_catalog(po_path)
    assert stale_catalogs(tmp_path) == []
    os.utime(mo_path, (1, 1))  # older than its .po
    assert stale_catalogs(tmp_path) == [po_path]
