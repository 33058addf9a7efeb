"""A notice's documents, amendments and questions: who may do what, and what it means.

Buyers (the need's buyer organization's members) and staff attach and remove documents
and answer questions; vendor members of a verified vendor ask questions about a
published notice until its questions deadline. Adding or removing a document of a
published notice, or moving its questions deadline, is an amendment
(``portal.notices.amendments``); so is an edit of its closing date or budget
(``portal.needs.services.update_need`` calls ``record_need_edit``).

``documents_of``, ``amendments_of`` and ``public_answers_of`` return public data only (no
asker, no uploader, no storage name), oldest first, for the need page and the public API;
the caller has checked that the need may be seen (``portal.needs.services.can_see_need``).
Services flush and never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext, pgettext

from portal.accounts.models import User
from portal.db import utc_now, utc_today
from portal.extensions import db
from portal.i18n.formatting import localized_date
from portal.i18n.lazy import lazy_gettext
from portal.introductions.notifications import recipients
from portal.mail.services import mail_link, queue_mail
from portal.needs.models import Need
from portal.needs.services import can_manage_need, can_see_need, is_public, sum_label
from portal.notices import storage
from portal.notices.amendments import (
    FIELD_LABELS,
    MAX_NOTE,
    amend,
    as_person,
    record_need_edit,
)
from portal.notices.models import NoticeAmendment, NoticeDocument, NoticeQuestion
from portal.notices.storage import CONTENT_TYPES, StoredFile, clean_filename
from portal.signals import question_answered

MAX_QUESTION = 2000
MAX_ANSWER = 5000


class NoticeError(ValueError):
    """A change that breaks a rule; nothing was written. ``field`` names its form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotAllowed(NoticeError):
    """The person may see the notice but may not do this (views answer 403)."""


def _check_note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise NoticeError(
            gettext("a note may have at most %(max)s characters", max=format(MAX_NOTE, ",")), "note"
        )
    return note


def _require_manager(need: Need, actor: User | Any) -> None:
    if not can_manage_need(need, actor):
        raise NotAllowed(gettext("only the buyer's members and trade staff may do this"))


# --- documents -------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicDocument:
    """A document as anyone who may see the need sees it. Downloaded from the endpoint
    ``notices.download`` (``ref`` of the need, ``document_id``)."""

    id: int
    filename: str
    kind: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: dt.datetime

    @property
    def size_label(self) -> str:
        """The size as a reader would say it: 820 KB, 4.2 MB."""
        if self.size < 1024 * 1024:
            return f"{max(1, round(self.size / 1024))} KB"
        return f"{self.size / (1024 * 1024):.1f} MB"


def _public_document(document: NoticeDocument) -> PublicDocument:
    return PublicDocument(
        id=document.id,
        filename=document.filename,
        kind=document.kind,
        content_type=CONTENT_TYPES[document.kind],  # type: ignore[index]
        size=document.size,
        sha256=document.sha256,
        uploaded_at=document.uploaded_at,
    )


def documents_of(need: Need) -> list[PublicDocument]:
    """The need's current documents (not the removed ones), oldest first."""
    rows = db.session.scalars(
        sa.select(NoticeDocument)
        .where(NoticeDocument.need_id == need.id, NoticeDocument.removed_at.is_(None))
        .order_by(NoticeDocument.uploaded_at, NoticeDocument.id)
    )
    return [_public_document(row) for row in rows]


def find_document(need: Need, document_id: int) -> NoticeDocument | None:
    """A current document of this need (a removed one, or another need's, is None)."""
    return db.session.scalar(
        sa.select(NoticeDocument).where(
            NoticeDocument.id == document_id,
            NoticeDocument.need_id == need.id,
            NoticeDocument.removed_at.is_(None),
        )
    )


def content_type_of(document: NoticeDocument) -> str:
    return CONTENT_TYPES[document.kind]  # type: ignore[index]


