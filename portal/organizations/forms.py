"""Forms for an organization's profile, capabilities and contacts, and staff decisions.

Forms check input only; rules that need the database or the organization's state live in
``portal.organizations.services``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import URL, DataRequired, Email, Length, Optional

from portal.i18n.lazy import lazy_gettext
from portal.organizations.models import Organization
from portal.request_input import MAX_PAGE
from portal.vocab import ASEAN_COUNTRIES, ASEAN_COUNTRY_LABELS, SECTOR_LABELS, SECTORS

# Sectors grouped under their ASEAN Smart Cities Network focal area, as in the vocabulary.
SECTOR_CHOICES = [
    SelectChoice(code, SECTOR_LABELS[code], optgroup=sector.focal_area.capitalize())
    for code, sector in SECTORS.items()
]
COUNTRY_CHOICES = [SelectChoice(code, name) for code, name in ASEAN_COUNTRY_LABELS.items()]


class ProfileForm(FlaskForm):
    name = StringField(lazy_gettext("Name"), validators=[DataRequired(), Length(max=200)])
    city = StringField(lazy_gettext("City"), validators=[Optional(), Length(max=120)])
    website = StringField(
        lazy_gettext("Website"),
        validators=[
            Optional(),
            Length(max=500),
            URL(
                require_tld=False,
                message=lazy_gettext("Enter a web address starting with http:// or https://."),
            ),
        ],
    )
    summary = TextAreaField(
        lazy_gettext("What your organization does"), validators=[Optional(), Length(max=5000)]
    )
    sectors = SelectMultipleField(
        lazy_gettext("Sectors"), choices=SECTOR_CHOICES, validators=[Optional()]
    )
    markets = SelectMultipleField(
        lazy_gettext("ASEAN markets you serve or want to enter"),
        choices=COUNTRY_CHOICES,
        validators=[Optional()],
    )
    country = SelectField(lazy_gettext("Country"), choices=COUNTRY_CHOICES)
    # The version the form was opened on, so a save over someone else's is refused.
    version = HiddenField()


def profile_form_for(organization: Organization, **kwargs: Any) -> ProfileForm:
    """The profile form for this kind: vendors choose markets, buyers their country."""
    form = ProfileForm(obj=organization, **kwargs)
    if organization.is_vendor:
        del form.country
    else:
        del form.markets
    return form


class CapabilityForm(FlaskForm):
    title = StringField(lazy_gettext("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(
        lazy_gettext("Description"), validators=[Optional(), Length(max=5000)]
    )
    sectors = SelectMultipleField(
        lazy_gettext("Sectors"), choices=SECTOR_CHOICES, validators=[Optional()]
    )
    version = HiddenField()  # when editing: see ProfileForm.version; empty when adding


class ContactForm(FlaskForm):
    name = StringField(lazy_gettext("Name"), validators=[DataRequired(), Length(max=200)])
    title = StringField(lazy_gettext("Job title"), validators=[Optional(), Length(max=200)])
    email = StringField(lazy_gettext("Email"), validators=[Optional(), Length(max=254), Email()])
    phone = StringField(lazy_gettext("Phone"), validators=[Optional(), Length(max=64)])
    version = HiddenField()  # when editing: see ProfileForm.version; empty when adding


class ConfirmForm(FlaskForm):
    """A button that changes something: just the CSRF token."""


class RejectForm(FlaskForm):
    reason = TextAreaField(
        lazy_gettext("Reason for rejection"),
        validators=[
            DataRequired(message=lazy_gettext("Give the reason, so the organization can fix it."))
        ],
    )


def reject_form_for(organization: Organization, **kwargs: Any) -> RejectForm:
    """A reject form whose field id is unique on a page that lists many organizations."""
    form = RejectForm(**kwargs)
    form.reason.id = f"reason-{organization.id}"
    form.reason.label.field_id = form.reason.id
    return form


# --- the directory's query string ------------------------------------------------------


@dataclass
class DirectoryFilters:
    """What a directory page was asked for; unknown codes are dropped with a warning."""

    sector: str | None = None
    country: str | None = None
    q: str | None = None
    page: int = 1
    warnings: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.sector or self.country or self.q)


def read_directory_filters(args: Mapping[str, str], country_param: str) -> DirectoryFilters:
    """Read ``sector``, the country filter (``country`` or ``market``), ``q`` and ``page``.

    A bad value never fails the page: it is ignored, and the reader is told why.
    """
    filters = DirectoryFilters()
    sector = (args.get("sector") or "").strip()
    if sector in SECTORS:
        filters.sector = sector
    elif sector:
        filters.warnings.append(
            gettext("There is no sector “%(value)s”; showing all sectors.", value=sector[:40])
        )
    country = (args.get(country_param) or "").strip().upper()
    if country in ASEAN_COUNTRIES:
        filters.country = country
    elif country:
        filters.warnings.append(
            gettext(
                "“%(value)s” is not an ASEAN country code; showing all countries.",
                value=country[:40],
            )
        )
    filters.q = (args.get("q") or "").strip()[:200] or None
    page = (args.get("page") or "1").strip()
    is_number = page.isascii() and page.isdigit() and len(page) <= 9
    filters.page = min(max(int(page), 1), MAX_PAGE) if is_number else 1
    return filters
