"""The forms of a notice's documents, amendments and questions.

The document form checks only that a file was sent: what it is and how large it may be
are decided from its content by ``portal.notices.storage``, never from the name or the
content type the browser gave.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.i18n.lazy import lazy_gettext
from portal.notices.services import MAX_ANSWER, MAX_NOTE, MAX_QUESTION

_NOTE_LABEL = "Note for bidders (optional, shown with the amendment)"


class DocumentForm(FlaskForm):
    file = FileField(
        lazy_gettext("Document"), validators=[FileRequired("Choose a file to attach.")]
    )
    note = TextAreaField(_NOTE_LABEL, validators=[Optional(), Length(max=MAX_NOTE)])


class RemoveDocumentForm(FlaskForm):
    note = TextAreaField(_NOTE_LABEL, validators=[Optional(), Length(max=MAX_NOTE)])


class AmendmentNoteForm(FlaskForm):
    note = TextAreaField(
        lazy_gettext("Why the notice changed"), validators=[Optional(), Length(max=MAX_NOTE)]
    )


class QuestionsDeadlineForm(FlaskForm):
    questions_close_on = DateField(lazy_gettext("Questions taken until"), validators=[Optional()])
    note = TextAreaField(_NOTE_LABEL, validators=[Optional(), Length(max=MAX_NOTE)])


class QuestionForm(FlaskForm):
    body = TextAreaField(
        lazy_gettext("Your question"),
        validators=[DataRequired("Write your question."), Length(max=MAX_QUESTION)],
    )


class AnswerForm(FlaskForm):
    answer = TextAreaField(
        lazy_gettext("Answer (published for everyone; the asker is not named)"),
        validators=[DataRequired("Write the answer."), Length(max=MAX_ANSWER)],
    )
