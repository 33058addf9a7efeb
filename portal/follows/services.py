"""Following needs, saved searches and the followed-deadlines calendar: the rules.

Services flush and never commit. Matching a need against a saved search is the plain
function ``why_matched``: its words go through the search index's own analyser (the same
tokenising, place spellings, stop words and stemming as ``portal.search``), over the
same title and text a need is indexed with, so a saved search finds what the search page
would find. Its reasons are kept as what matched and worded for each reader when shown
(``read_reasons``); ``match_need`` words them at once.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext
from sqlalchemy.orm import selectinload

from portal.accounts.models import Role, User
from portal.cleaning import one_line
from portal.db import utc_now
from portal.extensions import db
from portal.follows.models import (
    FollowSettings,
    FollowUpdate,
    Frequency,
    NeedFollow,
    SavedSearch,
    SavedSearchMatch,
)
from portal.i18n.lazy import LazyText, lazy_gettext
from portal.ical import calendar_text, date_value, escape_text, utc_stamp
from portal.languages.detect import LANGUAGE_NAMES, language_name
from portal.mail.services import mail_link
from portal.needs.models import Need
from portal.needs.services import MAX_BUDGET, budget_range_label, can_see_need, is_public
from portal.search.queries import plain_words, word_variants
from portal.search.schema import ANALYZER, need_document
from portal.vocab import (
    ASEAN_COUNTRIES,
    FUNDING_SOURCES,
    FUNDING_STAGES,
    NOTICE_TYPES,
    SECTORS,
    country_name,
    sector_short_label,
)

MAX_NAME = 100
MAX_WORDS = 500
MAX_SAVED_SEARCHES = 50  # per member: enough for any real use, a bound on the matching
TOKEN_BYTES = 32  # 256 bits: secrets.token_urlsafe gives 43 characters
# SEQUENCE counts seconds since this instant (as the agenda feed does).
SEQUENCE_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


class FollowError(ValueError):
    """A follow or saved-search change that breaks a rule; ``field`` names the form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotAllowed(FollowError):
    """The member may not do this (a 403, not a form error)."""


# --- following -----------------------------------------------------------------------------


def may_follow(user: User | Any) -> bool:
    """Vendor members follow needs: the bidders whom deadlines and answers concern."""
    return (
        bool(getattr(user, "is_authenticated", False))
        and getattr(user, "role", None) == Role.VENDOR
        and getattr(user, "organization_id", None) is not None
    )


def follow_of(user: User | Any, need: Need) -> NeedFollow | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(
        sa.select(NeedFollow).where(NeedFollow.user_id == user.id, NeedFollow.need_id == need.id)
    )


def follow(user: User, need: Need) -> NeedFollow:
    """Follow a public need (idempotent: following twice keeps one follow)."""
    if not may_follow(user):
        raise NotAllowed(gettext("only members of a vendor organization follow needs"))
    if not is_public(need):
        raise FollowError(gettext("only open, public needs can be followed"))
    existing = follow_of(user, need)
    if existing is not None:
        return existing
    row = NeedFollow(user_id=user.id, need_id=need.id)
    db.session.add(row)
    db.session.flush()
    return row


def unfollow(user: User, need: Need) -> bool:
    """Stop following; False when the member did not follow it."""
    row = follow_of(user, need)
    if row is None:
        return False
    db.session.delete(row)
    db.session.flush()
    return True


@dataclass
class FollowedNeed:
    need: Need
    followed_at: dt.datetime
    visible: bool  # still public (or otherwise visible to the member)
    updates: list[FollowUpdate] = field(default_factory=list)


RECENT_UPDATES = 5


