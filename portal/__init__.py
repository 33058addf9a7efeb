"""The smart-city matchmaking portal: ``create_app`` builds the Flask application."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping
from typing import Any

from flask import Flask

from portal.config import PROJECT_ROOT, load_settings


def create_app(config: Mapping[str, Any] | None = None, commands: bool = True) -> Flask:
    """Build the app: settings, extensions, blueprints, CLI and error pages; no queries.

    ``commands=False``: leave ``app.cli`` empty, for the ``portal`` command, which imports
    only the command it runs (every module imported costs each command's start).
    """
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    override = dict(config or {})
    app.config.update(load_settings(app.instance_path, needs_secret="SECRET_KEY" not in override))
    app.config.update(override)

    register_logging(app)
    register_request_input(app)
    register_extensions(app)
    register_i18n(app)
    register_blueprints(app)
    register_security(app)
    register_templates(app)
    register_side_effects(app)
    if commands:
        register_cli(app)
    from portal.errors import register_errors

    register_errors(app)
    return app


def register_logging(app: Flask) -> None:
    from portal.logs import configure_logging

    configure_logging(app)


def register_request_input(app: Flask) -> None:
    """NUL characters and out-of-range ids become 400s and 404s before any view runs."""
    from portal.request_input import register_request_input as register

    register(app)


def register_security(app: Flask) -> None:
    """Security headers, the proxy's forwarded headers, rate limits (after the blueprints)."""
    from portal.ratelimit import register_rate_limits
    from portal.security import register_security as register_headers

    register_headers(app)
    register_rate_limits(app)


def register_extensions(app: Flask) -> None:
    from flask_babel import gettext

    import portal.models  # noqa: F401 - every model registered before anything queries
    from portal.accounts.services import load_user_for_session
    from portal.extensions import csrf, db, login_manager
    from portal.i18n.locales import N_
    from portal.migrating import bind_migrate

    db.init_app(app)
    if "flask_migrate" in sys.modules:  # else `portal db` binds it when used (migrating.py)
        bind_migrate(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    # Flask-Login flashes its message through localize_callback, in the request's language.
    login_manager.login_message = N_("Please log in to see that page.")
    login_manager.localize_callback = gettext
    login_manager.login_message_category = "info"
    login_manager.user_loader(load_user_for_session)
    # Flask-Login's remember-me cookie lives as long as the session it names.
    app.config["REMEMBER_COOKIE_DURATION"] = dt.timedelta(days=app.config["PORTAL_REMEMBER_DAYS"])


def register_i18n(app: Flask) -> None:
    """The interface's language per request (portal/i18n), before any page renders."""
    from portal.i18n import register_i18n as register

    register(app)


def register_blueprints(app: Flask) -> None:
    from portal.accounts.views import bp as accounts_bp
    from portal.api.token_views import bp as api_tokens_bp
    from portal.api.views import bp as api_bp
    from portal.follows.views import bp as follows_bp
    from portal.health import bp as health_bp
    from portal.home import bp as home_bp
    from portal.i18n.views import bp as i18n_bp
    from portal.introductions.views import bp as introductions_bp
    from portal.matching.views import bp as matching_bp
    from portal.missions.agenda_views import bp as agendas_bp
    from portal.missions.views import bp as missions_bp
    from portal.needs.views import bp as needs_bp
    from portal.notices.views import bp as notices_bp
    from portal.notifications.views import bp as notifications_bp
    from portal.organizations.views import bp as organizations_bp
    from portal.search.views import bp as search_bp
    from portal.staff.views import bp as staff_bp
    from portal.webhooks.views import bp as webhooks_bp

    for blueprint in (
        home_bp,
        i18n_bp,
        accounts_bp,
        organizations_bp,
        needs_bp,
        notices_bp,
        search_bp,
        staff_bp,
        matching_bp,
        health_bp,
        introductions_bp,
        notifications_bp,
        webhooks_bp,
        missions_bp,
        agendas_bp,
        follows_bp,
        api_bp,
        api_tokens_bp,
    ):
        app.register_blueprint(blueprint)


def register_templates(app: Flask) -> None:
    from portal import vocab
    from portal.timezones import register_filters

    register_filters(app)

    app.jinja_env.filters["sector_label"] = vocab.sector_short_label
    app.jinja_env.filters["country_name"] = vocab.country_name
    app.jinja_env.filters["status_label"] = vocab.status_label
    app.jinja_env.globals.update(
        SECTORS=vocab.SECTORS,
        # Labels read in the page's language (the codes are their keys).
        ASEAN_COUNTRIES=vocab.ASEAN_COUNTRY_LABELS,
        COUNTRY_NAMES=vocab.COUNTRY_LABELS,
        NOTICE_TYPES=vocab.NOTICE_LABELS,
        FUNDING_SOURCES=vocab.FUNDING_SOURCE_LABELS,
        FUNDING_STAGES=vocab.FUNDING_STAGE_LABELS,
    )


def register_side_effects(app: Flask) -> None:
    """Work that must follow a commit: mail delivery, index events, webhook deliveries."""
    import portal.outbox  # noqa: F401 - registers the listeners that write its events
    from portal.after_response import AfterResponseMiddleware
    from portal.mail.services import register_delivery
    from portal.search.sync import register_sync
    from portal.webhooks.events import subscribe as subscribe_webhooks

    app.wsgi_app = AfterResponseMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    register_delivery(app)
    register_sync(app)
    subscribe_webhooks()  # the signal receivers that queue webhook deliveries


def register_cli(app: Flask) -> None:
    from portal.cli import register_commands

    register_commands(app)
