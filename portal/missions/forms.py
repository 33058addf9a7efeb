"""The forms of the event pages; they check input only, the rules live in the services."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.i18n.lazy import lazy_gettext
from portal.missions.models import AttendanceMode
from portal.missions.requests import MAX_MESSAGE
from portal.missions.services import sessions_text


class EventForm(FlaskForm):
    name = StringField(lazy_gettext("Name"), validators=[DataRequired(), Length(max=200)])
    ref = StringField(
        lazy_gettext("Reference"),
        validators=[Optional(), Length(max=64)],
        description=lazy_gettext("Made from the name if empty."),
    )
    city = StringField(lazy_gettext("City"), validators=[Optional(), Length(max=120)])
    country = StringField(lazy_gettext("Country code"), validators=[Optional(), Length(max=2)])
    venue = StringField(lazy_gettext("Venue"), validators=[Optional(), Length(max=200)])
    time_zone = StringField(lazy_gettext("Time zone"), validators=[DataRequired(), Length(max=64)])
    sessions = TextAreaField(
        lazy_gettext("Sessions"), validators=[DataRequired(), Length(max=5000)]
    )
    meeting_minutes = IntegerField(
        lazy_gettext("Meeting length (minutes)"),
        validators=[
            InputRequired(),
            NumberRange(
                min=10, max=120, message=lazy_gettext("A meeting lasts from 10 to 120 minutes.")
            ),
        ],
        default=20,
    )
    tables = IntegerField(
        lazy_gettext("Tables on site"),
        validators=[
            InputRequired(),
            NumberRange(min=0, max=1000, message=lazy_gettext("Give from 0 to 1000 tables.")),
        ],
        default=0,
    )
    online = BooleanField(lazy_gettext("Online meetings allowed"))
    registration_closes = DateField(lazy_gettext("Registration closes"), validators=[Optional()])
    join_link_pattern = StringField(
        lazy_gettext("Join link pattern"), validators=[Optional(), Length(max=500)]
    )


class RegistrationForm(FlaskForm):
    # Staff register the organization they picked on the page (its reference); members
    # their own (the field is removed).
    organization = HiddenField(validators=[Optional(), Length(max=64)])
    attends = SelectMultipleField(
        lazy_gettext("Sessions you attend"), coerce=int, validators=[Optional()]
    )
    mode = RadioField(
        lazy_gettext("How you take part"),
        choices=[
            SelectChoice(AttendanceMode.ON_SITE.value, lazy_gettext("On site")),
            SelectChoice(AttendanceMode.ONLINE.value, lazy_gettext("Online")),
        ],
        default=AttendanceMode.ON_SITE.value,
        validators=[InputRequired(message=lazy_gettext("Choose on site or online."))],
    )
    max_meetings = IntegerField(
        lazy_gettext("At most this many meetings"),
        validators=[
            Optional(),
            NumberRange(
                min=1, max=100, message=lazy_gettext("Give a cap from 1 to 100 meetings, or none.")
            ),
        ],
    )
    offers = TextAreaField(
        lazy_gettext("What you offer at this event"), validators=[Length(max=MAX_MESSAGE)]
    )
    looks_for = TextAreaField(
        lazy_gettext("What you look for"), validators=[Length(max=MAX_MESSAGE)]
    )
    time_zone = StringField(
        lazy_gettext("Your time zone (online)"), validators=[Optional(), Length(max=64)]
    )


def registration_form(event_sessions: list[dict[str, str]], **kwargs: object) -> RegistrationForm:
    """The registration form with this event's sessions to choose from."""
    form = RegistrationForm(**kwargs)
    form.attends.choices = [
        SelectChoice(i, sessions_text([s])) for i, s in enumerate(event_sessions)
    ]
    return form


class RequestForm(FlaskForm):
    to = HiddenField(validators=[DataRequired(message=lazy_gettext("Choose whom to meet."))])
    message = TextAreaField(
        lazy_gettext("Message"), validators=[Optional(), Length(max=MAX_MESSAGE)]
    )
    must_meet = BooleanField(lazy_gettext("Must meet"))


class ProposeForm(FlaskForm):
    first = SelectField(lazy_gettext("Participant"), validators=[DataRequired()])
    second = SelectField(lazy_gettext("Meets"), validators=[DataRequired()])
    message = TextAreaField(
        lazy_gettext("Message"), validators=[Optional(), Length(max=MAX_MESSAGE)]
    )
    must_meet = BooleanField(lazy_gettext("Must meet"))


class AnswerForm(FlaskForm):
    answer = RadioField(
        lazy_gettext("Answer"),
        choices=[
            SelectChoice("accept", lazy_gettext("Accept")),
            SelectChoice("decline", lazy_gettext("Decline")),
        ],
        validators=[InputRequired(message=lazy_gettext("Accept or decline."))],
    )
    reason = TextAreaField(
        lazy_gettext("Reason (only trade staff see it)"),
        validators=[Optional(), Length(max=MAX_MESSAGE)],
    )


class MustMeetForm(FlaskForm):
    must_meet = BooleanField(lazy_gettext("Must meet"))


class ConfirmForm(FlaskForm):
    """A button that only needs its CSRF token (withdraw, cancel, publish)."""


class ScheduleForm(FlaskForm):
    replan = BooleanField(lazy_gettext("Plan published meetings again too"))


class MoveForm(FlaskForm):
    slot = IntegerField(
        lazy_gettext("Slot"), validators=[InputRequired(message=lazy_gettext("Choose a slot."))]
    )
    # "online", or a table number.
    place = StringField(
        lazy_gettext("Table"),
        validators=[DataRequired(message=lazy_gettext("Choose a table or online."))],
    )
