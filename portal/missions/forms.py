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

from portal.missions.models import AttendanceMode
from portal.missions.requests import MAX_MESSAGE
from portal.missions.services import sessions_text


class EventForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    ref = StringField(
        "Reference",
        validators=[Optional(), Length(max=64)],
        description="Made from the name if empty.",
    )
    city = StringField("City", validators=[Optional(), Length(max=120)])
    country = StringField("Country code", validators=[Optional(), Length(max=2)])
    venue = StringField("Venue", validators=[Optional(), Length(max=200)])
    time_zone = StringField("Time zone", validators=[DataRequired(), Length(max=64)])
    sessions = TextAreaField("Sessions", validators=[DataRequired(), Length(max=5000)])
    meeting_minutes = IntegerField(
        "Meeting length (minutes)",
        validators=[
            InputRequired(),
            NumberRange(min=10, max=120, message="A meeting lasts from 10 to 120 minutes."),
        ],
        default=20,
    )
    tables = IntegerField(
        "Tables on site",
        validators=[
            InputRequired(),
            NumberRange(min=0, max=1000, message="Give from 0 to 1000 tables."),
        ],
        default=0,
    )
    online = BooleanField("Online meetings allowed")
    registration_closes = DateField("Registration closes", validators=[Optional()])
    join_link_pattern = StringField("Join link pattern", validators=[Optional(), Length(max=500)])


class RegistrationForm(FlaskForm):
    # Staff register the organization they picked on the page (its reference); members
    # their own (the field is removed).
    organization = HiddenField(validators=[Optional(), Length(max=64)])
    attends = SelectMultipleField("Sessions you attend", coerce=int, validators=[Optional()])
    mode = RadioField(
        "How you take part",
        choices=[
            SelectChoice(AttendanceMode.ON_SITE.value, "On site"),
            SelectChoice(AttendanceMode.ONLINE.value, "Online"),
        ],
        default=AttendanceMode.ON_SITE.value,
        validators=[InputRequired(message="Choose on site or online.")],
    )
    max_meetings = IntegerField(
        "At most this many meetings",
        validators=[
            Optional(),
            NumberRange(min=1, max=100, message="Give a cap from 1 to 100 meetings, or none."),
        ],
    )
    offers = TextAreaField("What you offer at this event", validators=[Length(max=MAX_MESSAGE)])
    looks_for = TextAreaField("What you look for", validators=[Length(max=MAX_MESSAGE)])
    time_zone = StringField("Your time zone (online)", validators=[Optional(), Length(max=64)])


def registration_form(event_sessions: list[dict[str, str]], **kwargs: object) -> RegistrationForm:
    """The registration form with this event's sessions to choose from."""
    form = RegistrationForm(**kwargs)
    form.attends.choices = [
        SelectChoice(i, sessions_text([s])) for i, s in enumerate(event_sessions)
    ]
    return form


class RequestForm(FlaskForm):
    to = HiddenField(validators=[DataRequired(message="Choose whom to meet.")])
    message = TextAreaField("Message", validators=[Optional(), Length(max=MAX_MESSAGE)])
    must_meet = BooleanField("Must meet")


class ProposeForm(FlaskForm):
    first = SelectField("Participant", validators=[DataRequired()])
    second = SelectField("Meets", validators=[DataRequired()])
    message = TextAreaField("Message", validators=[Optional(), Length(max=MAX_MESSAGE)])
    must_meet = BooleanField("Must meet")


class AnswerForm(FlaskForm):
    answer = RadioField(
        "Answer",
        choices=[SelectChoice("accept", "Accept"), SelectChoice("decline", "Decline")],
        validators=[InputRequired(message="Accept or decline.")],
    )
    reason = TextAreaField(
        "Reason (only trade staff see it)", validators=[Optional(), Length(max=MAX_MESSAGE)]
    )


class MustMeetForm(FlaskForm):
    must_meet = BooleanField("Must meet")


class ConfirmForm(FlaskForm):
    """A button that only needs its CSRF token (withdraw, cancel, publish)."""


class ScheduleForm(FlaskForm):
    replan = BooleanField("Plan published meetings again too")


class MoveForm(FlaskForm):
    slot = IntegerField("Slot", validators=[InputRequired(message="Choose a slot.")])
    # "online", or a table number.
    place = StringField("Table", validators=[DataRequired(message="Choose a table or online.")])
