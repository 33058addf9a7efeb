"""Mail speaks its recipient's language, whoever caused it and whatever page they read."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from i18n_helpers import THAI, thai_catalog

from portal.accounts.models import Role
from portal.accounts.services import create_user, send_confirmation_mail
from portal.extensions import db
from portal.mail.models import OutboxMessage


def _queued_for(email: str) -> OutboxMessage:
    message = db.session.query(OutboxMessage).filter_by(recipient=email).one()
    return message


def test_mail_is_written_in_the_recipients_language(app: Flask, tmp_path: Path) -> None:
    thai = create_user(
        "somchai@city.example", "correct horse battery", Role.BUYER, full_name="Somchai"
    )
    thai.locale = "th"
    english = create_user(
        "ada@vendor.example", "correct horse battery", Role.VENDOR, full_name="Ada"
    )
    db.session.flush()

    # Queued while a page is being read in Vietnamese: the reader's language never leaks.
    with (
        thai_catalog(app, tmp_path),
        app.test_request_context("/", headers={"Accept-Language": "vi"}),
    ):
        send_confirmation_mail(thai)
        send_confirmation_mail(english)

    to_thai = _queued_for("somchai@city.example")
    assert to_thai.subject == THAI["Confirm your email address"]
    assert to_thai.body_text.startswith("สวัสดี Somchai")
    to_english = _queued_for("ada@vendor.example")
    assert to_english.subject == "Confirm your email address"
    assert to_english.body_text.startswith("Hello Ada,")
