"""The dashboard's filters: a GET form (no CSRF token: it changes nothing)."""

from __future__ import annotations

from wtforms import Form, SelectChoice, SelectField
from wtforms.fields import DateField
from wtforms.validators import Optional, ValidationError

from portal.introductions.models import IntroState
from portal.vocab import ASEAN_COUNTRIES, SECTORS, sector_short_label


class DashboardFilterForm(Form):
    date_from = DateField("Requested from", validators=[Optional()])
    date_to = DateField("Requested until", validators=[Optional()])
    sector = SelectField(
        "Sector",
        default="",
        choices=[SelectChoice("", "All sectors")]
        + [SelectChoice(code, sector_short_label(code)) for code in SECTORS],
    )
    country = SelectField(
        "Buyer country",
        default="",
        choices=[SelectChoice("", "All countries")]
        + [SelectChoice(code, name) for code, name in ASEAN_COUNTRIES.items()],
    )
    state = SelectField(
        "State",
        default="",
        choices=[SelectChoice("", "All states")]
        + [SelectChoice(state.value, state.label) for state in IntroState],
    )

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date must not be before the start date.")