def followed_needs(user: User) -> list[FollowedNeed]:
    """The member's followed needs, soonest deadline first, each with its recent news."""
    rows = db.session.execute(
        sa.select(NeedFollow, Need)
        .join(Need, Need.id == NeedFollow.need_id)
        .where(NeedFollow.user_id == user.id)
        .options(selectinload(Need.buyer))
    ).all()
    updates: dict[int, list[FollowUpdate]] = {}
    for update in db.session.scalars(
        sa.select(FollowUpdate)
        .where(FollowUpdate.user_id == user.id)
        .order_by(FollowUpdate.created_at.desc(), FollowUpdate.id.desc())
    ):
        bucket = updates.setdefault(update.need_id, [])
        if len(bucket) < RECENT_UPDATES:
            bucket.append(update)
    items = [
        FollowedNeed(need, row.created_at, can_see_need(need, user), updates.get(need.id, []))
        for row, need in rows
    ]
    far = dt.date.max
    items.sort(key=lambda item: (not item.need.is_open, item.need.closes_on or far, item.need.id))
    return items


def followers_of(need: Need) -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User)
            .join(NeedFollow, NeedFollow.user_id == User.id)
            .where(NeedFollow.need_id == need.id, User.active.is_(True))
            .order_by(User.id)
        )
    )


# --- saved searches ------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchCriteria:
    """What a saved search looks for: the search page's words plus the facets."""

    words: str = ""
    sector: str | None = None
    country: str | None = None
    notice: str | None = None
    funding_source: str | None = None
    funding_stage: str | None = None
    budget_min: int | None = None
    budget_max: int | None = None
    language: str | None = None  # the need's written language (portal.languages.detect)

    @classmethod
    def of(cls, search: SavedSearch) -> SearchCriteria:
        """A saved search's columns are named as these fields are (``_criteria_columns``)."""
        return cls(**{f.name: getattr(search, f.name) for f in fields(cls)})

    @property
    def is_empty(self) -> bool:
        facets = (getattr(self, f.name) for f in fields(self) if f.name != "words")
        return not plain_words(self.words) and all(value is None for value in facets)


# A facet's value that is not one of its choices (the form offers only those).
UNKNOWN_CHOICE = {
    "sector": lazy_gettext("unknown sector"),
    "country": lazy_gettext("unknown country"),
    "notice": lazy_gettext("unknown notice type"),
    "funding_source": lazy_gettext("unknown funding source"),
    "funding_stage": lazy_gettext("unknown funding stage"),
    "language": lazy_gettext("unknown language"),
}


def checked_criteria(criteria: SearchCriteria) -> SearchCriteria:
    """The criteria with their words on one line, or FollowError beside the bad field."""
    words = one_line(criteria.words or "")
    if len(words) > MAX_WORDS:
        raise FollowError(
            gettext("the words may have at most %(max)s characters", max=MAX_WORDS), "words"
        )
    choices: tuple[tuple[str, str | None, Any], ...] = (
        ("sector", criteria.sector, SECTORS),
        ("country", criteria.country, ASEAN_COUNTRIES),
        ("notice", criteria.notice, NOTICE_TYPES),
        ("funding_source", criteria.funding_source, FUNDING_SOURCES),
        ("funding_stage", criteria.funding_stage, FUNDING_STAGES),
        ("language", criteria.language, LANGUAGE_NAMES),
    )
    for name, value, allowed in choices:
        if value is not None and value not in allowed:
            raise FollowError(str(UNKNOWN_CHOICE[name]), name)
    for name, budget in (("budget_min", criteria.budget_min), ("budget_max", criteria.budget_max)):
        if budget is not None and not 0 <= budget <= MAX_BUDGET:
            raise FollowError(
                gettext("a budget must be between 0 and %(max)s", max=format(MAX_BUDGET, ",")), name
            )
    low, high = criteria.budget_min, criteria.budget_max
    if low is not None and high is not None and low > high:
        raise FollowError(gettext("the maximum must not be below the minimum"), "budget_max")
    checked = replace(criteria, words=words)
    if checked.is_empty:
        raise FollowError(gettext("give some words or choose at least one filter"), "words")
    return checked


def _checked_name(name: str) -> str:
    name = one_line(name or "")
    if not name or len(name) > MAX_NAME:
        raise FollowError(
            gettext("the name must have 1 to %(max)s characters", max=MAX_NAME), "name"
        )
    return name


