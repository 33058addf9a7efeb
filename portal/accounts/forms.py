"""Account forms: they check the shape of input; rules that need the database are services'."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    ValidationError,
)

from portal.accounts.services import MIN_PASSWORD_LENGTH, TIME_ZONES, is_valid_timezone
from portal.i18n.lazy import lazy_gettext
from portal.i18n.locales import LOCALES
from portal.organizations.models import OrganizationKind
from portal.vocab import ASEAN_COUNTRIES

_email_validators = [
    DataRequired(message=lazy_gettext("Enter your email address.")),
    Email(),
    Length(max=254),
]


def _new_password_validators() -> list[Any]:
    return [
        DataRequired(message=lazy_gettext("Choose a password.")),
        Length(
            min=MIN_PASSWORD_LENGTH,
            max=200,
            message=lazy_gettext(
                "Use at least %(min_password_length)s characters.",
                min_password_length=MIN_PASSWORD_LENGTH,
            ),
        ),
    ]


def _choices(labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


def _valid_timezone(form: FlaskForm, field: SelectField) -> None:
    if not is_valid_timezone(field.data or ""):
        raise ValidationError(lazy_gettext("Choose a time zone from the list."))


class TimezoneField(SelectField):
    """A select of the IANA zones our U.S. and ASEAN members live in."""

    def __init__(self, label: str = "Time zone", **kwargs: Any) -> None:
        kwargs.setdefault("validators", [InputRequired(), _valid_timezone])
        super().__init__(label, choices=_choices(TIME_ZONES), **kwargs)


class RegistrationForm(FlaskForm):
    kind = RadioField(
        lazy_gettext("I register as"),
        choices=_choices(
            {
                OrganizationKind.VENDOR.value: "A U.S. company offering smart-city solutions",
                OrganizationKind.BUYER.value: "An ASEAN city government, agency or utility",
            }
        ),
        validators=[InputRequired(message=lazy_gettext("Choose vendor or city."))],
    )
    full_name = StringField(
        lazy_gettext("Your full name"),
        validators=[DataRequired(message=lazy_gettext("Enter your name.")), Length(max=200)],
    )
    email = EmailField(lazy_gettext("Email"), validators=_email_validators)
    password = PasswordField(lazy_gettext("Password"), validators=_new_password_validators())
    password_confirm = PasswordField(
        lazy_gettext("Password again"),
        validators=[
            DataRequired(message=lazy_gettext("Repeat the password.")),
            EqualTo("password", message=lazy_gettext("The two passwords do not match.")),
        ],
    )
    organization_name = StringField(
        lazy_gettext("Organization name"),
        validators=[
            DataRequired(message=lazy_gettext("Enter your organization's name.")),
            Length(max=200),
        ],
    )
    country = SelectField(
        lazy_gettext("Country (cities only; U.S. vendors are in the United States)"),
        choices=[SelectChoice("", lazy_gettext("Choose a country")), *_choices(ASEAN_COUNTRIES)],
    )
    city = StringField(
        lazy_gettext("City"),
        validators=[DataRequired(message=lazy_gettext("Enter your city.")), Length(max=120)],
    )
    timezone = TimezoneField()

    def validate_country(self, field: SelectField) -> None:
        """Cities must name their ASEAN country; a vendor's is fixed to the United States."""
        if self.kind.data == OrganizationKind.BUYER and field.data not in ASEAN_COUNTRIES:
            raise ValidationError(lazy_gettext("Choose your city's country."))


class LoginForm(FlaskForm):
    email = EmailField(
        lazy_gettext("Email"),
        validators=[DataRequired(message=lazy_gettext("Enter your email address."))],
    )
    password = PasswordField(
        lazy_gettext("Password"),
        validators=[DataRequired(message=lazy_gettext("Enter your password."))],
    )
    remember = BooleanField(lazy_gettext("Keep me logged in on this device"))


class EmailOnlyForm(FlaskForm):
    """Asks only for an address: to resend a confirmation link or to reset a password."""

    email = EmailField(lazy_gettext("Email"), validators=_email_validators)


class LocaleField(SelectField):
    """The member's language: "as my browser asks" (stored as None), or one we ship,
    each named in its own language."""

    def __init__(self, label: Any = None, **kwargs: Any) -> None:
        choices = [SelectChoice("", lazy_gettext("As my browser asks")), *_choices(LOCALES)]
        super().__init__(label, choices=choices, **kwargs)

    def process_data(self, value: Any) -> None:
        self.data = value or ""  # None (no choice yet) is the browser's option


class ProfileForm(FlaskForm):
    full_name = StringField(
        lazy_gettext("Full name"),
        validators=[DataRequired(message=lazy_gettext("Enter your name.")), Length(max=200)],
    )
    timezone = TimezoneField()
    locale = LocaleField(lazy_gettext("Language of the portal and its mail"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        lazy_gettext("Current password"),
        validators=[DataRequired(message=lazy_gettext("Enter your current password."))],
    )
    new_password = PasswordField(
        lazy_gettext("New password"), validators=_new_password_validators()
    )
    new_password_confirm = PasswordField(
        lazy_gettext("New password again"),
        validators=[
            DataRequired(message=lazy_gettext("Repeat the new password.")),
            EqualTo("new_password", message=lazy_gettext("The two passwords do not match.")),
        ],
    )


class ResetPasswordForm(FlaskForm):
    password = PasswordField(lazy_gettext("New password"), validators=_new_password_validators())
    password_confirm = PasswordField(
        lazy_gettext("New password again"),
        validators=[
            DataRequired(message=lazy_gettext("Repeat the new password.")),
            EqualTo("password", message=lazy_gettext("The two passwords do not match.")),
        ],
    )
