"""Mail speaks its recipient's language, whoever caused it and whatever page they read."""

from __future__ import annotations

from flask import Flask
from flask_babel import force_locale, gettext

from portal.accounts.models import Role
from portal.accounts.services import create_user, send_confirmation_mail
from portal.extensions import db
from portal.mail.models import OutboxMessage


def _queued_for(email: str) -> OutboxMessage:
    message = db.session.query(OutboxMessage).filter_by(recipient=email).one()
    return message


def test_mail_is_written_in_the_recipients_language(app: Flask) -> None:
    thai = create_user(
        "somchai@city.example", "correct horse battery", Role.BUYER, full_name="Somchai"
    )
    thai.locale = "th"
    english = create_user(
        "ada@vendor.example", "correct horse battery", Role.VENDOR, full_name="Ada"
    )
    db.session.flush()

    # Queued while a page is being read in Vietnamese: the reader's language never leaks.
    with app.test_request_context("/", headers={"Accept-Language": "vi"}):
        send_confirmation_mail(thai)
        send_confirmation_mail(english)
        # What the shipped Thai catalog says for the same messages, whatever its wording.
        with force_locale("th"):
            thai_subject = gettext("Confirm your email address")
            thai_greeting = gettext("Hello %(full_name)s,", full_name="Somchai")

    assert thai_subject != "Confirm your email address"
    assert thai_greeting != "Hello Somchai,"
    to_thai = _queued_for("somchai@city.example")
    assert to_thai.subject == thai_subject
    assert to_thai.body_text.startswith(thai_greeting)
    to_english = _queued_for("ada@vendor.example")
    assert to_english.subject == "Confirm your email address"
    assert to_english.body_text.startswith("Hello Ada,")
