"""Pages of a notice's documents, amendments and questions, under its need's URL.

Each view parses a form, calls one service, commits once and redirects to the need page,
or re-renders its own page with the error beside the field (400) after rolling back. A
need the visitor may not see is 404; a step they may not take is 403. The need page's
sections (``templates/notices/_need_sections.html``) get what they show from
``notice_sections``, a template function this blueprint provides.

An upload request may be as large as ``PORTAL_UPLOAD_MAX_MB`` plus room for the rest of
the form, and no larger: a larger one is answered 413 before its body is read. The file
itself is then copied to disk in chunks against the exact limit (``storage``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.needs.models import Need
from portal.needs.services import can_manage_need, can_see_need, find_need, is_public
from portal.notices import services, storage
from portal.notices.forms import (
    AmendmentNoteForm,
    AnswerForm,
    DocumentForm,
    QuestionForm,
    QuestionsDeadlineForm,
    RemoveDocumentForm,
)
from portal.notices.models import NoticeQuestion
from portal.notices.services import NotAllowed, NoticeError

bp = Blueprint("notices", __name__)

Page = str | tuple[str, int] | Response
# What an upload's form may add to the file itself: the boundary, headers, token and note.
FORM_ALLOWANCE = 64 * 1024


@bp.url_value_preprocessor
def _cap_upload_size(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Runs before any ``before_request`` hook reads the form: the upload's own cap,
    which may be above the portal's ``MAX_CONTENT_LENGTH`` (or below it). An upload
    must say its length, as browsers' forms do: one streamed without (chunked) is
    refused unread (411), rather than parsed up to the cap and cut off mid-file."""
    if endpoint != "notices.upload":
        return
    request.max_content_length = storage.upload_limit() + FORM_ALLOWANCE
    if request.method == "POST" and request.content_length is None:
        abort(411)


# --- what the need page shows ---------------------------------------------------------


@dataclass
class NoticeSections:
    """Everything ``_need_sections.html`` shows of one need, for the current visitor."""

    need: Need
    can_manage: bool
    documents: list[services.PublicDocument]
    amendments: list[services.PublicAmendment]
    answers: list[services.PublicAnswer]
    questions_deadline: Any
    questions_open: bool
    ask_refusal: str | None = None  # for a vendor member who may not ask now
    own_questions: list[NoticeQuestion] = field(default_factory=list)
    unanswered: list[NoticeQuestion] = field(default_factory=list)
    question_form: QuestionForm | None = None
    answer_form: AnswerForm | None = None


def notice_sections(need: Need) -> NoticeSections:
    manager = can_manage_need(need, current_user)
    organization = getattr(current_user, "organization", None)
    vendor = organization is not None and organization.is_vendor
    refusal = services.ask_refusal(need, current_user) if vendor else None
    deadline = services.questions_deadline(need)
    return NoticeSections(
        need=need,
        can_manage=manager,
        documents=services.documents_of(need),
        amendments=services.amendments_of(need),
        answers=services.public_answers_of(need),
        questions_deadline=deadline,
        questions_open=services.questions_are_open(need),
        ask_refusal=refusal,
        own_questions=services.questions_of_organization(need, organization.id) if vendor else [],
        unanswered=services.unanswered_questions(need) if manager else [],
        question_form=QuestionForm() if vendor and refusal is None else None,
        answer_form=AnswerForm() if manager else None,
    )


@bp.app_context_processor
def _template_functions() -> dict[str, Any]:
    return {"notice_sections": notice_sections}


# --- helpers ---------------------------------------------------------------------------


def _visible_need(ref: str) -> Need:
    need = find_need(ref)
    if need is None or not can_see_need(need, current_user):
        abort(404)
    return need


def _managed_need(ref: str) -> Need:
    need = find_need(ref)
    if need is None:
        abort(404)
    if not can_manage_need(need, current_user):
        abort(403)
    return need


def _show_error(form: FlaskForm, error: NoticeError) -> None:
    target = form._fields.get(error.field or "")
    if target is not None:
        target.errors = [*target.errors, _sentence(str(error))]
    else:
        flash(_sentence(str(error)), "error")


def _sentence(message: str) -> str:
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "?", "!")) else message + "."


def _save(
    form: FlaskForm, step: Callable[[], Any], done: str, need: Need, anchor: str
) -> Page | None:
    """Run a valid form's service step: commit, flash ``done`` and go back to the need
    page's section; a refused step rolls back and its error goes beside its field (None:
    the view re-renders); a step the person may not take is 403."""
    try:
        step()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except NoticeError as error:
        db.session.rollback()
        _show_error(form, error)
        return None
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("needs.detail", ref=need.ref, _anchor=anchor))


def _page(template: str, form: FlaskForm, **context: Any) -> tuple[str, int] | str:
    page = render_template(template, form=form, **context)
    return (page, 400) if form.errors else page


# --- documents -------------------------------------------------------------------------


