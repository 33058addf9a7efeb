"""The notification settings form: how often we write, and whether optional mail goes."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice
from wtforms.validators import InputRequired

from portal.i18n.lazy import lazy_gettext
from portal.notifications.models import MailMode


class PreferencesForm(FlaskForm):
    mode = RadioField(
        lazy_gettext("How should we send you news?"),
        choices=[
            SelectChoice(
                MailMode.IMMEDIATE.value,
                (
                    lazy_gettext(
                        "Immediately: each introduction step at once, new leads as they appear"
                    )
                ),
            ),
            SelectChoice(
                MailMode.DIGEST.value,
                lazy_gettext("A weekly digest of new leads and pending actions"),
            ),
        ],
        validators=[
            InputRequired(message=lazy_gettext("Choose immediate mail or the weekly digest."))
        ],
    )
    optional_mail = BooleanField(
        lazy_gettext("Send me optional mail (digests, lead mail, reminders)")
    )


class ConfirmForm(FlaskForm):
    """A POST button, so link scanners that follow a mail's links change nothing."""
