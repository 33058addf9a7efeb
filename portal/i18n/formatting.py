"""Dates and numbers in the reader's locale, and the template helpers of the switch.

English keeps the portal's own compact forms (``2026-03-02 08:30 +07``), which members
and tests already read; every other locale gets Babel's CLDR forms for it (Thai dates
say มี.ค., Vietnamese ones "thg 3"), in the reader's time zone as before.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_decimal
from flask import Flask, has_request_context, request
from flask_babel import get_locale
from jinja2 import pass_context
from jinja2.runtime import Context

from portal.i18n.locales import DEFAULT_LOCALE, LOCALES


def current_locale() -> Locale:
    """The locale being rendered: the request's, or the one a mail forces."""
    return get_locale() or Locale.parse(DEFAULT_LOCALE)


def locale_tag(locale: Locale | None = None) -> str:
    """The BCP 47 tag for ``<html lang>``: ``en``, ``vi``, ``th``, ``id``, ``ms``, ``fil``."""
    locale = locale or current_locale()
    return "-".join(part for part in (locale.language, locale.script, locale.territory) if part)


def is_english(locale: Locale | None = None) -> bool:
    return (locale or current_locale()).language == DEFAULT_LOCALE


def localized_datetime(local: dt.datetime, locale: Locale | None = None) -> str:
    """A local time as the locale writes a date and a time, with the zone's abbreviation."""
    locale = locale or current_locale()
    if is_english(locale):
        return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
    day = format_date(local.date(), format="medium", locale=locale)
    return f"{day} {format_time(local, format='short', locale=locale)} {local.tzname()}"


def wall_time(local: dt.datetime, locale: Locale | None = None) -> str:
    """A time as the clock where it happens shows it (an event's slot in the event's own
    zone, not the reader's), written as the locale writes a date and a time; English keeps
    ``2027-03-09 09:00``. The page says which zone (the grid: "times in Asia/Bangkok")."""
    locale = locale or current_locale()
    if is_english(locale):
        return f"{local:%Y-%m-%d %H:%M}"
    day = format_date(local.date(), format="medium", locale=locale)
    return f"{day} {format_time(local, format='short', locale=locale)}"


def wall_time_span(start: dt.datetime, end: dt.datetime, locale: Locale | None = None) -> str:
    """A slot: its start as ``wall_time`` writes it, an en dash, then the time it ends
    (``2027-03-09 09:00``, dash, ``09:30`` in English)."""
    locale = locale or current_locale()
    if is_english(locale):
        until = f"{end:%H:%M}"
    else:
        until = format_time(end, format="short", locale=locale)
    return f"{wall_time(start, locale)}\N{EN DASH}{until}"


def long_date(value: dt.date | dt.datetime, locale: Locale | None = None) -> str:
    """A day with its weekday and month named in the locale, for a heading or a mail
    ("Thứ Ba, 9 tháng 3, 2027", "วันอังคารที่ 9 มีนาคม ค.ศ. 2027"); English keeps
    "Tuesday 09 March 2027". A datetime is taken on its own clock, never moved to the
    reader's zone: an agenda's days are the days of the zone it says its times are in."""
    locale = locale or current_locale()
    if isinstance(value, dt.datetime):
        value = value.date()
    if is_english(locale):
        return f"{value:%A %d %B %Y}"
    return format_date(value, format="full", locale=locale)


def localized_date(value: dt.date, locale: Locale | None = None) -> str:
    locale = locale or current_locale()
    if is_english(locale):
        return value.isoformat()
    return format_date(value, format="medium", locale=locale)


def date_filter(value: dt.date | dt.datetime | None, format: str = "medium") -> str:
    """``{{ day|format_date }}``: Babel's date in the locale (``long``, ``short`` too)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    return format_date(value, format=format, locale=current_locale())


@pass_context
def datetime_filter(context: Context, value: dt.datetime | None, format: str = "medium") -> str:
    """``{{ when|format_datetime }}``: date and time in the locale, in the reader's zone."""
    from portal.timezones import to_local, viewer_zone

    if value is None:
        return ""
    local = to_local(value, viewer_zone(context))
    locale = current_locale()
    day = format_date(local.date(), format=format, locale=locale)
    return f"{day} {format_time(local, format='short', locale=locale)} {local.tzname()}"


def number_filter(value: int | float | Decimal | None, digits: int | None = None) -> str:
    """``{{ amount|format_number }}``: digit grouping and decimal sign of the locale."""
    if value is None:
        return ""
    pattern = None
    if digits is not None:
        pattern = "#,##0." + "0" * digits if digits > 0 else "#,##0"
    return format_decimal(value, format=pattern, locale=current_locale())


def language_switch_context() -> dict[str, Any]:
    """What the switch in the page footer shows: every locale, the current one, the page."""
    return {
        "LANGUAGES": LOCALES,
        "current_locale_code": str(current_locale()),
        # A mail rendered by the worker has no request, and no switch to show.
        "language_return_to": return_path() if has_request_context() else "/",
    }


def return_path() -> str:
    """This page, for the switch to come back to, with the query the page links keep:
    no ``next`` (an address given to the login page, never echoed into a page unchecked)
    and none of url_for's own ``_`` keywords."""
    query = [
        (key, value)
        for key, value in request.args.items(multi=True)
        if key != "next" and not key.startswith("_")
    ]
    return f"{request.path}?{urlencode(query)}" if query else request.path


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["format_date"] = date_filter
    app.jinja_env.filters["format_datetime"] = datetime_filter
    app.jinja_env.filters["format_number"] = number_filter
    # An event's slot times on its own clock, in the reader's locale: {{ slot.start|walltime }},
    # {{ slot.start|walltime_span(slot.end) }}.
    app.jinja_env.filters["walltime"] = wall_time
    app.jinja_env.filters["walltime_span"] = wall_time_span
    # A day heading with weekday and month named: {{ day|longdate }}.
    app.jinja_env.filters["longdate"] = long_date
    app.jinja_env.globals["html_lang"] = locale_tag
    app.context_processor(language_switch_context)
