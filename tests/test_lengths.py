"""Forms and the columns they fill agree on lengths: nothing a form accepts is too long
for its column (which PostgreSQL refuses with a 500, where SQLite stores it anyway).

The one composite that is not typed in a form, the mail subject made of two names, is cut
to its column when queued (tests/mail/test_mail_bad_records.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from wtforms.validators import Length

from portal.accounts import forms as account_forms
from portal.accounts.models import User
from portal.introductions import forms as introduction_forms
from portal.matching import forms as matching_forms
from portal.matching.models import LeadDismissal
from portal.needs import forms as need_forms
from portal.needs.models import Need
from portal.organizations import forms as organization_forms
from portal.organizations.models import Capability, Contact, Organization

# (form class, field, the column the field's value is written to or looked up in)
FIELDS: list[tuple[type, str, Any]] = [
    (account_forms.RegistrationForm, "full_name", User.full_name),
    (account_forms.RegistrationForm, "email", User.email),
    (account_forms.RegistrationForm, "organization_name", Organization.name),
    (account_forms.RegistrationForm, "city", Organization.city),
    (account_forms.ProfileForm, "full_name", User.full_name),
    (account_forms.EmailOnlyForm, "email", User.email),
    (organization_forms.ProfileForm, "name", Organization.name),
    (organization_forms.ProfileForm, "city", Organization.city),
    (organization_forms.ProfileForm, "website", Organization.website),
    (organization_forms.CapabilityForm, "title", Capability.title),
    (organization_forms.ContactForm, "name", Contact.name),
    (organization_forms.ContactForm, "title", Contact.title),
    (organization_forms.ContactForm, "email", Contact.email),
    (organization_forms.ContactForm, "phone", Contact.phone),
    (need_forms.NeedForm, "title", Need.title),
    (introduction_forms.ProposeForm, "vendor", Organization.ref),
    (introduction_forms.ProposeForm, "buyer", Organization.ref),
    (introduction_forms.ProposeForm, "need", Need.ref),
    (matching_forms.DismissLeadForm, "note", LeadDismissal.note),
]


@pytest.mark.parametrize(
    ("form_class", "name", "column"),
    FIELDS,
    ids=[f"{form.__name__}.{name}" for form, name, _ in FIELDS],
)
def test_a_form_accepts_nothing_longer_than_its_column(
    app: Flask, form_class: type, name: str, column: Any
) -> None:
    with app.test_request_context():
        field = getattr(form_class(meta={"csrf": False}), name)
    limits = [v.max for v in field.validators if isinstance(v, Length) and v.max != -1]
    assert limits, f"{form_class.__name__}.{name} has no maximum length"
    assert max(limits) <= column.type.length, f"{form_class.__name__}.{name}"