def _checked_frequency(frequency: str) -> str:
    if frequency not in set(Frequency):
        raise FollowError(gettext("choose immediate or weekly mail"), "frequency")
    return frequency


def _name_taken(user: User, name: str, except_id: int | None = None) -> bool:
    query = sa.select(SavedSearch.id).where(
        SavedSearch.user_id == user.id, sa.func.lower(SavedSearch.name) == name.lower()
    )
    if except_id is not None:
        query = query.where(SavedSearch.id != except_id)
    return db.session.scalar(query) is not None


def saved_searches_of(user: User) -> list[SavedSearch]:
    return list(
        db.session.scalars(
            sa.select(SavedSearch)
            .where(SavedSearch.user_id == user.id)
            .order_by(sa.func.lower(SavedSearch.name), SavedSearch.id)
        )
    )


def own_saved_search(user: User, search_id: int) -> SavedSearch | None:
    """The member's saved search by id; None for another member's (a 404, not a 403)."""
    search = db.session.get(SavedSearch, search_id)
    return search if search is not None and search.user_id == user.id else None


def save_search(
    user: User,
    *,
    name: str,
    criteria: SearchCriteria,
    frequency: str = Frequency.IMMEDIATE,
    now: dt.datetime | None = None,
) -> SavedSearch:
    """Save a search; it reports needs that become public from now on."""
    name = _checked_name(name)
    criteria = checked_criteria(criteria)
    frequency = _checked_frequency(frequency)
    if _name_taken(user, name):
        raise FollowError(gettext("you already have a saved search by that name"), "name")
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(SavedSearch).where(SavedSearch.user_id == user.id)
    )
    if (count or 0) >= MAX_SAVED_SEARCHES:
        raise FollowError(
            gettext(
                "you have %(max)s saved searches already; delete one first",
                max=MAX_SAVED_SEARCHES,
            ),
            "name",
        )
    stamp = now or utc_now()
    search = SavedSearch(
        user_id=user.id,
        name=name,
        frequency=frequency,
        matches_from=stamp,
        created_at=stamp,
        **_criteria_columns(criteria),
    )
    db.session.add(search)
    db.session.flush()
    return search


def _criteria_columns(criteria: SearchCriteria) -> dict[str, Any]:
    return asdict(criteria)


def update_search(
    search: SavedSearch, *, name: str, criteria: SearchCriteria, frequency: str
) -> SavedSearch:
    """Rename, change what it looks for or how often it writes. Needs it already found
    stay found (never sent twice); changed criteria apply to needs published from now."""
    name = _checked_name(name)
    criteria = checked_criteria(criteria)
    frequency = _checked_frequency(frequency)
    if _name_taken(search.user, name, except_id=search.id):
        raise FollowError(gettext("you already have a saved search by that name"), "name")
    if criteria != SearchCriteria.of(search):
        search.matches_from = max(search.matches_from, utc_now())
    for column, value in _criteria_columns(criteria).items():
        setattr(search, column, value)
    search.name = name
    search.frequency = frequency
    db.session.flush()
    return search


def pause_search(search: SavedSearch, *, now: dt.datetime | None = None) -> None:
    if search.paused_at is None:
        search.paused_at = now or utc_now()
    db.session.flush()


def resume_search(search: SavedSearch, *, now: dt.datetime | None = None) -> None:
    """Resume: needs published during the pause are not mailed as new."""
    if search.paused_at is not None:
        search.paused_at = None
        search.matches_from = now or utc_now()
    db.session.flush()


def delete_search(search: SavedSearch) -> None:
    db.session.delete(search)
    db.session.flush()


