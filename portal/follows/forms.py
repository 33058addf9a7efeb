"""Forms for following needs and saving searches. They check input only; the rules (names
unique per member, at least one word or filter) are in ``portal.follows.services``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.follows.models import Frequency
from portal.follows.services import MAX_NAME, MAX_WORDS, SearchCriteria
from portal.i18n.lazy import lazy_gettext
from portal.languages.detect import LANGUAGE_LABELS, LANGUAGE_NAMES
from portal.needs.services import MAX_BUDGET
from portal.organizations.forms import SECTOR_CHOICES
from portal.vocab import (
    ASEAN_COUNTRIES,
    ASEAN_COUNTRY_LABELS,
    FUNDING_SOURCE_LABELS,
    FUNDING_SOURCES,
    FUNDING_STAGE_LABELS,
    FUNDING_STAGES,
    NOTICE_LABELS,
    NOTICE_TYPES,
    SECTORS,
)

_BUDGET_MESSAGE = f"Enter a whole number of dollars from 0 to {MAX_BUDGET:,}."
_ANY = SelectChoice("", lazy_gettext("Any"))
FACET_CHOICES: dict[str, Mapping[str, str]] = {
    "sector": SECTORS,
    "country": ASEAN_COUNTRIES,
    "notice": NOTICE_TYPES,
    "funding_source": FUNDING_SOURCES,
    "funding_stage": FUNDING_STAGES,
    "language": LANGUAGE_NAMES,
}


def _choices(labels: Mapping[str, Any]) -> list[SelectChoice]:
    return [SelectChoice(code, label) for code, label in labels.items()]


class ConfirmForm(FlaskForm):
    """A POST button (follow, unfollow, pause, delete, a new calendar URL): CSRF only."""


class SavedSearchForm(FlaskForm):
    name = StringField(
        lazy_gettext("Name"),
        validators=[
            DataRequired(message=lazy_gettext("Give the search a name.")),
            Length(max=MAX_NAME),
        ],
    )
    words = StringField(
        lazy_gettext("Words (matched as the search page matches them)"),
        validators=[Optional(), Length(max=MAX_WORDS)],
    )
    sector = SelectField(lazy_gettext("Sector"), choices=[_ANY, *SECTOR_CHOICES], default="")
    country = SelectField(
        lazy_gettext("Country"), choices=[_ANY, *_choices(ASEAN_COUNTRY_LABELS)], default=""
    )
    notice = SelectField(
        lazy_gettext("Notice type"), choices=[_ANY, *_choices(NOTICE_LABELS)], default=""
    )
    funding_source = SelectField(
        lazy_gettext("Funding source"), choices=[_ANY, *_choices(FUNDING_SOURCE_LABELS)], default=""
    )
    funding_stage = SelectField(
        lazy_gettext("Funding stage"), choices=[_ANY, *_choices(FUNDING_STAGE_LABELS)], default=""
    )
    language = SelectField(
        lazy_gettext("Written in"), choices=[_ANY, *_choices(LANGUAGE_LABELS)], default=""
    )
    budget_min = IntegerField(
        lazy_gettext("Budget from (USD)"),
        validators=[Optional(), NumberRange(min=0, max=MAX_BUDGET, message=_BUDGET_MESSAGE)],
    )
    budget_max = IntegerField(
        lazy_gettext("Budget up to (USD)"),
        validators=[Optional(), NumberRange(min=0, max=MAX_BUDGET, message=_BUDGET_MESSAGE)],
    )
    frequency = RadioField(
        lazy_gettext("Mail me new matches"),
        choices=[
            SelectChoice(
                Frequency.IMMEDIATE.value, lazy_gettext("Soon after they are published (batched)")
            ),
            SelectChoice(Frequency.WEEKLY.value, lazy_gettext("Once a week")),
        ],
        default=Frequency.IMMEDIATE.value,
        validators=[InputRequired(message=lazy_gettext("Choose immediate or weekly mail."))],
    )

    def criteria(self) -> SearchCriteria:
        def chosen(value: Any) -> str | None:
            return value or None

        return SearchCriteria(
            words=self.words.data or "",
            sector=chosen(self.sector.data),
            country=chosen(self.country.data),
            notice=chosen(self.notice.data),
            funding_source=chosen(self.funding_source.data),
            funding_stage=chosen(self.funding_stage.data),
            budget_min=self.budget_min.data,
            budget_max=self.budget_max.data,
            language=chosen(self.language.data),
        )

    def fill_from_query(self, args: Mapping[str, str]) -> None:
        """Take the search page's or needs directory's current query (``q`` and its
        filters); a value the form does not know is left out, as those pages do."""
        self.words.data = (args.get("q") or "")[:MAX_WORDS]
        for name, allowed in FACET_CHOICES.items():
            value = (args.get(name) or "").strip()
            getattr(self, name).data = value if value in allowed else ""
        for name in ("budget_min", "budget_max"):
            value = (args.get(name) or "").strip()
            getattr(self, name).data = (
                int(value) if value.isdigit() and int(value) <= MAX_BUDGET else None
            )
        if not self.name.data:
            self.name.data = (self.words.data or "My saved search")[:MAX_NAME]

    def fill_from(self, criteria: SearchCriteria) -> None:
        self.words.data = criteria.words
        for name in FACET_CHOICES:
            getattr(self, name).data = getattr(criteria, name) or ""
        self.budget_min.data = criteria.budget_min
        self.budget_max.data = criteria.budget_max
