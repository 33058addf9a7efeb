"""The form that makes a personal API token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from portal.api.tokens import MAX_NAME
from portal.i18n.lazy import lazy_gettext


class NewTokenForm(FlaskForm):
    name = StringField(
        lazy_gettext("Name"),
        validators=[
            DataRequired(
                message=lazy_gettext("Give the token a name, to know later what uses it.")
            ),
            Length(max=MAX_NAME),
        ],
    )
