"""What followers and saved searches are told, and when: the signal receivers and the
worker's passes.

Followers hear of an amendment or a public answer from the receivers of
``need_amended`` and ``question_answered``, which only add rows in the sender's
transaction: a ``FollowUpdate`` per follower and, for a member in immediate mode, the
mail in the outbox (members in digest mode get it in their weekly mail). A deadline
reminder goes ``PORTAL_FOLLOW_REMINDER_DAYS`` before a followed need closes, once per
follower and deadline: the ``FollowUpdate`` row's unique key is written before the mail,
so of two workers reaching it at once one inserts and mails and the other's insert fails.

Saved searches: a need that becomes public is stamped (``NeedPublication``) by the
``need_published`` receiver, and by a sweep that also catches needs made public without
that signal (their buyer was verified). A pass matches needs public since each search
was made against it and writes each match once (``SavedSearchMatch``, unique per search
and need); then members get their pending matches in one batched mail (at most once per
``PORTAL_SAVED_SEARCH_MINUTES``) or in their weekly mail. Mutes, the digest mode and the
unsubscribe link are respected as the lead alerts respect them: a muted need or sector is
left out, a member in digest mode gets everything weekly, an unsubscribed member nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal import signals
from portal.accounts.models import User
from portal.db import utc_now, utc_today
from portal.extensions import db
from portal.follows.models import (
    Delivery,
    FollowSettings,
    FollowUpdate,
    Frequency,
    NeedFollow,
    NeedPublication,
    SavedSearch,
    SavedSearchMatch,
    UpdateKind,
)
from portal.follows.services import (
    NeedTerms,
    SearchCriteria,
    followers_of,
    read_reasons,
    stored_reasons,
    why_matched,
)
from portal.follows.updates import (
    Details,
    amendment_details,
    answer_details,
    english_summary,
    reminder_details,
)
from portal.i18n.formatting import localized_date
from portal.i18n.lazy import LazyText, lazy_gettext, lazy_ngettext
from portal.mail.services import queue_mail
from portal.needs.models import Need, NeedStatus
from portal.needs.services import can_see_need, is_public
from portal.notifications.models import MailMode, MuteKind, NotificationPreference
from portal.notifications.services import (
    Mutes,
    digest_slot,
    is_unsubscribed,
    mode_of,
    mute_url,
    portal_url,
)

log = logging.getLogger(__name__)

UPDATE_TEMPLATE = "follow_update"
REMINDER_TEMPLATE = "follow_reminder"
MATCHES_TEMPLATE = "saved_search_matches"
WEEKLY_TEMPLATE = "follow_weekly"
# A need public for longer than this is no longer "new" to a saved search; bounds the work
# of each pass (a worker stopped for longer misses what became public meanwhile).
MATCH_WINDOW = dt.timedelta(days=7)
ITEMS_PER_MAIL = 25  # the rest come in the next mail


# --- what a follower is told -------------------------------------------------------------


def _tell(
    user: User, need: Need, kind: UpdateKind, key: str, details: Details, now: dt.datetime
) -> FollowUpdate | None:
    """One follower's row and, in immediate mode, their mail; None if already told.

    The row keeps what happened (``details``), worded in each reader's language when it
    is shown (``portal.follows.updates``). A muted need is recorded but not mailed (HELD);
    digest mode waits for the weekly mail.
    """
    if not can_see_need(need, user):
        return None
    existing = db.session.scalar(
        sa.select(FollowUpdate.id).where(
            FollowUpdate.user_id == user.id,
            FollowUpdate.need_id == need.id,
            FollowUpdate.key == key,
        )
    )
    if existing is not None:
        return None
    row = FollowUpdate(
        user_id=user.id,
        need_id=need.id,
        kind=kind,
        key=key,
        summary=english_summary(kind, details),
        details=details,
        created_at=now,
    )
    db.session.add(row)
    db.session.flush()  # the unique key first: a second worker stops here, before any mail
    urgent = kind == UpdateKind.REMINDER  # a weekly mail would come after the deadline
    if need.id in Mutes.of(user).needs:
        row.delivery = Delivery.HELD
    elif not urgent and mode_of(user) == MailMode.DIGEST:
        row.delivery = Delivery.PENDING
    else:
        template = REMINDER_TEMPLATE if urgent else UPDATE_TEMPLATE
        if urgent and need.closes_on:
            subject = lazy_gettext(
                "Closes %(date)s: %(title)s",
                date=LazyText(localized_date, need.closes_on),
                title=need.title,
            )
        elif kind == UpdateKind.AMENDMENT:
            subject = lazy_gettext("New amendment: %(title)s", title=need.title)
        else:
            subject = lazy_gettext("New answer: %(title)s", title=need.title)
        message = queue_mail(
            user.email,
            subject,
            template,
            person=user,
            need=need,
            update=row,
            need_url=portal_url("needs.detail", ref=need.ref),
            mute_need_url=mute_url(user, MuteKind.NEED, str(need.id)),
            followed_url=portal_url("follows.followed"),
        )
        row.delivery = Delivery.MAILED if message is not None else Delivery.HELD
        row.mailed_at = now if message is not None else None
    db.session.flush()
    return row


def on_need_amended(need: Need, amendment: Any = None, **_: Any) -> None:
    if amendment is None:
        return
    now = utc_now()
    details = amendment_details(amendment)
    key = f"amendment:{getattr(amendment, 'id', None) or getattr(amendment, 'number', '')}"
    for user in followers_of(need):
        _tell(user, need, UpdateKind.AMENDMENT, key, details, now)


def on_question_answered(need: Need, question: Any = None, **_: Any) -> None:
    if question is None:
        return
    now = utc_now()
    details = answer_details(question)
    for user in followers_of(need):
        _tell(user, need, UpdateKind.ANSWER, f"answer:{question.id}", details, now)


def on_need_published(need: Need, **_: Any) -> None:
    mark_published(need, utc_now())


def connect_receivers() -> None:
    """Subscribe to the needs' and notices' signals (idempotent: blinker keeps one)."""
    signals.need_amended.connect(on_need_amended)
    signals.question_answered.connect(on_question_answered)
    signals.need_published.connect(on_need_published)


# --- deadline reminders ------------------------------------------------------------------


def reminder_days() -> int:
    return int(current_app.config["PORTAL_FOLLOW_REMINDER_DAYS"])


def send_deadline_reminders(now: dt.datetime) -> int:
    """Remind each follower of an open need that closes within the reminder days, once
    per deadline. Commits per follower; a follower another worker reached first (the
    unique key) is left to it."""
    today = now.astimezone(dt.UTC).date()
    last_day = today + dt.timedelta(days=reminder_days())
    candidates = db.session.execute(
        sa.select(NeedFollow.user_id, NeedFollow.need_id, Need.closes_on)
        .join(Need, Need.id == NeedFollow.need_id)
        .where(Need.is_open, Need.closes_on.is_not(None), Need.closes_on <= last_day)
        .order_by(Need.closes_on, NeedFollow.id)
    ).all()
    if not candidates:
        db.session.rollback()
        return 0
    reminded = set(
        db.session.execute(
            sa.select(FollowUpdate.user_id, FollowUpdate.need_id, FollowUpdate.key).where(
                FollowUpdate.kind == UpdateKind.REMINDER,
                FollowUpdate.need_id.in_({need_id for _, need_id, _ in candidates}),
            )
        ).all()
    )
    db.session.rollback()  # end the read: each reminder has its own transaction
    sent = 0
    for user_id, need_id, closes_on in candidates:
        key = f"reminder:{closes_on.isoformat()}"
        if (user_id, need_id, key) in reminded:
            continue
        try:
            user, need = db.session.get(User, user_id), db.session.get(Need, need_id)
            if user is None or need is None or not user.active:
                continue
            details = reminder_details(closes_on, today)
            row = _tell(user, need, UpdateKind.REMINDER, key, details, now)
            db.session.commit()
        except IntegrityError:  # another worker reminded this follower first
            db.session.rollback()
            continue
        except Exception:
            db.session.rollback()
            log.exception("deadline reminder of need %s for user %s failed", need_id, user_id)
            continue
        if row is not None and row.delivery == Delivery.MAILED:
            sent += 1
    return sent


# --- saved searches: which needs became public -------------------------------------------


def mark_published(need: Need, now: dt.datetime) -> None:
    """Stamp a need as public since now (unless it already is); adds or fills one row."""
    row = db.session.get(NeedPublication, need.id)
    if row is None:
        db.session.add(NeedPublication(need_id=need.id, public_since=now))
    elif row.public_since is None:
        row.public_since = now
    db.session.flush()


def _claim_stamp(need_id: int, now: dt.datetime) -> bool:
    """Stamp one need public since now, if no one did meanwhile: the conditional write is
    the claim, so two workers never announce the same publication twice."""
    if db.session.get(NeedPublication, need_id) is None:
        db.session.add(NeedPublication(need_id=need_id, public_since=now))
        db.session.flush()  # a second worker's insert fails here: IntegrityError
        return True
    claimed = db.session.execute(
        sa.update(NeedPublication)
        .where(NeedPublication.need_id == need_id, NeedPublication.public_since.is_(None))
        .values(public_since=now)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount)


def _claim_unstamp(need_id: int) -> bool:
    claimed = db.session.execute(
        sa.update(NeedPublication)
        .where(NeedPublication.need_id == need_id, NeedPublication.public_since.is_not(None))
        .values(public_since=None)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount)


def sweep_publications(now: dt.datetime) -> int:
    """Stamp public needs the signal missed, and unstamp needs no longer public, so that
    becoming public again counts as new. Returns how many needs were newly stamped.

    What the sweep finds, it tells the other features, as a person's action would have:
    ``need_published`` for a need that became public without one (imported, or its buyer
    verified), and ``need_closed`` for an open need that stopped being public without one
    (status ``expired``: its closing date passed; ``withdrawn``: its buyer is no longer
    verified). A need closed or awarded by a person was announced then, and is not again.
    The receivers (webhooks) write in this transaction, which commits with the stamps.
    """
    try:
        unstamped = db.session.scalars(
            sa.select(Need.id)
            .outerjoin(NeedPublication, NeedPublication.need_id == Need.id)
            .where(Need.is_public, NeedPublication.public_since.is_(None))
            .order_by(Need.id)
        ).all()
        stamped = 0
        for need_id in unstamped:
            if _claim_stamp(need_id, now):
                stamped += 1
                need = db.session.get(Need, need_id)
                signals.need_published.send(need, actor=None)
        public = sa.select(Need.id).where(Need.is_public)
        gone = db.session.scalars(
            sa.select(NeedPublication.need_id)
            .where(
                NeedPublication.public_since.is_not(None), NeedPublication.need_id.not_in(public)
            )
            .order_by(NeedPublication.need_id)
        ).all()
        today = utc_today()
        for need_id in gone:
            if not _claim_unstamp(need_id):
                continue
            need = db.session.get(Need, need_id)
            if need is None or need.status != NeedStatus.OPEN:
                continue
            expired = need.closes_on is not None and need.closes_on < today
            signals.need_closed.send(need, status="expired" if expired else "withdrawn", actor=None)
        db.session.commit()
    except IntegrityError:  # another worker stamped the same need: it announces it
        db.session.rollback()
        return 0
    return stamped


def _active_searches() -> list[SavedSearch]:
    """Searches that are not paused, of active, confirmed members who did not unsubscribe."""
    pref = NotificationPreference
    return list(
        db.session.scalars(
            sa.select(SavedSearch)
            .join(User, User.id == SavedSearch.user_id)
            .outerjoin(pref, pref.user_id == User.id)
            .where(
                SavedSearch.paused_at.is_(None),
                User.active.is_(True),
                User.email_confirmed_at.is_not(None),
                pref.unsubscribed_at.is_(None),
            )
            .order_by(SavedSearch.user_id, SavedSearch.id)
        )
    )


def find_matches(now: dt.datetime) -> int:
    """Write a match row for each (search, need) pair that is new: the need became public
    after the search was made and within MATCH_WINDOW, and matches. Commits per member."""
    recent = db.session.execute(
        sa.select(Need, NeedPublication.public_since)
        .join(NeedPublication, NeedPublication.need_id == Need.id)
        .where(NeedPublication.public_since >= now - MATCH_WINDOW, Need.is_public)
        .options(selectinload(Need.buyer))
        .order_by(NeedPublication.public_since, Need.id)
    ).all()
    if not recent:
        db.session.rollback()
        return 0
    searches = _active_searches()
    if not searches:
        db.session.rollback()
        return 0
    need_ids = [need.id for need, _ in recent]
    known = set(
        db.session.execute(
            sa.select(SavedSearchMatch.saved_search_id, SavedSearchMatch.need_id).where(
                SavedSearchMatch.need_id.in_(need_ids)
            )
        ).all()
    )
    terms = {need.id: NeedTerms.of(need) for need, _ in recent}
    by_member: dict[int, list[SavedSearch]] = defaultdict(list)
    for search in searches:
        by_member[search.user_id].append(search)
    found = 0
    for user_id, member_searches in by_member.items():
        user = db.session.get(User, user_id)
        if user is None:
            continue
        mutes = Mutes.of(user)
        added = 0
        for search in member_searches:
            criteria = SearchCriteria.of(search)
            for need, public_since in recent:
                if public_since < search.matches_from or (search.id, need.id) in known:
                    continue
                if mutes.hides(need.id, list(need.sectors or [])):
                    continue
                reasons = why_matched(criteria, need, terms[need.id])
                if reasons is None:
                    continue
                db.session.add(
                    SavedSearchMatch(
                        saved_search_id=search.id,
                        user_id=user_id,
                        need_id=need.id,
                        reasons=stored_reasons(reasons),  # worded when read, per reader
                        found_at=now,
                    )
                )
                added += 1
        if not added:
            continue
        try:
            db.session.commit()
            found += added
        except IntegrityError:  # another worker found the same: theirs stands
            db.session.rollback()
    db.session.rollback()
    return found


# --- the mails -----------------------------------------------------------------------------


@dataclass
class MatchItem:
    search_name: str
    need: Need
    reasons: list[LazyText | str]  # each worded in the mail's language when rendered
    link: str
    mute_need_url: str


@dataclass
class MemberNews:
    """What one member's mail carries, and the rows it tells (marked mailed with it)."""

    matches: list[MatchItem] = field(default_factory=list)
    updates: list[FollowUpdate] = field(default_factory=list)
    rows: list[SavedSearchMatch | FollowUpdate] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.matches or self.updates)

    def mark(self, sent: bool, now: dt.datetime) -> None:
        """Mailed, or held when the mail was not queued (the member unsubscribed)."""
        for row in self.rows:
            row.delivery = Delivery.MAILED if sent else Delivery.HELD
            row.mailed_at = now if sent else None


