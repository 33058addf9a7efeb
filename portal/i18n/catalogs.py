"""Compiled catalogs (``.mo``) are build output: made from the committed ``.po`` files.

``make install`` compiles them; so that no test run or ``portal`` command ever reads a
stale one, the app also compiles, at start, each ``.mo`` that is missing or older than its
``.po`` (a stat of each pair: nothing is read when they are fresh).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
DOMAIN = "messages"


def stale_catalogs(folder: Path) -> list[Path]:
    """The ``.po`` files whose ``.mo`` is missing or older than them."""
    stale = []
    for po_path in sorted(folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = po_path.with_suffix(".mo")
        try:
            fresh = mo_path.stat().st_mtime >= po_path.stat().st_mtime
        except FileNotFoundError:
            fresh = False
        if not fresh:
            stale.append(po_path)
    return stale


def compile_catalog(po_path: Path) -> Path:
    """Write ``po_path``'s ``.mo`` beside it, atomically (other processes may be reading).

    Fuzzy entries are left out, as ``pybabel compile`` does: a guess is not a translation.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=po_path.parent.parent.name)
    mo_path = po_path.with_suffix(".mo")
    fd, tmp_name = tempfile.mkstemp(dir=po_path.parent, prefix=".messages-", suffix=".mo")
    try:
        with os.fdopen(fd, "wb") as handle:
            write_mo(handle, catalog)
        os.replace(tmp_name, mo_path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return mo_path


def compile_stale_catalogs(folder: Path = TRANSLATIONS_DIR) -> list[Path]:
    """Compile what is stale; a read-only install keeps the catalogs it has, with a warning."""
    compiled = []
    for po_path in stale_catalogs(folder):
        try:
            compiled.append(compile_catalog(po_path))
        except OSError as exc:
            log.warning("cannot compile %s (%s): that language shows English", po_path, exc)
    return compiled
