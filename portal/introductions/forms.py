"""Forms of the introduction workflow. They check input only; the rules are in services.

Every form that changes an introduction carries ``state``: the state the person saw when
the page was drawn. If the introduction moved meanwhile, the service refuses the step as
"changed by someone else" instead of applying it to something the person did not see.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from portal.i18n.lazy import lazy_gettext
from portal.introductions.models import IntroState
from portal.introductions.services import MAX_NOTE

_note_length = Length(
    max=MAX_NOTE, message=lazy_gettext("Keep it under %(max_note)s characters.", max_note=MAX_NOTE)
)
CONFIRM_LABEL = "Yes, another introduction between these two organizations is wanted"


class StepForm(FlaskForm):
    """A button that takes one step: the CSRF token and the state the person saw."""

    state = HiddenField(validators=[InputRequired()])


class ApproveForm(StepForm):
    note = TextAreaField(
        lazy_gettext("Note to both sides (optional)"), validators=[Optional(), _note_length]
    )


class StaffDeclineForm(StepForm):
    reason = TextAreaField(
        lazy_gettext("Reason (the requester reads it)"),
        validators=[
            DataRequired(message=lazy_gettext("Give the reason, so the requester knows why.")),
            _note_length,
        ],
    )
    private_reason = TextAreaField(
        lazy_gettext("Private note (staff only, optional)"), validators=[Optional(), _note_length]
    )


class PrivateReasonForm(StepForm):
    """Declining or withdrawing as a member: an optional reason that only staff read."""

    private_reason = TextAreaField(
        lazy_gettext("Reason (optional; only trade staff see it)"),
        validators=[Optional(), _note_length],
    )


OUTCOME_CHOICES = [
    SelectChoice(state.value, state.label)
    for state in (
        IntroState.MEETING_HELD,
        IntroState.PROPOSAL_SUBMITTED,
        IntroState.WON,
        IntroState.LOST,
        IntroState.STALLED,
    )
]


class OutcomeForm(StepForm):
    outcome = SelectField(
        lazy_gettext("What happened"),
        choices=OUTCOME_CHOICES,
        validators=[InputRequired(message=lazy_gettext("Choose what happened."))],
    )
    note = TextAreaField(
        lazy_gettext("Note (optional; both sides and staff read it)"),
        validators=[Optional(), _note_length],
    )


class NoteForm(FlaskForm):
    note = TextAreaField(
        lazy_gettext("Note"),
        validators=[DataRequired(message=lazy_gettext("Write the note first.")), _note_length],
    )
    shared = BooleanField(lazy_gettext("Show it to both organizations too (otherwise staff only)"))


class RequestForm(FlaskForm):
    """A member asks for an introduction; the other organization is in the URL."""

    need = SelectField(lazy_gettext("About the need"), choices=[], validate_choice=True)
    message = TextAreaField(
        lazy_gettext("Why should you meet? (trade staff read it first)"),
        validators=[Optional(), _note_length],
    )
    confirm = BooleanField(CONFIRM_LABEL)


class ProposeForm(FlaskForm):
    """Staff propose a pair, named by their references."""

    vendor = StringField(
        lazy_gettext("Vendor reference"), validators=[DataRequired(), Length(max=64)]
    )
    buyer = StringField(
        lazy_gettext("Buyer reference"), validators=[DataRequired(), Length(max=64)]
    )
    need = StringField(
        lazy_gettext("Need reference (optional)"), validators=[Optional(), Length(max=64)]
    )
    note = TextAreaField(
        lazy_gettext("Note to both sides (optional)"), validators=[Optional(), _note_length]
    )
    confirm = BooleanField(CONFIRM_LABEL)