def add_document(
    need: Need,
    stored: StoredFile,
    *,
    filename: str | None,
    note: str = "",
    actor: User | Any = None,
) -> NoticeDocument:
    """Attach a stored file to the need under a cleaned name. On a published notice this
    is an amendment, with the buyer's note if any."""
    _require_manager(need, actor)
    note = _check_note(note)
    published = is_public(need)
    document = NoticeDocument(
        need_id=need.id,
        storage_name=stored.storage_name,
        filename=clean_filename(filename, stored.kind),
        kind=stored.kind.value,
        size=stored.size,
        sha256=stored.sha256,
        uploaded_by_id=getattr(actor, "id", None),
    )
    db.session.add(document)
    db.session.flush()
    if published:
        amend(
            need,
            [{"field": "document", "old": None, "new": document.filename}],
            note=note,
            actor=actor,
        )
    return document


def remove_document(
    document: NoticeDocument, *, note: str = "", actor: User | Any = None
) -> NoticeDocument:
    """Take a document off the need: it is never served again, and its file may be
    deleted once this commits (``storage.discard``). On a published notice this is an
    amendment."""
    need = document.need
    _require_manager(need, actor)
    note = _check_note(note)
    if document.removed_at is not None:
        raise NoticeError(gettext("this document was already removed"))
    published = is_public(need)
    document.removed_at = utc_now()
    db.session.flush()
    if published:
        amend(
            need,
            [{"field": "document", "old": document.filename, "new": None}],
            note=note,
            actor=actor,
        )
    return document


# --- amendments ------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    field: str  # closes_on, questions_close_on, budget_min, budget_max or document
    old: Any  # as stored: ISO date text, whole dollars, a document's name, or None
    new: Any

    @property
    def label(self) -> str:
        label = FIELD_LABELS.get(self.field)
        return gettext(label) if label is not None else self.field

    @property
    def old_text(self) -> str:
        return _change_text(self.field, self.old)

    @property
    def new_text(self) -> str:
        return _change_text(self.field, self.new)


