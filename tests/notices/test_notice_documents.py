"""Documents through the pages: attached by the buyer, refused by content, served as
attachments to whoever may see the need, removed; amendments when the notice is published."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from notices.notice_factories import (
    DOCX,
    HTML,
    PDF,
    PNG,
    XLSX,
    CountingStream,
    make_notice,
    signals_sent,
)
from organizations.directory_factories import count_rows, log_in, make_member, make_org, make_user
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from portal.accounts.models import Role
from portal.extensions import db
from portal.needs.models import NeedStatus
from portal.notices import services
from portal.notices.models import NoticeAmendment, NoticeDocument
from portal.notices.storage import path_of
from portal.organizations.models import OrganizationKind

MB = 1024 * 1024


def _upload(
    client: FlaskClient, ref: str, content: bytes, name: str, note: str = "", **kwargs: Any
) -> Any:
    # Encoded in memory: the test client spools a body over 500 KB to a temporary file
    # that it never closes (a ResourceWarning, an error under filterwarnings).
    body, _length, boundary = stream_encode_multipart(
        {"file": FileStorage(io.BytesIO(content), name), "note": note}, use_tempfile=False
    )
    return client.post(
        f"/needs/{ref}/documents/new",
        input_stream=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        **kwargs,
    )


def _stored_files(app: Flask) -> list[Path]:
    folder = Path(app.config["PORTAL_UPLOAD_DIR"])
    return sorted(folder.iterdir()) if folder.exists() else []


def _documents() -> list[NoticeDocument]:
    return list(db.session.scalars(sa.select(NoticeDocument).order_by(NoticeDocument.id)))


@pytest.mark.parametrize(
    ("content", "name", "content_type"),
    [
        (PDF, "Terms of reference.pdf", "application/pdf"),
        (
            DOCX,
            "Scope.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            XLSX,
            "Bill of quantities.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (PNG, "Site plan.png", "image/png"),
    ],
)
def test_the_buyer_attaches_a_document_that_anyone_downloads_as_an_attachment(
    client: FlaskClient, content: bytes, name: str, content_type: str
) -> None:
    notice = make_notice()
    log_in(client, notice.buyer_member)

    response = _upload(client, notice.need.ref, content, name)

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/needs/{notice.need.ref}#documents")
    [document] = _documents()
    assert document.filename == name and document.size == len(content)
    page = client.get(f"/needs/{notice.need.ref}").get_data(as_text=True)
    assert name in page and "Remove" in page

    client.post("/logout")
    download = client.get(f"/needs/{notice.need.ref}/documents/{document.id}")
    assert download.status_code == 200
    assert download.data == content
    assert download.headers["Content-Type"].split(";")[0] == content_type
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert name.split(".")[0].split(" ")[0] in download.headers["Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    anonymous_page = client.get(f"/needs/{notice.need.ref}").get_data(as_text=True)
    assert name in anonymous_page and "Remove" not in anonymous_page


def test_a_file_named_pdf_that_holds_html_is_refused_beside_the_field(
    app: Flask, client: FlaskClient
) -> None:
    notice = make_notice()
    log_in(client, notice.buyer_member)
    before = _stored_files(app)

    response = _upload(client, notice.need.ref, HTML, "terms.pdf")

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "is not a PDF, Word (.docx), Excel (.xlsx), PNG or JPEG document" in page
    assert 'id="file-error"' in page
    assert _documents() == [] and _stored_files(app) == before


def test_the_browser_content_type_decides_nothing(client: FlaskClient) -> None:
    notice = make_notice()
    log_in(client, notice.buyer_member)
    response = client.post(
        f"/needs/{notice.need.ref}/documents/new",
        data={"file": (io.BytesIO(HTML), "terms.pdf", "application/pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert _documents() == []


def test_a_100_mb_upload_is_refused_before_its_body_is_read(
    client: FlaskClient,
) -> None:
    notice = make_notice()
    log_in(client, notice.buyer_member)
    body = CountingStream(100 * MB)

    response = client.post(
        f"/needs/{notice.need.ref}/documents/new",
        input_stream=body,
        content_type="multipart/form-data; boundary=portalboundary",
    )

    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)
    assert body.read_so_far == 0
    assert _documents() == []


def test_an_upload_streamed_without_a_length_is_refused_unread(client: FlaskClient) -> None:
    """Chunked, as a server that terminates the input itself passes it on."""
    notice = make_notice()
    log_in(client, notice.buyer_member)
    headers = (
        b"--portalboundary\r\n"
        b'Content-Disposition: form-data; name="file"; filename="huge.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n"
    )
    body = CountingStream(100 * MB, prefix=headers)

    response = client.post(
        f"/needs/{notice.need.ref}/documents/new",
        input_stream=body,
        content_type="multipart/form-data; boundary=portalboundary",
        environ_overrides={
            "CONTENT_LENGTH": "",
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input_terminated": True,
        },
    )

    assert response.status_code == 411
    assert body.read_so_far == 0
    assert _documents() == []


def test_a_file_just_over_the_limit_is_refused_beside_the_field_and_not_kept(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "PORTAL_UPLOAD_MAX_MB", 1)
    notice = make_notice()
    log_in(client, notice.buyer_member)
    before = _stored_files(app)

    too_big = _upload(client, notice.need.ref, PDF + b"0" * (MB - len(PDF) + 1), "big.pdf")
    just_fits = _upload(client, notice.need.ref, PDF + b"0" * (MB - len(PDF)), "fits.pdf")

    assert too_big.status_code == 400
    assert "The file is larger than 1 MB." in too_big.get_data(as_text=True)
    assert just_fits.status_code == 302
    assert [d.filename for d in _documents()] == ["fits.pdf"]
    assert len(_stored_files(app)) == len(before) + 1


@pytest.mark.parametrize(
    ("sent_name", "shown_name"),
    [
        ("../../../../etc/cron.d/x.pdf", "x.pdf"),
        # A quoted filename's backslashes are escapes in multipart: no folders either way.
        ("..\\..\\static\\portal.pdf", "staticportal.pdf"),
        ("nul\x00byte.pdf", "nul byte.pdf"),
        ("", "document.pdf"),
    ],
)
def test_path_tricks_in_the_name_change_nothing(
    app: Flask, client: FlaskClient, sent_name: str, shown_name: str
) -> None:
    notice = make_notice()
    log_in(client, notice.buyer_member)
    folder = Path(app.config["PORTAL_UPLOAD_DIR"])

    response = _upload(client, notice.need.ref, PDF, sent_name)

    if sent_name == "":
        # No name at all: the browser sent no file, the form says so.
        assert response.status_code == 400
        assert "Choose a file to attach." in response.get_data(as_text=True)
        return
    assert response.status_code == 302
    [document] = _documents()
    assert document.filename == shown_name
    assert path_of(document.storage_name).parent == folder
    assert path_of(document.storage_name).read_bytes() == PDF
    assert all(re.fullmatch(r"[0-9a-f]{32}", file.name) for file in folder.iterdir())
    leaked = [p for p in folder.parent.rglob("*") if p.name in (shown_name, "cron.d", "static")]
    assert leaked == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose a file to attach."),
        ({"file": (io.BytesIO(b""), "empty.pdf")}, "The file is empty."),
        (
            {"file": (io.BytesIO(PDF), "terms.pdf"), "note": "n" * 1001},
            "Field cannot be longer than 1000 characters.",
        ),
    ],
    ids=["no-file", "empty-file", "note-too-long"],
)
def test_bad_upload_forms_are_refused_beside_their_field(
    client: FlaskClient, data: dict[str, Any], message: str
) -> None:
    notice = make_notice()
    log_in(client, notice.buyer_member)
    response = client.post(
        f"/needs/{notice.need.ref}/documents/new", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _documents() == []


def test_documents_of_a_need_not_public_are_for_its_buyer_and_staff_only(
    client: FlaskClient,
) -> None:
    notice = make_notice(status=NeedStatus.CLOSED)
    log_in(client, notice.buyer_member)
    assert _upload(client, notice.need.ref, PDF, "tor.pdf").status_code == 302
    [document] = _documents()
    url = f"/needs/{notice.need.ref}/documents/{document.id}"

    own = client.get(url)
    assert own.status_code == 200
    assert own.headers["Cache-Control"] == "private, no-store"
    log_in(client, notice.vendor_member)
    assert client.get(url).status_code == 404
    client.post("/logout")
    assert client.get(url).status_code == 404
    log_in(client, make_user(Role.STAFF))
    assert client.get(url).status_code == 200


def test_a_document_is_found_only_under_its_own_need(client: FlaskClient) -> None:
    first, second = make_notice("First notice"), make_notice("Second notice")
    log_in(client, first.buyer_member)
    _upload(client, first.need.ref, PDF, "tor.pdf")
    [document] = _documents()
    assert client.get(f"/needs/{second.need.ref}/documents/{document.id}").status_code == 404
    assert client.get(f"/needs/{first.need.ref}/documents/999999").status_code == 404


def test_removing_a_document_stops_serving_it_and_deletes_its_file(
    client: FlaskClient,
) -> None:
    notice = make_notice()
    log_in(client, notice.buyer_member)
    _upload(client, notice.need.ref, PDF, "tor.pdf")
    [document] = _documents()
    file = path_of(document.storage_name)
    url = f"/needs/{notice.need.ref}/documents/{document.id}"

    assert client.get(f"{url}/remove").status_code == 200
    response = client.post(f"{url}/remove", data={"note": "Superseded by version 2."})

    assert response.status_code == 302
    assert client.get(url).status_code == 404
    assert not file.exists()
    assert client.post(f"{url}/remove").status_code == 404  # already gone
    page = client.get(f"/needs/{notice.need.ref}").get_data(as_text=True)
    assert "Document removed: tor.pdf" in page and "Superseded by version 2." in page


def test_other_buyers_and_vendors_may_not_attach_or_remove(client: FlaskClient) -> None:
    notice = make_notice()
    log_in(client, notice.buyer_member)
    _upload(client, notice.need.ref, PDF, "tor.pdf")
    [document] = _documents()
    for outsider in (notice.vendor_member, make_member(make_org(OrganizationKind.BUYER))):
        log_in(client, outsider)
        assert _upload(client, notice.need.ref, PDF, "x.pdf").status_code == 403
        remove_url = f"/needs/{notice.need.ref}/documents/{document.id}/remove"
        assert client.post(remove_url).status_code == 403
    assert len(_documents()) == 1 and _documents()[0].removed_at is None


def test_documents_on_a_published_notice_are_numbered_amendments(client: FlaskClient) -> None:
    notice = make_notice()
    log_in(client, notice.buyer_member)

    with signals_sent() as sent:
        _upload(client, notice.need.ref, PDF, "tor.pdf", note="The terms of reference.")
        [document] = _documents()
        client.post(f"/needs/{notice.need.ref}/documents/{document.id}/remove")

    [first, second] = services.amendments_of(notice.need)
    assert (first.number, second.number) == (1, 2)
    assert [(c.field, c.old, c.new) for c in first.changes] == [("document", None, "tor.pdf")]
    assert first.note == "The terms of reference."
    assert [(c.field, c.old, c.new) for c in second.changes] == [("document", "tor.pdf", None)]
    assert [(kind, kwargs["amendment"].number) for kind, _, kwargs in sent] == [
        ("amended", 1),
        ("amended", 2),
    ]
    assert all(kwargs["actor"] is notice.buyer_member for _, _, kwargs in sent)
    page = client.get(f"/needs/{notice.need.ref}").get_data(as_text=True)
    assert "Amendment 1" in page and "Document added: tor.pdf" in page


def test_documents_of_an_unpublished_need_make_no_amendment(client: FlaskClient) -> None:
    notice = make_notice(status=NeedStatus.CLOSED)
    log_in(client, notice.buyer_member)
    with signals_sent() as sent:
        _upload(client, notice.need.ref, PDF, "tor.pdf")
    assert sent == [] and count_rows(NoticeAmendment) == 0
    assert len(_documents()) == 1


def test_documents_of_lists_current_documents_oldest_first_without_private_fields(
    client: FlaskClient,
) -> None:
    notice = make_notice()
    log_in(client, notice.buyer_member)
    for name in ("a.pdf", "b.png", "c.pdf"):
        _upload(client, notice.need.ref, PDF if name.endswith("pdf") else PNG, name)
    b = next(d for d in _documents() if d.filename == "b.png")
    client.post(f"/needs/{notice.need.ref}/documents/{b.id}/remove")

    listed = services.documents_of(notice.need)

    assert [d.filename for d in listed] == ["a.pdf", "c.pdf"]
    assert listed[0].content_type == "application/pdf"
    assert not hasattr(listed[0], "storage_name") and not hasattr(listed[0], "uploaded_by")


def test_a_removal_note_too_long_is_refused_and_the_document_stays(client: FlaskClient) -> None:
    notice = make_notice()
    log_in(client, notice.buyer_member)
    _upload(client, notice.need.ref, PDF, "tor.pdf")
    [document] = _documents()

    response = client.post(
        f"/needs/{notice.need.ref}/documents/{document.id}/remove", data={"note": "x" * 1001}
    )

    assert response.status_code == 400
    assert "Field cannot be longer than 1000 characters." in response.get_data(as_text=True)
    assert path_of(document.storage_name).exists()
    assert client.get(f"/needs/{notice.need.ref}/documents/{document.id}").status_code == 200
