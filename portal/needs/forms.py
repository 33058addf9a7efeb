"""The form a buyer fills in to post or edit a need."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from portal.i18n.lazy import lazy_gettext
from portal.languages.detect import LANGUAGE_NAMES
from portal.needs.services import MAX_BUDGET, MAX_DESCRIPTION, MAX_TITLE
from portal.organizations.forms import SECTOR_CHOICES
from portal.vocab import DEFAULT_NOTICE, FUNDING_SOURCES, FUNDING_STAGES, NOTICE_TYPES

_BUDGET_MESSAGE = f"Enter a whole number of dollars from 0 to {MAX_BUDGET:,}."


def _none_as_empty(value: str | None) -> str:
    return value or ""


def _optional_choices(labels: dict[str, str]) -> list[SelectChoice]:
    """An empty "Not stated" choice, then each code with its label."""
    return [
        SelectChoice("", lazy_gettext("Not stated")),
        *(SelectChoice(c, t) for c, t in labels.items()),
    ]


class NeedForm(FlaskForm):
    title = StringField(lazy_gettext("Title"), validators=[DataRequired(), Length(max=MAX_TITLE)])
    description = TextAreaField(
        lazy_gettext("The problem, in your words"),
        validators=[Optional(), Length(max=MAX_DESCRIPTION)],
    )
    sectors = SelectMultipleField(
        lazy_gettext("Sectors"), choices=SECTOR_CHOICES, validators=[Optional()]
    )
    budget_min = IntegerField(
        lazy_gettext("Budget from (USD)"),
        validators=[Optional(), NumberRange(min=0, max=MAX_BUDGET, message=_BUDGET_MESSAGE)],
    )
    budget_max = IntegerField(
        lazy_gettext("Budget up to (USD)"),
        validators=[Optional(), NumberRange(min=0, max=MAX_BUDGET, message=_BUDGET_MESSAGE)],
    )
    closes_on = DateField(lazy_gettext("Closing date"), validators=[Optional()])
    notice = SelectField(
        lazy_gettext("Notice type"),
        choices=[SelectChoice(code, label) for code, label in NOTICE_TYPES.items()],
        default=DEFAULT_NOTICE,
    )
    # Empty means "not stated", both ways: a need's None shows as the empty choice (or
    # WTForms would find no choice selected and refuse it), and the view sends None.
    funding_source = SelectField(
        lazy_gettext("Funding source"),
        choices=_optional_choices(FUNDING_SOURCES),
        default="",
        filters=[_none_as_empty],
    )
    funding_stage = SelectField(
        lazy_gettext("Funding stage"),
        choices=_optional_choices(FUNDING_STAGES),
        default="",
        filters=[_none_as_empty],
    )
    # When editing, the version the form was opened on (``portal.versioning``); empty
    # when posting a new need.
    version = HiddenField()

    # A budget is a range in the exchange format, so half of one could not be exported.
    # (An empty field stops its own validators, so each side checks for the other.)
    def validate_budget_min(self, field: IntegerField) -> None:
        if field.data is not None and self.budget_max.data is None:
            raise ValidationError(
                lazy_gettext("Give both a minimum and a maximum budget, or neither.")
            )

    def validate_budget_max(self, field: IntegerField) -> None:
        low = self.budget_min.data
        if field.data is not None and low is None and not self.budget_min.errors:
            raise ValidationError(
                lazy_gettext("Give both a minimum and a maximum budget, or neither.")
            )
        if field.data is not None and low is not None and field.data < low:
            raise ValidationError(lazy_gettext("The maximum must not be below the minimum."))

    # Funding is one {source, stage} pair in the exchange format: both or neither. The
    # error goes beside the field left empty.
    def validate_funding_stage(self, field: SelectField) -> None:
        if self.funding_source.data and not field.data:
            raise ValidationError(
                lazy_gettext("Choose the funding stage too, or leave both empty.")
            )

    def validate_funding_source(self, field: SelectField) -> None:
        if self.funding_stage.data and not field.data:
            raise ValidationError(
                lazy_gettext("Choose the funding source too, or leave both empty.")
            )


@dataclass
class NoticeFilters:
    """The needs directory's notice type and funding filters; unknown codes are dropped
    with a warning, as the sector and country filters are."""

    notice: str | None = None
    funding_source: str | None = None
    funding_stage: str | None = None
    language: str | None = None  # portal.languages.detect.LANGUAGE_NAMES
    warnings: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.notice or self.funding_source or self.funding_stage or self.language)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> NoticeFilters:
        filters = cls()
        for name, allowed, warning in (
            (
                "notice",
                NOTICE_TYPES,
                lazy_gettext("There is no notice type “%(value)s”; showing all."),
            ),
            (
                "funding_source",
                FUNDING_SOURCES,
                lazy_gettext("There is no funding source “%(value)s”; showing all."),
            ),
            (
                "funding_stage",
                FUNDING_STAGES,
                lazy_gettext("There is no funding stage “%(value)s”; showing all."),
            ),
            (
                "language",
                LANGUAGE_NAMES,
                lazy_gettext("There is no language “%(value)s”; showing all."),
            ),
        ):
            value = (args.get(name) or "").strip()
            if value in allowed:
                setattr(filters, name, value)
            elif value:
                filters.warnings.append(str(warning) % {"value": value[:40]})
        return filters
