"""Forms of the webhook pages: input shape only; the URL rules live in the services."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectMultipleField, StringField, widgets
from wtforms.validators import InputRequired, Length, Optional

from portal.webhooks.models import EVENT_LABELS
from portal.webhooks.services import DESCRIPTION_LENGTH, URL_LENGTH


class CheckboxesField(SelectMultipleField):
    """A list of checkboxes that submits the values checked."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class EndpointForm(FlaskForm):
    url = StringField(
        "Endpoint URL",
        validators=[
            InputRequired(message="Give the URL the events are sent to."),
            Length(max=URL_LENGTH),
        ],
    )
    description = StringField(
        "Description (for your team)", validators=[Optional(), Length(max=DESCRIPTION_LENGTH)]
    )
    events = CheckboxesField(
        "Events to receive",
        choices=[
            SelectChoice(event.value, f"{event.value}: {label}")
            for event, label in EVENT_LABELS.items()
        ],
        validators=[InputRequired(message="Choose at least one event to receive.")],
    )


class ConfirmForm(FlaskForm):
    """A POST button (delete, rotate, pause, test): the CSRF token is its only field."""