def describe_criteria(criteria: SearchCriteria) -> str:
    """One line a member reads: "flood sensors; Water; Viet Nam; RFP; US$1,000 to ..."."""
    parts: list[str] = []
    if criteria.words:
        parts.append(f"“{criteria.words}”")
    if criteria.sector:
        parts.append(sector_short_label(criteria.sector))
    if criteria.country:
        parts.append(country_name(criteria.country))
    if criteria.notice:
        parts.append(_label(NOTICE_TYPES, criteria.notice))
    if criteria.funding_source:
        parts.append(_label(FUNDING_SOURCES, criteria.funding_source))
    if criteria.funding_stage:
        parts.append(_label(FUNDING_STAGES, criteria.funding_stage))
    if criteria.budget_min is not None or criteria.budget_max is not None:
        # The range as asked: equal bounds are not collapsed into one sum.
        budget = budget_range_label(criteria.budget_min, criteria.budget_max, collapse_equal=False)
        parts.append(gettext("budget %(range)s", range=budget))
    if criteria.language:
        parts.append(gettext("written in %(language)s", language=language_name(criteria.language)))
    return "; ".join(parts) or gettext("everything")


# --- matching a need against a saved search ---------------------------------------------


def analysed(text: str) -> list[str]:
    return [token.text for token in ANALYZER(text)]


@dataclass(frozen=True)
class NeedTerms:
    """A need's analysed title and text, as the search index holds them; made once per
    need and reused against every saved search."""

    title: frozenset[str]
    text: frozenset[str]

    @classmethod
    def of(cls, need: Need) -> NeedTerms:
        document = need_document(need)
        return cls(frozenset(analysed(document["title"])), frozenset(analysed(document["text"])))


@dataclass(frozen=True)
class MatchReason:
    """One reason a need matched a saved search, kept as what matched (``kind``, a key of
    ``REASON_TEXTS``) and its values, not as a sentence: a match is found by the worker,
    with no reader, and read later on the search's page and in mail, each in its reader's
    language (``text``)."""

    kind: str
    value: Any  # words (a tuple), a code, or (the need's budget, the range asked) bounds

    def text(self) -> str:
        """The reason in the current language (English without a request or a mail)."""
        shown = REASON_TEXTS.get(self.kind)
        return shown(self.value) if shown is not None else f"{self.kind}: {self.value}"


def _words(value: Any) -> str:
    return ", ".join(map(str, value))


def _label(labels: dict[str, str], code: Any) -> str:
    label = labels.get(code)
    return gettext(label) if label is not None else str(code)


def _budget_within(value: Any) -> str:
    low, high, wanted_low, wanted_high = value
    return gettext(
        "budget %(budget)s within %(wanted)s",
        budget=budget_range_label(low, high),
        wanted=budget_range_label(wanted_low, wanted_high, collapse_equal=False),
    )


REASON_TEXTS: dict[str, Callable[[Any], str]] = {
    "title": lambda words: gettext("words in the title: %(words)s", words=_words(words)),
    "description": lambda words: gettext(
        "words in the description: %(words)s", words=_words(words)
    ),
    "sector": lambda code: gettext("sector: %(sector)s", sector=sector_short_label(code)),
    "country": lambda code: gettext("country: %(country)s", country=country_name(code)),
    "notice": lambda code: gettext("notice: %(notice)s", notice=_label(NOTICE_TYPES, code)),
    "funding": lambda code: gettext("funding: %(source)s", source=_label(FUNDING_SOURCES, code)),
    "funding_stage": lambda code: gettext(
        "funding stage: %(stage)s", stage=_label(FUNDING_STAGES, code)
    ),
    "language": lambda code: gettext(
        "written in %(language)s", language=language_name(code) or code
    ),
    "budget": _budget_within,
}