@bp.route("/needs/<ref>/documents/new", methods=["GET", "POST"])
@login_required
def upload(ref: str) -> Page:
    need = _managed_need(ref)
    form = DocumentForm()
    if form.validate_on_submit():
        try:
            stored = storage.save_upload(form.file.data.stream)
        except storage.UploadRefused as error:
            form.file.errors = [*form.file.errors, _sentence(str(error))]
        else:

            def attach() -> None:
                services.add_document(
                    need,
                    stored,
                    filename=form.file.data.filename,
                    note=form.note.data or "",
                    actor=current_user,
                )

            saved = None
            try:
                saved = _save(form, attach, gettext("Document attached."), need, "documents")
            finally:
                if saved is None:
                    storage.discard(stored.storage_name)  # its row was never kept
            if saved is not None:
                return saved
    return _page(
        "notices/upload.html",
        form,
        need=need,
        documents=services.documents_of(need),
        limit_mb=current_app.config["PORTAL_UPLOAD_MAX_MB"],
        published=is_public(need),
    )


@bp.get("/needs/<ref>/documents/<int:document_id>")
def download(ref: str, document_id: int) -> Response:
    """The file, as an attachment of the type read from its content: never shown inline
    by the browser, never sniffed as something else."""
    need = _visible_need(ref)
    document = services.find_document(need, document_id)
    if document is None:
        abort(404)
    path = storage.path_of(document.storage_name)
    if not path.is_file():
        current_app.logger.error("notice document %s has no file %s", document.id, path)
        abort(404)
    response = send_file(
        path,
        mimetype=services.content_type_of(document),
        as_attachment=True,
        download_name=document.filename,
        conditional=True,
        etag=document.sha256,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not is_public(need):
        response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/needs/<ref>/documents/<int:document_id>/remove", methods=["GET", "POST"])
@login_required
def remove_document(ref: str, document_id: int) -> Page:
    need = _managed_need(ref)
    document = services.find_document(need, document_id)
    if document is None:
        abort(404)
    form = RemoveDocumentForm()
    if form.validate_on_submit():
        storage_name = document.storage_name

        def remove() -> None:
            services.remove_document(document, note=form.note.data or "", actor=current_user)

        saved = _save(form, remove, gettext("Document removed."), need, "documents")
        if saved is not None:
            storage.discard(storage_name)  # committed: the bytes go too
            return saved
    return _page(
        "notices/remove_document.html",
        form,
        need=need,
        document=document,
        published=is_public(need),
    )


# --- amendments ------------------------------------------------------------------------


@bp.route("/needs/<ref>/amendments/<int:number>/note", methods=["GET", "POST"])
@login_required
def amendment_note(ref: str, number: int) -> Page:
    need = _managed_need(ref)
    amendment = services.find_amendment(need, number)
    if amendment is None:
        abort(404)
    form = AmendmentNoteForm(obj=amendment)
    if form.validate_on_submit():

        def save_note() -> None:
            services.set_amendment_note(amendment, form.note.data or "", actor=current_user)

        saved = _save(
            form,
            save_note,
            gettext("Note of amendment %(number)s saved.", number=number),
            need,
            "amendments",
        )
        if saved is not None:
            return saved
    return _page("notices/amendment_note.html", form, need=need, amendment=amendment)


# --- questions -------------------------------------------------------------------------


@bp.route("/needs/<ref>/questions/deadline", methods=["GET", "POST"])
@login_required
def questions_deadline(ref: str) -> Page:
    need = _managed_need(ref)
    form = QuestionsDeadlineForm(obj=need)
    if form.validate_on_submit():

        def set_deadline() -> None:
            services.set_questions_deadline(
                need,
                form.questions_close_on.data,
                note=form.note.data or "",
                actor=current_user,
            )

        saved = _save(form, set_deadline, gettext("Questions deadline saved."), need, "questions")
        if saved is not None:
            return saved
    return _page("notices/questions_deadline.html", form, need=need, published=is_public(need))


@bp.route("/needs/<ref>/questions/new", methods=["GET", "POST"])
@login_required
def ask(ref: str) -> Page:
    need = _visible_need(ref)
    organization = current_user.organization
    if organization is None or not organization.is_vendor:
        abort(403)  # only vendors ask; the buyer answers
    form = QuestionForm()
    if form.validate_on_submit():

        def ask_it() -> None:
            services.ask_question(need, current_user, form.body.data or "")

        done = gettext("Question sent. The buyer answers it on this page, without naming you.")
        saved = _save(form, ask_it, done, need, "questions")
        if saved is not None:
            return saved
    return _page(
        "notices/ask.html",
        form,
        need=need,
        refusal=services.ask_refusal(need, current_user),
        deadline=services.questions_deadline(need),
    )


@bp.route("/needs/<ref>/questions/<int:question_id>/answer", methods=["GET", "POST"])
@login_required
def answer(ref: str, question_id: int) -> Page:
    need = _managed_need(ref)
    question = services.find_question(need, question_id)
    if question is None:
        abort(404)
    form = AnswerForm()
    if form.validate_on_submit():

        def answer_it() -> None:
            services.answer_question(question, form.answer.data or "", actor=current_user)

        saved = _save(form, answer_it, gettext("Answer published."), need, "questions")
        if saved is not None:
            return saved
    return _page("notices/answer.html", form, need=need, question=question)
