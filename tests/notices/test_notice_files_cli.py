"""``portal notices prune-files``: files no current document uses go, once old enough;
a document whose file is missing is reported."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

from notices.notice_factories import PDF, make_notice

from portal.db import utc_now
from portal.extensions import db
from portal.notices.models import NoticeDocument
from portal.notices.storage import path_of, save_upload

DAY = 24 * 3600


def _document(need_id: int, *, removed: bool = False) -> NoticeDocument:
    stored = save_upload(io.BytesIO(PDF))
    document = NoticeDocument(
        need_id=need_id,
        storage_name=stored.storage_name,
        filename="tor.pdf",
        kind=stored.kind.value,
        size=stored.size,
        sha256=stored.sha256,
        removed_at=utc_now() if removed else None,
    )
    db.session.add(document)
    db.session.commit()
    return document


def _age(path: Path, seconds: int) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_prune_deletes_only_old_files_no_current_document_uses(app: Any, runner: Any) -> None:
    notice = make_notice()
    current = _document(notice.need.id)
    removed = _document(notice.need.id, removed=True)
    orphan_old = path_of(save_upload(io.BytesIO(PDF)).storage_name)
    orphan_new = path_of(save_upload(io.BytesIO(PDF)).storage_name)
    for path in (path_of(current.storage_name), path_of(removed.storage_name), orphan_old):
        _age(path, 2 * DAY)

    dry = runner.invoke(args=["notices", "prune-files", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would delete 2 file(s)" in dry.output
    assert path_of(removed.storage_name).exists() and orphan_old.exists()

    result = runner.invoke(args=["notices", "prune-files"])

    assert result.exit_code == 0, result.output
    assert "deleted 2 file(s)" in result.output
    assert removed.storage_name in result.output and orphan_old.name in result.output
    assert not path_of(removed.storage_name).exists() and not orphan_old.exists()
    assert path_of(current.storage_name).exists()  # still shown
    assert orphan_new.exists()  # perhaps an upload committing right now


def test_a_document_whose_file_is_missing_is_reported(app: Any, runner: Any) -> None:
    notice = make_notice()
    document = _document(notice.need.id)
    path_of(document.storage_name).unlink()

    result = runner.invoke(args=["notices", "prune-files"])

    assert result.exit_code == 1
    assert f"documents whose file is missing (restore it from a backup): {document.id}" in (
        result.output
    )


def test_prune_refuses_a_grace_below_one_hour(app: Any, runner: Any) -> None:
    result = runner.invoke(args=["notices", "prune-files", "--older-than", "0"])
    assert result.exit_code == 2
    assert "--older-than" in result.output
