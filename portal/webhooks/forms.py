"""Forms of the webhook pages: input shape only; the URL rules live in the services."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectMultipleField, StringField, widgets
from wtforms.validators import InputRequired, Length, Optional

from portal.i18n.lazy import LazyText, lazy_gettext
from portal.webhooks.models import EVENT_LABELS
from portal.webhooks.services import DESCRIPTION_LENGTH, URL_LENGTH


class CheckboxesField(SelectMultipleField):
    """A list of checkboxes that submits the values checked."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class EndpointForm(FlaskForm):
    url = StringField(
        lazy_gettext("Endpoint URL"),
        validators=[
            InputRequired(message=lazy_gettext("Give the URL the events are sent to.")),
            Length(max=URL_LENGTH),
        ],
    )
    description = StringField(
        lazy_gettext("Description (for your team)"),
        validators=[Optional(), Length(max=DESCRIPTION_LENGTH)],
    )
    events = CheckboxesField(
        lazy_gettext("Events to receive"),
        choices=[
            SelectChoice(event.value, LazyText("{}: {}".format, event.value, label))
            for event, label in EVENT_LABELS.items()
        ],
        validators=[InputRequired(message=lazy_gettext("Choose at least one event to receive."))],
    )


class ConfirmForm(FlaskForm):
    """A POST button (delete, rotate, pause, test): the CSRF token is its only field."""
