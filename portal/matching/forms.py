"""The form that dismisses a lead: a reason from the list and an optional note."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from portal.i18n.lazy import lazy_gettext
from portal.matching.models import MAX_NOTE, DismissalReason

REASON_CHOICES = [SelectChoice(reason.value, reason.label) for reason in DismissalReason]


class DismissLeadForm(FlaskForm):
    reason = SelectField(
        lazy_gettext("Why is this not for you?"),
        choices=REASON_CHOICES,
        validators=[InputRequired(message=lazy_gettext("Choose a reason from the list."))],
    )
    note = StringField(
        lazy_gettext("Note (optional)"),
        validators=[
            Optional(),
            Length(
                max=MAX_NOTE,
                message=lazy_gettext("Keep the note under %(max)s characters.", max=MAX_NOTE),
            ),
        ],
    )
