"""Times shown in the viewer's own zone: ``{{ when|localtime }}`` and ``{{ when|localdate }}``.

Times are stored in UTC (``portal.db.UTCDateTime``). A page shows them in the logged-in
member's ``User.timezone``; an anonymous visitor sees UTC. A mail is rendered for its
recipient: ``queue_mail`` puts the recipient's zone in the template context as
``mail_timezone``, which wins over whoever is logged in while the mail is queued.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from flask import Flask, has_request_context
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context

UTC_ZONE = zoneinfo.ZoneInfo("UTC")


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The zone called ``name``, or UTC for an empty or unknown name."""
    if not name:
        return UTC_ZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC_ZONE


def viewer_zone(context: Context | dict[str, Any] | None = None) -> zoneinfo.ZoneInfo:
    """The mail recipient's zone if rendering a mail, else the logged-in user's, else UTC."""
    if context is not None and context.get("mail_timezone"):
        return zone(context.get("mail_timezone"))
    if has_request_context() and current_user.is_authenticated:
        return zone(getattr(current_user, "timezone", None))
    return UTC_ZONE


def to_local(value: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    if value.tzinfo is None:  # never stored so, but a naive value is read as UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(tz)


def format_local(value: dt.datetime | None, tz: zoneinfo.ZoneInfo) -> str:
    """'2026-03-02 08:30 +07': the date, the time and the zone's abbreviation."""
    if value is None:
        return ""
    local = to_local(value, tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def format_local_date(value: dt.datetime | dt.date | None, tz: zoneinfo.ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return to_local(value, tz).date().isoformat()
    return value.isoformat()  # a plain date has no zone to convert from


@pass_context
def localtime_filter(context: Context, value: dt.datetime | None) -> str:
    """The time in the reader's zone, written as the reader's locale writes it."""
    from portal.i18n.formatting import localized_datetime

    if value is None:
        return ""
    return localized_datetime(to_local(value, viewer_zone(context)))


@pass_context
def localdate_filter(context: Context, value: dt.datetime | dt.date | None) -> str:
    from portal.i18n.formatting import localized_date

    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = to_local(value, viewer_zone(context)).date()
    return localized_date(value)


def register_filters(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = localtime_filter
    app.jinja_env.filters["localdate"] = localdate_filter
