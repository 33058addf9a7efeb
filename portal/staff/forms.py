"""The dashboard's filters: a GET form (no CSRF token: it changes nothing)."""

from __future__ import annotations

from wtforms import Form, SelectChoice, SelectField
from wtforms.fields import DateField
from wtforms.validators import Optional, ValidationError

from portal.i18n.lazy import lazy_gettext
from portal.introductions.models import IntroState
from portal.vocab import ASEAN_COUNTRY_LABELS, SECTOR_LABELS


class DashboardFilterForm(Form):
    date_from = DateField(lazy_gettext("Requested from"), validators=[Optional()])
    date_to = DateField(lazy_gettext("Requested until"), validators=[Optional()])
    sector = SelectField(
        lazy_gettext("Sector"),
        default="",
        choices=[SelectChoice("", lazy_gettext("All sectors"))]
        + [SelectChoice(code, label) for code, label in SECTOR_LABELS.items()],
    )
    country = SelectField(
        lazy_gettext("Buyer country"),
        default="",
        choices=[SelectChoice("", lazy_gettext("All countries"))]
        + [SelectChoice(code, name) for code, name in ASEAN_COUNTRY_LABELS.items()],
    )
    state = SelectField(
        lazy_gettext("State"),
        default="",
        choices=[SelectChoice("", lazy_gettext("All states"))]
        + [SelectChoice(state.value, state.label) for state in IntroState],
    )

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(lazy_gettext("The end date must not be before the start date."))