def _claim(user: User) -> FollowSettings | None:
    """The member's settings row, locked for this transaction; None when another worker
    holds it (it is mailing this member right now)."""
    row = db.session.scalar(
        sa.select(FollowSettings)
        .where(FollowSettings.user_id == user.id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if row is not None:
        return row
    if db.session.get(FollowSettings, user.id) is not None:
        return None
    row = FollowSettings(user_id=user.id)
    db.session.add(row)
    db.session.flush()  # IntegrityError if another worker created it meanwhile
    return row


def _pending_matches(user: User, *, weekly: bool) -> list[SavedSearchMatch]:
    """The member's matches not yet mailed: of immediate searches, or (weekly) all."""
    query = (
        sa.select(SavedSearchMatch)
        .join(SavedSearch, SavedSearch.id == SavedSearchMatch.saved_search_id)
        .where(
            SavedSearchMatch.user_id == user.id,
            SavedSearchMatch.delivery == Delivery.PENDING,
        )
        .options(selectinload(SavedSearchMatch.need), selectinload(SavedSearchMatch.saved_search))
        .order_by(SavedSearchMatch.found_at, SavedSearchMatch.id)
    )
    if not weekly:
        query = query.where(SavedSearch.frequency == Frequency.IMMEDIATE)
    return list(db.session.scalars(query))


def _news(user: User, matches: list[SavedSearchMatch], updates: list[FollowUpdate]) -> MemberNews:
    """The items still worth telling, at most ITEMS_PER_MAIL of each (the rest wait); a
    match whose need is no longer public, or whose need or sector the member has muted
    since, is held back and never mailed."""
    news = MemberNews()
    mutes = Mutes.of(user)
    for match in matches:
        need = match.need
        if not is_public(need) or mutes.hides(need.id, list(need.sectors or [])):
            match.delivery = Delivery.HELD
        elif len(news.matches) < ITEMS_PER_MAIL:
            news.matches.append(
                MatchItem(
                    match.saved_search.name,
                    need,
                    read_reasons(match.reasons),
                    portal_url("needs.detail", ref=need.ref),
                    mute_url(user, MuteKind.NEED, str(need.id)),
                )
            )
            news.rows.append(match)
    for update in updates:
        if update.need_id in mutes.needs or not can_see_need(update.need, user):
            update.delivery = Delivery.HELD
        elif len(news.updates) < ITEMS_PER_MAIL:
            news.updates.append(update)
            news.rows.append(update)
    return news


def _queue(user: User, news: MemberNews, subject: str | LazyText, template: str) -> bool:
    message = queue_mail(
        user.email,
        subject,
        template,
        person=user,
        news=news,
        searches_url=portal_url("follows.saved_searches"),
        followed_url=portal_url("follows.followed"),
        settings_url=portal_url("notifications.settings"),
    )
    return message is not None


def send_immediate_matches(user: User, now: dt.datetime) -> bool | None:
    """Queue one mail of the member's new matches (immediate searches), in the caller's
    transaction. None: not this member's turn (another worker, or mailed too recently)."""
    row = _claim(user)
    if row is None:
        return None
    window = dt.timedelta(minutes=int(current_app.config["PORTAL_SAVED_SEARCH_MINUTES"]))
    if row.last_immediate_at is not None and row.last_immediate_at > now - window:
        return None
    if mode_of(user) == MailMode.DIGEST:
        return None  # everything goes in the weekly mail
    matches = _pending_matches(user, weekly=False)
    news = _news(user, matches, [])
    if not news:
        db.session.flush()
        return False
    count = len(news.matches)
    subject = (
        lazy_gettext("New need for your saved search “%(name)s”", name=news.matches[0].search_name)
        if count == 1
        else lazy_ngettext(
            "%(num)s new need for your saved searches",
            "%(num)s new needs for your saved searches",
            count,
        )
    )
    sent = _queue(user, news, subject, MATCHES_TEMPLATE)
    news.mark(sent, now)
    if sent:
        row.last_immediate_at = now
    db.session.flush()
    return sent


def is_weekly_due(user: User, row: FollowSettings | None, now: dt.datetime) -> bool:
    config = current_app.config
    slot = digest_slot(
        now, user.timezone, int(config["PORTAL_DIGEST_WEEKDAY"]), int(config["PORTAL_DIGEST_HOUR"])
    )
    checked = row.weekly_checked_at if row is not None else None
    return checked is None or checked < slot


def send_weekly(user: User, now: dt.datetime) -> bool | None:
    """Queue the member's weekly mail: pending matches of weekly searches (all searches in
    digest mode) and followed needs' news kept for the week. None: not due or claimed."""
    row = _claim(user)
    if row is None or not is_weekly_due(user, row, now):
        return None
    first = row.weekly_checked_at is None
    row.weekly_checked_at = now
    if first:  # the clock starts now: the first weekly mail comes at the next slot
        db.session.flush()
        return None
    matches = _pending_matches(user, weekly=True)
    if mode_of(user) != MailMode.DIGEST:
        matches = [m for m in matches if m.saved_search.frequency == Frequency.WEEKLY]
    updates = list(
        db.session.scalars(
            sa.select(FollowUpdate)
            .where(FollowUpdate.user_id == user.id, FollowUpdate.delivery == Delivery.PENDING)
            .options(selectinload(FollowUpdate.need))
            .order_by(FollowUpdate.created_at, FollowUpdate.id)
        )
    )
    news = _news(user, matches, updates)
    if not news:
        db.session.flush()
        return False
    subject = lazy_gettext(
        "Your week: %(matches)s, %(updates)s",
        matches=lazy_ngettext(
            "%(num)s new need for your saved searches",
            "%(num)s new needs for your saved searches",
            len(news.matches),
        ),
        updates=lazy_ngettext(
            "%(num)s update on needs you follow",
            "%(num)s updates on needs you follow",
            len(news.updates),
        ),
    )
    sent = _queue(user, news, subject, WEEKLY_TEMPLATE)
    news.mark(sent, now)
    db.session.flush()
    return sent


def _members_with_pending() -> list[int]:
    matches = sa.select(SavedSearchMatch.user_id).where(
        SavedSearchMatch.delivery == Delivery.PENDING
    )
    updates = sa.select(FollowUpdate.user_id).where(FollowUpdate.delivery == Delivery.PENDING)
    return sorted(set(db.session.scalars(matches.union(updates))))


@dataclass
class AlertReport:
    stamped: int = 0
    matched: int = 0
    mailed: int = 0
    failed: int = 0


def _each_member(work: Any, user_ids: list[int], now: dt.datetime, report: AlertReport) -> None:
    for user_id in user_ids:
        user = db.session.get(User, user_id)
        if user is None:
            continue
        try:
            sent = work(user, now)
            db.session.commit()
        except IntegrityError:  # another worker made this member's row at the same time
            db.session.rollback()
            continue
        except Exception:
            db.session.rollback()
            log.exception("saved-search mail for user %s failed", user_id)
            report.failed += 1
            continue
        if sent:
            report.mailed += 1


def run_saved_search_alerts(now: dt.datetime) -> AlertReport:
    """Stamp newly public needs, find new matches, then mail: immediate batches, and the
    weekly mail of members whose slot came. Commits per member."""
    report = AlertReport()
    report.stamped = sweep_publications(now)
    report.matched = find_matches(now)
    members = _members_with_pending()
    db.session.rollback()
    _each_member(send_immediate_matches, members, now, report)
    due = []
    for user_id in members:
        user = db.session.get(User, user_id)
        settings = db.session.get(FollowSettings, user_id)
        if user is not None and not is_unsubscribed(user) and is_weekly_due(user, settings, now):
            due.append(user_id)
    db.session.rollback()
    _each_member(send_weekly, due, now, report)
    return report