def why_matched(
    criteria: SearchCriteria, need: Need, terms: NeedTerms | None = None
) -> list[MatchReason] | None:
    """Why ``need`` matches ``criteria`` (one reason per word place or facet), or None.

    A word matches as it does on the search page: all its analysed tokens in the title,
    or all in the text (description, buyer and place); every word must match. Facets
    must all hold; a budget range matches a need whose stated budget overlaps it (a need
    with no budget does not match a budget filter). Visibility is the caller's business.
    """
    reasons: list[MatchReason] = []
    # each word's variants: as analysed, and its Indonesian/Malay root (search's rule)
    words = [(word, word_variants(word)) for word in plain_words(criteria.words)]
    words = [(word, variants) for word, variants in words if variants]  # stop words drop out
    if words:
        terms = terms or NeedTerms.of(need)
        in_title, in_text = [], []
        for word, variants in words:
            if any(terms.title.issuperset(tokens) for tokens in variants):
                in_title.append(word)
            elif any(terms.text.issuperset(tokens) for tokens in variants):
                in_text.append(word)
            else:
                return None
        if in_title:
            reasons.append(MatchReason("title", tuple(in_title)))
        if in_text:
            reasons.append(MatchReason("description", tuple(in_text)))
    if criteria.sector is not None:
        if criteria.sector not in (need.sectors or []):
            return None
        reasons.append(MatchReason("sector", criteria.sector))
    if criteria.country is not None:
        if need.buyer is None or need.buyer.country != criteria.country:
            return None
        reasons.append(MatchReason("country", criteria.country))
    if criteria.notice is not None:
        if need.notice != criteria.notice:
            return None
        reasons.append(MatchReason("notice", criteria.notice))
    if criteria.funding_source is not None:
        if need.funding_source != criteria.funding_source:
            return None
        reasons.append(MatchReason("funding", criteria.funding_source))
    if criteria.funding_stage is not None:
        if need.funding_stage != criteria.funding_stage:
            return None
        reasons.append(MatchReason("funding_stage", criteria.funding_stage))
    if criteria.language is not None:
        if need.language != criteria.language:
            return None
        reasons.append(MatchReason("language", criteria.language))
    if criteria.budget_min is not None or criteria.budget_max is not None:
        if not _budget_overlaps(criteria, need):
            return None
        bounds = (need.budget_min, need.budget_max, criteria.budget_min, criteria.budget_max)
        reasons.append(MatchReason("budget", bounds))
    return reasons


def match_need(
    criteria: SearchCriteria, need: Need, terms: NeedTerms | None = None
) -> list[str] | None:
    """``why_matched``, each reason in the current language, or None."""
    reasons = why_matched(criteria, need, terms)
    return None if reasons is None else [reason.text() for reason in reasons]


def stored_reasons(reasons: list[MatchReason]) -> str:
    """What a match's row keeps of its reasons (``SavedSearchMatch.reasons``): JSON, each
    reason as its kind and value, for ``read_reasons`` to put in a reader's words."""
    return json.dumps([[reason.kind, reason.value] for reason in reasons], ensure_ascii=False)


def read_reasons(stored: str) -> list[LazyText | str]:
    """A match's reasons, each read in the language of whoever shows it (a page, or a mail
    rendered in its recipient's). A row stored before the reasons were kept as codes holds
    English lines, shown as written."""
    if stored.startswith("["):
        try:
            kept = json.loads(stored)
        except ValueError:
            kept = None
        if isinstance(kept, list) and all(isinstance(r, list) and len(r) == 2 for r in kept):
            return [
                LazyText(MatchReason(kind, tuple(v) if isinstance(v, list) else v).text)
                for kind, v in kept
            ]
    return stored.splitlines()


def _budget_overlaps(criteria: SearchCriteria, need: Need) -> bool:
    low = need.budget_min if need.budget_min is not None else need.budget_max
    high = need.budget_max if need.budget_max is not None else need.budget_min
    if low is None or high is None:
        return False
    if criteria.budget_min is not None and high < criteria.budget_min:
        return False
    return not (criteria.budget_max is not None and low > criteria.budget_max)


def matches_of(search: SavedSearch) -> list[SavedSearchMatch]:
    """What the search has found so far, newest first (its page shows them)."""
    return list(
        db.session.scalars(
            sa.select(SavedSearchMatch)
            .where(SavedSearchMatch.saved_search_id == search.id)
            .order_by(SavedSearchMatch.found_at.desc(), SavedSearchMatch.id.desc())
            .limit(20)
        )
    )


