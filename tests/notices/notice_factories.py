"""Files of each kind (and impostors), and the people and needs the notice tests use.

Imported as ``notices.notice_factories``; the files are built here, byte by byte or with
``zipfile``, so no test depends on a fixture file or an office suite.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from organizations.directory_factories import make_member, make_need, make_org

from portal.accounts.models import User
from portal.needs.models import Need
from portal.organizations.models import Organization, OrganizationKind
from portal.signals import need_amended, question_answered

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32 + b"\xff\xd9"
HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"

WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
EXCEL_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
WORD_MACROS_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"


def office_file(main_type: str | None, part: str, *, content_types: bool = True) -> bytes:
    """A minimal Office Open XML package: [Content_Types].xml declaring ``main_type`` for
    ``part``, and the part itself."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        if content_types:
            override = (
                f'<Override PartName="/{part}" ContentType="{main_type}"/>' if main_type else ""
            )
            package.writestr(
                "[Content_Types].xml",
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="xml" ContentType="application/xml"/>'
                f"{override}</Types>",
            )
        package.writestr(part, "<document/>")
    return buffer.getvalue()


DOCX = office_file(WORD_MAIN, "word/document.xml")
XLSX = office_file(EXCEL_MAIN, "xl/workbook.xml")


class CountingStream(io.RawIOBase):
    """A stream of ``total`` bytes of a PDF that counts what was read of it. Seekable, as
    the test client measures a body by seeking to its end (which reads nothing)."""

    def __init__(self, total: int, prefix: bytes = b"") -> None:
        self.total = total
        self.prefix = prefix  # sent first: the headers of a multipart body, say
        self.position = 0
        self.read_so_far = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.total}[whence]
        self.position = max(0, min(self.total, base + offset))
        return self.position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        size = min(len(buffer), self.total - self.position)
        head = self.prefix[self.position : self.position + size]
        filler = PDF * ((size - len(head)) // len(PDF) + 1)
        buffer[:size] = (head + filler)[:size]
        self.position += size
        self.read_so_far += size
        return size


@dataclass
class Notice:
    """A published need of a verified buyer, one of its members, and a verified vendor's
    member who may ask about it."""

    buyer: Organization
    buyer_member: User
    need: Need
    vendor: Organization
    vendor_member: User


def make_notice(title: str = "Flood sensors RFP", **fields: Any) -> Notice:
    buyer = make_org(OrganizationKind.BUYER, f"{title} City")
    vendor = make_org(OrganizationKind.VENDOR, f"{title} Vendor Inc.")
    return Notice(
        buyer=buyer,
        buyer_member=make_member(buyer),
        need=make_need(buyer, title, **fields),
        vendor=vendor,
        vendor_member=make_member(vendor),
    )


@contextmanager
def signals_sent() -> Iterator[list[tuple[str, Any, dict[str, Any]]]]:
    """need_amended and question_answered as sent inside the block, in order."""
    sent: list[tuple[str, Any, dict[str, Any]]] = []

    def on_amended(sender: Any, **kwargs: Any) -> None:
        assert kwargs["amendment"].id is not None  # sent after the flush
        sent.append(("amended", sender, kwargs))

    def on_answered(sender: Any, **kwargs: Any) -> None:
        assert kwargs["question"].answered_at is not None
        sent.append(("answered", sender, kwargs))

    with need_amended.connected_to(on_amended), question_answered.connected_to(on_answered):
        yield sent
