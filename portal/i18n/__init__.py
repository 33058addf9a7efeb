"""The interface in the member's language: which locale a request gets, and the catalogs.

A request speaks the member's own setting (``User.locale``), else the language an
anonymous visitor chose with the switch (kept in the session), else the best match of the
browser's ``Accept-Language`` among the shipped locales, else English. Mail is rendered in
its recipient's setting, or English (``portal.mail.services.queue_mail``).
"""

from __future__ import annotations

from flask import Flask

from portal.i18n.locales import DEFAULT_LOCALE, LOCALES, is_shipped

__all__ = ["DEFAULT_LOCALE", "LOCALES", "is_shipped", "register_i18n"]


def register_i18n(app: Flask) -> None:
    """Flask-Babel with our locale selector, fresh compiled catalogs, the template helpers."""
    from flask_babel import Babel

    from portal.i18n.catalogs import TRANSLATIONS_DIR, compile_stale_catalogs
    from portal.i18n.formatting import register_template_helpers
    from portal.i18n.negotiation import select_locale

    compile_stale_catalogs(TRANSLATIONS_DIR)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    # WTForms' own messages ("Invalid email address.", "Not a valid choice.") follow the
    # request's locale through Flask-WTF, which asks Flask-Babel.
    app.config.setdefault("WTF_I18N_ENABLED", True)
    Babel(app, locale_selector=select_locale)
    register_template_helpers(app)
