"""Where notice documents' bytes live, and what they are.

An upload is copied in chunks to a temporary file in the upload folder, counting as it
goes: past the size limit the copy stops and the file is gone, so nothing is ever held
in memory whole (the request itself is capped before that by ``max_content_length``).
Its kind is then read from the content alone: magic bytes for PDF, PNG and JPEG, and for
DOCX and XLSX a ZIP whose ``[Content_Types].xml`` declares the main part of a Word
document or an Excel workbook, and which holds that part. The name the browser sent and
its content type decide nothing. An accepted file is renamed to a random storage name;
the folder (``PORTAL_UPLOAD_DIR``, by default ``instance/uploads``) is outside the web
root, and files are only ever served by the notices' download view.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import current_app
from flask_babel import gettext

from portal.cleaning import one_line
from portal.notices.models import DocumentKind

CHUNK = 64 * 1024
MAX_FILENAME = 200
# A [Content_Types].xml is a few kilobytes; reading more of one is a ZIP bomb's game.
MAX_CONTENT_TYPES_BYTES = 1024 * 1024

CONTENT_TYPES = {
    DocumentKind.PDF: "application/pdf",
    DocumentKind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    DocumentKind.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    DocumentKind.PNG: "image/png",
    DocumentKind.JPEG: "image/jpeg",
}
EXTENSIONS = {
    DocumentKind.PDF: (".pdf",),
    DocumentKind.DOCX: (".docx",),
    DocumentKind.XLSX: (".xlsx",),
    DocumentKind.PNG: (".png",),
    DocumentKind.JPEG: (".jpg", ".jpeg"),
}
# What the main part of an Office Open XML package must be declared as, and where it is.
_OFFICE_MAIN_PARTS = {
    DocumentKind.DOCX: (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        "word/",
    ),
    DocumentKind.XLSX: (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "xl/",
    ),
}
_STORAGE_NAME = re.compile(r"^[0-9a-f]{32}$")


class UploadRefused(ValueError):
    """An upload that is not kept; the message says why, for the form."""


@dataclass(frozen=True)
class StoredFile:
    storage_name: str
    kind: DocumentKind
    size: int
    sha256: str


def upload_folder() -> Path:
    """Absolute, so that a relative setting means the same folder for writing and for
    ``send_file`` (which would read a relative path from the app's package folder)."""
    return Path(current_app.config["PORTAL_UPLOAD_DIR"]).absolute()


def upload_limit() -> int:
    """The largest file accepted, in bytes (``PORTAL_UPLOAD_MAX_MB``)."""
    return int(current_app.config["PORTAL_UPLOAD_MAX_MB"]) * 1024 * 1024


def path_of(storage_name: str) -> Path:
    """The file of a storage name; only names this module made are accepted, so no
    value can point outside the folder."""
    if not _STORAGE_NAME.fullmatch(storage_name):
        raise ValueError("not a storage name")
    return upload_folder() / storage_name


def sniff_kind(path: Path) -> DocumentKind | None:
    """The kind of the file at ``path`` from its content, or None if it is none of ours."""
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(b"%PDF-"):
        return DocumentKind.PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return DocumentKind.PNG
    if head.startswith(b"\xff\xd8\xff"):
        return DocumentKind.JPEG
    if head.startswith(b"PK\x03\x04"):
        return _office_kind(path)
    return None


def _office_kind(path: Path) -> DocumentKind | None:
    try:
        with zipfile.ZipFile(path) as package:
            names = set(package.namelist())
            if "[Content_Types].xml" not in names:
                return None
            with package.open("[Content_Types].xml") as member:
                declared = member.read(MAX_CONTENT_TYPES_BYTES).decode("utf-8", "replace")
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, NotImplementedError, EOFError):
        return None  # a damaged or encrypted ZIP is no document of ours
    for kind, (main_type, folder) in _OFFICE_MAIN_PARTS.items():
        declared_as = rf"ContentType\s*=\s*[\"']{re.escape(main_type)}[\"']"
        if re.search(declared_as, declared) and any(name.startswith(folder) for name in names):
            return kind
    return None


def clean_filename(raw: str | None, kind: DocumentKind) -> str:
    """What readers see as the file's name: the last part of what was sent (no folders,
    no control characters, no leading dots), ending in the extension of its real kind."""
    name = one_line((raw or "").replace("\\", "/").rsplit("/", 1)[-1]).lstrip(". ")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    if f".{suffix.lower()}" not in EXTENSIONS[kind]:
        suffix = EXTENSIONS[kind][0][1:]  # the name said another kind: the content wins
    stem = stem.strip() or "document"
    room = MAX_FILENAME - len(suffix) - 1
    return f"{stem[:room].rstrip()}.{suffix}"


def save_upload(stream: IO[bytes]) -> StoredFile:
    """Copy an upload into the folder under a random name, or raise ``UploadRefused``
    (too large, empty, or not a kind we accept) leaving nothing behind."""
    folder = upload_folder()
    folder.mkdir(parents=True, exist_ok=True)
    limit = upload_limit()
    # mkstemp makes the file readable and writable by its owner only.
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
    temp_path = Path(temporary)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(handle, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise UploadRefused(
                        gettext(
                            "the file is larger than %(max)s MB",
                            max=current_app.config["PORTAL_UPLOAD_MAX_MB"],
                        )
                    )
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise UploadRefused(gettext("the file is empty"))
        kind = sniff_kind(temp_path)
        if kind is None:
            raise UploadRefused(
                gettext(
                    "this file is not a PDF, Word (.docx), Excel (.xlsx), PNG or JPEG document "
                    "(its content was checked, not its name)"
                )
            )
        storage_name = secrets.token_hex(16)
        os.replace(temp_path, folder / storage_name)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    return StoredFile(storage_name, kind, size, digest.hexdigest())


def discard(storage_name: str) -> None:
    """Delete a stored file (a removed document, or one whose row was never saved)."""
    path_of(storage_name).unlink(missing_ok=True)