# --- the calendar feed --------------------------------------------------------------------


def settings_row(user: User) -> FollowSettings:
    row = db.session.get(FollowSettings, user.id)
    if row is None:
        row = FollowSettings(user_id=user.id)
        db.session.add(row)
    return row


def calendar_token_of(user: User) -> str | None:
    row = db.session.get(FollowSettings, user.id)
    return row.calendar_token if row is not None else None


def new_calendar_token(user: User) -> str:
    """A fresh subscription token: the previous URL stops working at once."""
    if not may_follow(user):
        raise NotAllowed(gettext("only members of a vendor organization follow needs"))
    row = settings_row(user)
    row.calendar_token = secrets.token_urlsafe(TOKEN_BYTES)
    db.session.flush()
    return row.calendar_token


def revoke_calendar_token(user: User) -> None:
    row = db.session.get(FollowSettings, user.id)
    if row is not None:
        row.calendar_token = None
    db.session.flush()


def user_by_calendar_token(token: str) -> User | None:
    """The member whose feed URL carries ``token``; None for anything else."""
    if not token or len(token) > 64:
        return None
    user = db.session.scalar(
        sa.select(User)
        .join(FollowSettings, FollowSettings.user_id == User.id)
        .where(FollowSettings.calendar_token == token)
    )
    return user if user is not None and user.active else None


def question_deadline(need: Need) -> dt.date | None:
    """The last day for questions, where the buyer set one (``portal.notices``)."""
    return need.questions_close_on


def _sequence(need: Need) -> int:
    return max(0, int((need.updated_at - SEQUENCE_EPOCH).total_seconds()))


def deadlines_ics(user: User, now: dt.datetime | None = None) -> str:
    """The member's followed needs' deadlines (closing and questions) as all-day events,
    worded in the language being rendered (the feed's view renders it in the member's).

    UIDs are made of the need and the kind of deadline, so a moved deadline moves in the
    subscribed calendar (SEQUENCE grows with the need's last change) instead of doubling;
    a need that is no longer open or visible leaves the feed.
    """
    stamp = now or utc_now()
    host = urlsplit(current_app.config["PORTAL_BASE_URL"]).hostname or "portal"
    calendar_name = gettext("Followed need deadlines")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//U.S.-ASEAN Smart Cities Matchmaking//Followed deadlines//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(calendar_name)}",
    ]
    for item in followed_needs(user):
        need = item.need
        if not item.visible or not need.is_open:
            continue
        link = mail_link("needs.detail", ref=need.ref)
        deadlines = [
            ("closes", need.closes_on, gettext("Closes: %(title)s", title=need.title)),
            (
                "questions",
                question_deadline(need),
                gettext("Questions close: %(title)s", title=need.title),
            ),
        ]
        for kind, day, summary in deadlines:
            if day is None:
                continue
            description = f"{need.title} ({need.buyer.name}, {country_name(need.buyer.country)})"
            lines += [
                "BEGIN:VEVENT",
                f"UID:need-{need.id}-{kind}@{host}",
                f"DTSTAMP:{utc_stamp(stamp)}",
                f"DTSTART;VALUE=DATE:{date_value(day)}",
                f"DTEND;VALUE=DATE:{date_value(day + dt.timedelta(days=1))}",
                f"SEQUENCE:{_sequence(need)}",
                f"LAST-MODIFIED:{utc_stamp(need.updated_at)}",
                f"SUMMARY:{escape_text(summary)}",
                f"DESCRIPTION:{escape_text(description + chr(10) + link)}",
                f"URL:{link}",
                "TRANSP:TRANSPARENT",
                "END:VEVENT",
            ]
    lines.append("END:VCALENDAR")
    return calendar_text(lines)


def feed_url(token: str) -> str:
    return mail_link("follows.calendar_feed", token=token)
