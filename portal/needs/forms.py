"""The form a buyer fills in to post or edit a need."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from portal.needs.services import MAX_BUDGET, MAX_DESCRIPTION, MAX_TITLE
from portal.organizations.forms import SECTOR_CHOICES

_BUDGET_MESSAGE = f"Enter a whole number of dollars from 0 to {MAX_BUDGET:,}."


class NeedForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=MAX_TITLE)])
    description = TextAreaField(
        "The problem, in your words", validators=[Optional(), Length(max=MAX_DESCRIPTION)]
    )
    sectors = SelectMultipleField("Sectors", choices=SECTOR_CHOICES, validators=[Optional()])
    budget_min = IntegerField(
        "Budget from (USD)",
        validators=[Optional(), NumberRange(min=0, max=MAX_BUDGET, message=_BUDGET_MESSAGE)],
    )
    budget_max = IntegerField(
        "Budget up to (USD)",
        validators=[Optional(), NumberRange(min=0, max=MAX_BUDGET, message=_BUDGET_MESSAGE)],
    )
    closes_on = DateField("Closing date", validators=[Optional()])
    # When editing, the version the form was opened on (``portal.versioning``); empty
    # when posting a new need.
    version = HiddenField()

    # A budget is a range in the exchange format, so half of one could not be exported.
    # (An empty field stops its own validators, so each side checks for the other.)
    def validate_budget_min(self, field: IntegerField) -> None:
        if field.data is not None and self.budget_max.data is None:
            raise ValidationError("Give both a minimum and a maximum budget, or neither.")

    def validate_budget_max(self, field: IntegerField) -> None:
        low = self.budget_min.data
        if field.data is not None and low is None and not self.budget_min.errors:
            raise ValidationError("Give both a minimum and a maximum budget, or neither.")
        if field.data is not None and low is not None and field.data < low:
            raise ValidationError("The maximum must not be below the minimum.")
