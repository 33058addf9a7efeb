"""What a file is, read from its content; names cleaned of path tricks; the size limit
checked while copying, leaving nothing behind."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from notices.notice_factories import (
    DOCX,
    EXCEL_MAIN,
    HTML,
    JPEG,
    PDF,
    PNG,
    WORD_MACROS_MAIN,
    WORD_MAIN,
    XLSX,
    CountingStream,
    office_file,
)

from portal.config import load_settings
from portal.notices.models import DocumentKind
from portal.notices.storage import (
    UploadRefused,
    clean_filename,
    path_of,
    save_upload,
    sniff_kind,
)


def _kind_of(content: bytes, tmp_path: Path) -> DocumentKind | None:
    path = tmp_path / "sample"
    path.write_bytes(content)
    return sniff_kind(path)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (PDF, DocumentKind.PDF),
        (PNG, DocumentKind.PNG),
        (JPEG, DocumentKind.JPEG),
        (DOCX, DocumentKind.DOCX),
        (XLSX, DocumentKind.XLSX),
    ],
)
def test_each_accepted_kind_is_known_by_its_content(
    content: bytes, kind: DocumentKind, tmp_path: Path
) -> None:
    assert _kind_of(content, tmp_path) == kind


@pytest.mark.parametrize(
    "content",
    [
        HTML,
        b"   %PDF-1.7 but not at the start",
        b"GIF89a" + b"\x00" * 20,
        b"PK\x03\x04 not really a zip",
        office_file(WORD_MAIN, "word/document.xml", content_types=False),  # no manifest
        office_file(WORD_MACROS_MAIN, "word/document.xml"),  # a macro document (.docm)
        office_file(WORD_MAIN, "other/document.xml"),  # declares Word, holds no word/
        office_file(EXCEL_MAIN, "word/document.xml"),  # says workbook, holds a document
        office_file(None, "word/document.xml"),  # a plain ZIP with a manifest
    ],
    ids=[
        "html",
        "pdf-marker-late",
        "gif",
        "broken-zip",
        "zip-without-content-types",
        "docm",
        "word-type-without-part",
        "excel-type-word-part",
        "plain-zip",
    ],
)
def test_anything_else_is_no_document(content: bytes, tmp_path: Path) -> None:
    assert _kind_of(content, tmp_path) is None


@pytest.mark.parametrize(
    ("raw", "kind", "expected"),
    [
        ("Terms of reference.pdf", DocumentKind.PDF, "Terms of reference.pdf"),
        ("../../etc/passwd.pdf", DocumentKind.PDF, "passwd.pdf"),
        ("..\\..\\windows\\win.ini.docx", DocumentKind.DOCX, "win.ini.docx"),
        ("/var/www/static/x.pdf", DocumentKind.PDF, "x.pdf"),
        ("evil\x00.pdf", DocumentKind.PDF, "evil.pdf"),
        ("line\nbreak.xlsx", DocumentKind.XLSX, "line break.xlsx"),
        (".htaccess", DocumentKind.PNG, "htaccess.png"),
        ("photo.JPG", DocumentKind.JPEG, "photo.JPG"),
        ("drawing.pdf", DocumentKind.PNG, "drawing.png"),  # the content wins
        ("", DocumentKind.PDF, "document.pdf"),
        (None, DocumentKind.XLSX, "document.xlsx"),
        ("../", DocumentKind.PDF, "document.pdf"),
        ("x" * 500 + ".pdf", DocumentKind.PDF, "x" * 196 + ".pdf"),
    ],
)
def test_display_names_lose_paths_and_control_characters(
    raw: str | None, kind: DocumentKind, expected: str
) -> None:
    assert clean_filename(raw, kind) == expected


def _files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


def test_an_accepted_upload_gets_a_random_name_in_the_upload_folder(app: Flask) -> None:
    folder = Path(app.config["PORTAL_UPLOAD_DIR"])
    stored = save_upload(io.BytesIO(PDF))

    assert stored.kind == DocumentKind.PDF and stored.size == len(PDF)
    assert path_of(stored.storage_name).read_bytes() == PDF
    assert path_of(stored.storage_name).parent == folder
    assert (path_of(stored.storage_name).stat().st_mode & 0o077) == 0  # owner only
    assert save_upload(io.BytesIO(PDF)).storage_name != stored.storage_name


def test_an_upload_over_the_limit_stops_being_read_and_leaves_nothing(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "PORTAL_UPLOAD_MAX_MB", 1)
    folder = Path(app.config["PORTAL_UPLOAD_DIR"])
    before = _files(folder)
    stream = CountingStream(100 * 1024 * 1024)

    with pytest.raises(UploadRefused, match="larger than 1 MB"):
        save_upload(stream)

    assert stream.read_so_far <= 1024 * 1024 + 64 * 1024  # one chunk past the limit at most
    assert _files(folder) == before


@pytest.mark.parametrize("content", [b"", HTML], ids=["empty", "html"])
def test_a_refused_upload_leaves_nothing(app: Flask, content: bytes) -> None:
    folder = Path(app.config["PORTAL_UPLOAD_DIR"])
    before = _files(folder)
    with pytest.raises(UploadRefused):
        save_upload(io.BytesIO(content))
    assert _files(folder) == before


@pytest.mark.parametrize(
    "name", ["../secret_key", "a" * 32 + "/x", "a" * 32 + "\n", "", "ABCDEF" * 6]
)
def test_only_storage_names_made_here_lead_to_a_file(app: Flask, name: str) -> None:
    with pytest.raises(ValueError, match="not a storage name"):
        path_of(name)


def test_files_are_kept_under_instance_by_default_and_elsewhere_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PORTAL_UPLOAD_DIR", raising=False)
    monkeypatch.delenv("PORTAL_UPLOAD_MAX_MB", raising=False)
    settings = load_settings(tmp_path / "instance", needs_secret=False)
    assert settings["PORTAL_UPLOAD_DIR"] == str(tmp_path / "instance" / "uploads")
    assert settings["PORTAL_UPLOAD_MAX_MB"] == 20

    monkeypatch.setenv("PORTAL_UPLOAD_DIR", "/srv/portal-uploads")
    monkeypatch.setenv("PORTAL_UPLOAD_MAX_MB", "50")
    settings = load_settings(tmp_path / "instance", needs_secret=False)
    assert settings["PORTAL_UPLOAD_DIR"] == "/srv/portal-uploads"
    assert settings["PORTAL_UPLOAD_MAX_MB"] == 50
