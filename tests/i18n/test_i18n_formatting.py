"""Dates and numbers in the reader's locale; English keeps the portal's compact forms."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Flask, render_template_string
from flask_babel import force_locale

from portal.i18n.lazy import lazy_gettext

WHEN = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)


def render(app: Flask, source: str, locale: str, **context: object) -> str:
    with app.test_request_context("/"), force_locale(locale):
        return render_template_string(source, **context)


def test_dates_follow_the_locale(app: Flask) -> None:
    day = dt.date(2026, 3, 2)
    source = "{{ day|localdate }}|{{ day|format_date('long') }}"

    assert render(app, source, "en", day=day) == "2026-03-02|March 2, 2026"
    thai = render(app, source, "th", day=day)
    assert "มี.ค." in thai and "มีนาคม" in thai
    assert render(app, source, "vi", day=day).startswith("2 thg 3, 2026|")
    assert "Marso" in render(app, source, "fil", day=day)


def test_times_are_in_the_readers_zone_and_the_locales_words(app: Flask) -> None:
    # An anonymous reader sees UTC; a mail's zone wins when given.
    assert render(app, "{{ when|localtime }}", "en", when=WHEN) == "2026-03-02 01:30 UTC"
    bangkok = render(app, "{{ when|localtime }}", "th", when=WHEN, mail_timezone="Asia/Bangkok")
    assert bangkok == "2 มี.ค. 2026 08:30 น. +07"  # CLDR: Thai times end in น.


def test_an_events_slot_is_on_its_own_clock_in_the_locales_words(app: Flask) -> None:
    """A meeting slot keeps the event's zone (whoever reads it), written as the locale
    writes a date and a time; English keeps the compact form."""
    start = dt.datetime(2027, 3, 9, 9, 0, tzinfo=ZoneInfo("Asia/Bangkok"))
    end = start + dt.timedelta(minutes=20)
    source = "{{ start|walltime }}|{{ start|walltime_span(end) }}"

    assert render(app, source, "en", start=start, end=end) == (
        "2027-03-09 09:00|2027-03-09 09:00\N{EN DASH}09:20"
    )
    assert render(app, source, "th", start=start, end=end) == (
        "9 มี.ค. 2027 09:00 น.|9 มี.ค. 2027 09:00 น.\N{EN DASH}09:20 น."
    )
    assert render(app, source, "vi", start=start, end=end) == (
        "9 thg 3, 2027 09:00|9 thg 3, 2027 09:00\N{EN DASH}09:20"
    )
    assert render(app, source, "id", start=start, end=end).endswith("09.00\N{EN DASH}09.20")


def test_numbers_group_digits_as_the_locale_does(app: Flask) -> None:
    source = "{{ amount|format_number }} {{ share|format_number(1) }}"

    assert render(app, source, "en", amount=1234567, share=0.25) == "1,234,567 0.2"
    assert render(app, source, "id", amount=1234567, share=0.25) == "1.234.567 0,2"
    assert render(app, source, "vi", amount=1234567, share=0.25) == "1.234.567 0,2"


def test_the_html_lang_of_filipino_is_its_bcp47_tag(app: Flask) -> None:
    assert render(app, "{{ html_lang() }}", "fil") == "fil"
    assert render(app, "{{ html_lang() }}", "en") == "en"


def test_a_lazy_message_is_escaped_like_any_text(app: Flask) -> None:
    """Flask-Babel's lazy string passes for safe HTML; ours is escaped with what it holds."""
    message = lazy_gettext("%(name)s was rejected; its members were told why.", name="<b>X</b>")

    assert render(app, "{{ m }}", "en", m=message) == (
        "&lt;b&gt;X&lt;/b&gt; was rejected; its members were told why."
    )
