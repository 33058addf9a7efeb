"""The form that dismisses a lead: a reason from the list and an optional note."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from portal.matching.models import MAX_NOTE, DismissalReason

REASON_CHOICES = [SelectChoice(reason.value, reason.label) for reason in DismissalReason]


class DismissLeadForm(FlaskForm):
    reason = SelectField(
        "Why is this not for you?",
        choices=REASON_CHOICES,
        validators=[InputRequired(message="Choose a reason from the list.")],
    )
    note = StringField(
        "Note (optional)",
        validators=[
            Optional(),
            Length(max=MAX_NOTE, message=f"Keep the note under {MAX_NOTE} characters."),
        ],
    )