def _change_text(field: str, value: Any) -> str:
    """An amended value in the reader's language: no value in words, a date and a sum as
    the locale writes them (English keeps ISO dates and US$200,000)."""
    if value is None:
        if field == "document":
            return pgettext("amendment", "none")
        if field == "questions_close_on":  # questions are then taken until the closing date
            return pgettext("amendment", "the closing date")
        return pgettext("amendment", "not set")
    if field in ("budget_min", "budget_max") and isinstance(value, int):
        return sum_label(value)
    if field in ("closes_on", "questions_close_on") and isinstance(value, str):
        try:
            return localized_date(dt.date.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


@dataclass(frozen=True)
class PublicAmendment:
    number: int
    created_at: dt.datetime
    note: str
    changes: list[Change]


def amendments_of(need: Need) -> list[PublicAmendment]:
    """The need's amendments, number 1 first."""
    rows = db.session.scalars(
        sa.select(NoticeAmendment)
        .where(NoticeAmendment.need_id == need.id)
        .order_by(NoticeAmendment.number)
    )
    return [
        PublicAmendment(
            number=row.number,
            created_at=row.created_at,
            note=row.note,
            changes=[
                Change(item["field"], item.get("old"), item.get("new")) for item in row.changes
            ],
        )
        for row in rows
    ]


def find_amendment(need: Need, number: int) -> NoticeAmendment | None:
    return db.session.scalar(
        sa.select(NoticeAmendment).where(
            NoticeAmendment.need_id == need.id, NoticeAmendment.number == number
        )
    )


def set_amendment_note(
    amendment: NoticeAmendment, note: str, *, actor: User | Any = None
) -> NoticeAmendment:
    """Say why the notice changed, after the fact (an edit of the need form has no room
    for it); an empty note removes it."""
    _require_manager(amendment.need, actor)
    amendment.note = _check_note(note)
    db.session.flush()
    return amendment


# --- the questions deadline ------------------------------------------------------------


def questions_deadline(need: Need) -> dt.date | None:
    """The last day questions are taken: the questions deadline, or the closing date if
    that comes first or there is none; None when neither is set."""
    days = [day for day in (need.questions_close_on, need.closes_on) if day is not None]
    return min(days) if days else None


def set_questions_deadline(
    need: Need, day: dt.date | None, *, note: str = "", actor: User | Any = None
) -> Need:
    """Set (or clear, with None) the last day for questions. Not a past day when it
    changes, and not after the closing date. On a published notice this is an amendment."""
    _require_manager(need, actor)
    note = _check_note(note)
    if day is not None and day != need.questions_close_on and day < utc_today():
        raise NoticeError(
            gettext("the questions deadline cannot be in the past"), "questions_close_on"
        )
    if day is not None and need.closes_on is not None and day > need.closes_on:
        raise NoticeError(
            gettext(
                "the questions deadline must not be after the closing date (%(date)s)",
                date=need.closes_on.isoformat(),
            ),
            "questions_close_on",
        )
    need.questions_close_on = day
    amendment = record_need_edit(need, actor=actor)
    if amendment is not None and note:
        amendment.note = note
        db.session.flush()
    return need


# --- questions and answers -------------------------------------------------------------


def questions_are_open(need: Need, *, today: dt.date | None = None) -> bool:
    """Whether the notice takes questions now: published, and its deadline not past."""
    deadline = questions_deadline(need)
    return is_public(need) and (deadline is None or (today or utc_today()) <= deadline)


def ask_refusal(need: Need, asker: User | Any, *, today: dt.date | None = None) -> str | None:
    """Why ``asker`` may not ask about this notice now, or None if they may."""
    organization = getattr(asker, "organization", None)
    if not getattr(asker, "is_authenticated", False) or organization is None:
        return gettext("Log in as a member of a vendor organization to ask a question.")
    if not organization.is_vendor:
        return gettext("Only vendors ask questions about a notice.")
    if not organization.is_verified:
        return gettext(
            "Your organization must be verified by trade staff before it asks questions."
        )
    if not is_public(need):
        return gettext("This notice is not published, so it takes no questions.")
    deadline = questions_deadline(need)
    if deadline is not None and (today or utc_today()) > deadline:
        return gettext("Questions about this notice closed on %(date)s.", date=deadline.isoformat())
    return None


def ask_question(need: Need, asker: User, body: str) -> NoticeQuestion:
    """A vendor member's question; the buyer's members are told by mail."""
    refusal = ask_refusal(need, asker)
    if refusal is not None:
        organization = getattr(asker, "organization", None)
        if organization is None or not organization.is_vendor:
            raise NotAllowed(refusal)
        raise NoticeError(refusal, "body")
    body = (body or "").strip()
    if not body:
        raise NoticeError(gettext("write your question"), "body")
    if len(body) > MAX_QUESTION:
        raise NoticeError(
            gettext(
                "a question may have at most %(max)s characters", max=format(MAX_QUESTION, ",")
            ),
            "body",
        )
    question = NoticeQuestion(
        need_id=need.id,
        organization_id=asker.organization_id,
        asked_by_id=asker.id,
        body=body,
    )
    db.session.add(question)
    db.session.flush()
    _tell_buyer_of_question(need, question)
    return question


def _tell_buyer_of_question(need: Need, question: NoticeQuestion) -> None:
    """Mail each member of the buyer (``queue_mail`` drops it for one who unsubscribed).
    It goes at once even to digest-mode members: a question waits for its answer
    against a deadline, and the digest has no place for it."""
    link = mail_link("needs.detail", ref=need.ref) + "#questions"
    for person in recipients(need.buyer):
        queue_mail(
            person.email,
            lazy_gettext('A vendor asked a question about "%(title)s"', title=need.title),
            "notice_question_asked",
            person=person,
            need=need,
            question=question,
            deadline=questions_deadline(need),
            link=link,
        )


def find_question(need: Need, question_id: int) -> NoticeQuestion | None:
    return db.session.scalar(
        sa.select(NoticeQuestion).where(
            NoticeQuestion.id == question_id, NoticeQuestion.need_id == need.id
        )
    )


def can_see_question(question: NoticeQuestion, viewer: User | Any) -> bool:
    """An answered question is public with the need; an open one is for the asking
    organization, the buyer and staff."""
    if not can_see_need(question.need, viewer):
        return False
    if question.is_answered or can_manage_need(question.need, viewer):
        return True
    return getattr(viewer, "is_authenticated", False) and (
        viewer.organization_id == question.organization_id
    )


def answer_question(
    question: NoticeQuestion, answer: str, *, actor: User | Any = None
) -> NoticeQuestion:
    """The buyer's (or staff's) answer, public from now on, the asker never named."""
    _require_manager(question.need, actor)
    if question.is_answered:
        raise NoticeError(gettext("this question was already answered"), "answer")
    answer = (answer or "").strip()
    if not answer:
        raise NoticeError(gettext("write the answer"), "answer")
    if len(answer) > MAX_ANSWER:
        raise NoticeError(
            gettext("an answer may have at most %(max)s characters", max=format(MAX_ANSWER, ",")),
            "answer",
        )
    question.answer = answer
    question.answered_at = utc_now()
    question.answered_by_id = getattr(actor, "id", None)
    db.session.flush()
    question_answered.send(question.need, question=question, actor=as_person(actor))
    return question


@dataclass(frozen=True)
class PublicAnswer:
    """An answered question as the public sees it: "A vendor asked", never who."""

    id: int
    question: str
    answer: str
    asked_at: dt.datetime
    answered_at: dt.datetime


def public_answers_of(need: Need) -> list[PublicAnswer]:
    """The need's answered questions, the first answered first."""
    rows = db.session.scalars(
        sa.select(NoticeQuestion)
        .where(NoticeQuestion.need_id == need.id, NoticeQuestion.answered_at.is_not(None))
        .order_by(NoticeQuestion.answered_at, NoticeQuestion.id)
    )
    return [
        PublicAnswer(
            id=row.id,
            question=row.body,
            answer=row.answer or "",
            asked_at=row.asked_at,
            answered_at=row.answered_at,  # type: ignore[arg-type]
        )
        for row in rows
    ]


def unanswered_questions(need: Need) -> list[NoticeQuestion]:
    """Questions still waiting for the buyer, oldest first (for the buyer and staff)."""
    return list(
        db.session.scalars(
            sa.select(NoticeQuestion)
            .where(NoticeQuestion.need_id == need.id, NoticeQuestion.answered_at.is_(None))
            .order_by(NoticeQuestion.asked_at, NoticeQuestion.id)
        )
    )


def questions_of_organization(need: Need, organization_id: int) -> list[NoticeQuestion]:
    """What one vendor asked about the need, answered or not, oldest first."""
    return list(
        db.session.scalars(
            sa.select(NoticeQuestion)
            .where(
                NoticeQuestion.need_id == need.id,
                NoticeQuestion.organization_id == organization_id,
            )
            .order_by(NoticeQuestion.asked_at, NoticeQuestion.id)
        )
    )


# --- files on disk ---------------------------------------------------------------------


@dataclass(frozen=True)
class PruneReport:
    deleted: list[str]  # names of the files deleted (or that would be, on a dry run)
    missing: list[int]  # ids of current documents whose file is not there


def prune_files(
    *, older_than: dt.timedelta, now: dt.datetime | None = None, dry_run: bool = False
) -> PruneReport:
    """Delete files in the upload folder that no document still shown needs: those of
    removed documents whose deletion failed, and those left by an upload whose transaction
    never committed. Only files older than ``older_than`` go, so an upload being saved
    right now is never touched. Also lists current documents whose file is missing."""
    folder = storage.upload_folder()
    rows = db.session.execute(
        sa.select(NoticeDocument.id, NoticeDocument.storage_name, NoticeDocument.removed_at)
    ).all()
    kept = {row.storage_name for row in rows if row.removed_at is None}
    cutoff = (now or utc_now()) - older_than
    deleted: list[str] = []
    present: set[str] = set()
    for file in sorted(folder.iterdir()) if folder.is_dir() else []:
        present.add(file.name)
        if not file.is_file() or file.name in kept:
            continue
        modified = dt.datetime.fromtimestamp(file.stat().st_mtime, dt.UTC)
        if modified > cutoff:
            continue
        deleted.append(file.name)
        if not dry_run:
            file.unlink(missing_ok=True)
    missing = sorted(
        row.id for row in rows if row.removed_at is None and row.storage_name not in present
    )
    return PruneReport(deleted, missing)
