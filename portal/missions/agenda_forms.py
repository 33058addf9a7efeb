"""Forms of the agenda pages. They check input only; the rules are in ``outcomes``."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from portal.i18n.lazy import lazy_gettext
from portal.missions.outcomes import ATTENDANCE_LABELS, MAX_NOTE, RATING_LABELS


class OutcomeForm(FlaskForm):
    """One side's word on a meeting; the note stays with that side (and staff)."""

    attendance = RadioField(
        lazy_gettext("Did the meeting take place?"),
        choices=[SelectChoice(value.value, label) for value, label in ATTENDANCE_LABELS.items()],
        validators=[InputRequired(message=lazy_gettext("Choose held or no-show."))],
    )
    rating = RadioField(
        lazy_gettext("How was it?"),
        choices=[SelectChoice(value.value, label) for value, label in RATING_LABELS.items()],
        validators=[InputRequired(message=lazy_gettext("Choose one of the ratings."))],
    )
    note = TextAreaField(
        lazy_gettext("Private note (only your organization and trade staff read it)"),
        validators=[
            Optional(),
            Length(
                max=MAX_NOTE,
                message=lazy_gettext("Keep it under %(max_note)s characters.", max_note=MAX_NOTE),
            ),
        ],
    )


class CalendarTokenForm(FlaskForm):
    """A button: make a new private subscription URL (or revoke it); CSRF only."""


class OpenIntroductionForm(FlaskForm):
    confirm = BooleanField(
        lazy_gettext("Yes, another introduction between these two organizations is wanted")
    )
