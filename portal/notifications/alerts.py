"""Lead alerts: members in immediate mode hear of new leads soon, in one short mail.

The weekly digest tells digest-mode members about new leads; a member in immediate mode
gets "N new lead(s) for <organization>" instead, at most once per
``PORTAL_LEAD_ALERT_MINUTES`` and with at most ``ALERT_ITEMS`` leads (the rest come in the
next one). The items are recorded as ``DigestItem`` rows in the mail's transaction, so
neither a later alert nor a digest (after a switch to digest mode) repeats them, and a
run that dies halfway reruns without duplicates.

Computing leads is the costly part, so a pass first asks whether anything searchable
changed since the last one (``LeadAlertState``): a pass with no change and no member
behind (new, throttled last time, or with leads left over) runs three small queries and
computes no leads.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from portal.accounts.models import Role, User
from portal.extensions import db
from portal.i18n.lazy import lazy_ngettext
from portal.matching.store.snapshot import events_version
from portal.notifications.models import (
    DigestItem,
    LeadAlertState,
    MailMode,
    NotificationPreference,
)
from portal.notifications.services import (
    LeadItem,
    Mutes,
    _lead_items,
    _sent_keys,
    portal_url,
)
from portal.organizations.models import Organization, VerificationStatus
from portal.outbox import IndexEvent

log = logging.getLogger(__name__)

ALERT_TEMPLATE = "lead_alert"
ALERT_ITEMS = 10  # leads in one mail; the rest wait for the next one
STATE_ID = 1
# The oldest transaction still running: every transaction below it has finished.
_PG_HORIZON = sa.text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")


@dataclass
class AlertReport:
    changed: bool = False  # something searchable changed since the last pass
    considered: int = 0  # members whose leads were computed
    sent: int = 0
    empty: int = 0  # considered, nothing new to tell
    failed: int = 0


def alert_window() -> dt.timedelta:
    return dt.timedelta(minutes=int(current_app.config["PORTAL_LEAD_ALERT_MINUTES"]))


# --- has anything searchable changed? ----------------------------------------------------


def _events_now(state: LeadAlertState) -> int:
    """What ``state.event_mark`` would be now if nothing had changed; one query.

    SQLite commits writers one at a time, so the highest event id says it all. On
    PostgreSQL a transaction can commit a lower id after a higher one was seen; but every
    transaction still running at the last look has an id at or above the horizon then
    taken, so a change shows as more events at or above that horizon than were seen.
    """
    if db.session.connection().dialect.name != "postgresql":
        return events_version()
    return (
        db.session.scalar(sa.select(sa.func.count()).where(IndexEvent.txid >= state.event_horizon))
        or 0
    )


def _move_on(state: LeadAlertState) -> None:
    """Take the current position (PostgreSQL: a newer horizon, and what is above it)."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        horizon = int(connection.execute(_PG_HORIZON).scalar_one())
        state.event_horizon = max(horizon, state.event_horizon)
    state.event_mark = _events_now(state)


def _state_row() -> LeadAlertState:
    """The one state row, locked until the commit (two workers look in turn)."""
    state = db.session.get(LeadAlertState, STATE_ID, with_for_update=True, populate_existing=True)
    if state is not None:
        return state
    state = LeadAlertState(id=STATE_ID, version=0, event_horizon=0, event_mark=0)
    db.session.add(state)
    try:
        db.session.flush()
    except IntegrityError:  # another worker created it first: use theirs
        db.session.rollback()
        state = db.session.get(LeadAlertState, STATE_ID, with_for_update=True)
        if state is None:
            raise
    return state


def observe_changes(now: dt.datetime) -> tuple[int, bool]:
    """The alert version, moved on if anything searchable changed since the last look.

    A quiet look reads the state row and counts events once, and writes nothing; only a
    change takes the row's lock, so the workers of several nodes move it on in turn.
    """
    state = db.session.get(LeadAlertState, STATE_ID, populate_existing=True)
    if state is not None and _events_now(state) == state.event_mark:
        version = state.version
        db.session.commit()
        return version, False
    state = _state_row()
    changed = _events_now(state) != state.event_mark  # again: another worker may have moved
    if changed:
        _move_on(state)
        state.version += 1
        state.changed_at = now
    version = state.version
    db.session.commit()
    return version, changed


def events_position() -> tuple[int, int, int]:
    """(version, horizon, mark) as last stored: what a quiet pass leaves unchanged."""
    state = db.session.get(LeadAlertState, STATE_ID, populate_existing=True)
    if state is None:
        return (0, 0, 0)
    return (state.version, state.event_horizon, state.event_mark)


# --- who may get an alert ----------------------------------------------------------------


def alert_members(version: int, now: dt.datetime) -> list[int]:
    """Members in immediate mode whose leads may hold news: active and confirmed, of a
    verified organization, not unsubscribed, behind ``version`` and not alerted within
    the window. A member with no preference row yet is in immediate mode (the default)."""
    pref = NotificationPreference
    quiet_since = now - alert_window()
    rows = db.session.scalars(
        sa.select(User.id)
        .join(Organization, Organization.id == User.organization_id)
        .outerjoin(pref, pref.user_id == User.id)
        .where(
            User.role.in_((Role.VENDOR, Role.BUYER)),
            User.active.is_(True),
            User.email_confirmed_at.is_not(None),
            Organization.status == VerificationStatus.VERIFIED,
            sa.or_(
                pref.user_id.is_(None),
                sa.and_(
                    pref.mode == MailMode.IMMEDIATE,
                    pref.unsubscribed_at.is_(None),
                    sa.or_(pref.lead_alerts_version.is_(None), pref.lead_alerts_version < version),
                    sa.or_(
                        pref.last_lead_alert_at.is_(None), pref.last_lead_alert_at <= quiet_since
                    ),
                ),
            ),
        )
        .order_by(User.id)
    )
    return list(rows)


def _claim(user: User) -> NotificationPreference | None:
    """The member's preference row, locked for this transaction; None when another
    worker holds it (it is alerting this member right now)."""
    row = db.session.scalar(
        sa.select(NotificationPreference)
        .where(NotificationPreference.user_id == user.id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if row is not None:
        return row
    if db.session.get(NotificationPreference, user.id) is not None:
        return None  # it exists, so another worker has it locked
    row = NotificationPreference(user_id=user.id, mode=MailMode.IMMEDIATE)
    db.session.add(row)
    db.session.flush()  # IntegrityError if another worker created it meanwhile
    return row


def _still_due(row: NotificationPreference, version: int, now: dt.datetime) -> bool:
    """The candidate query's rules, checked again under the lock."""
    if row.mode != MailMode.IMMEDIATE or row.unsubscribed_at is not None:
        return False
    if row.lead_alerts_version is not None and row.lead_alerts_version >= version:
        return False
    last = row.last_lead_alert_at
    return last is None or last <= now - alert_window()


# --- one member's alert ------------------------------------------------------------------


def pending_leads(user: User) -> list[LeadItem]:
    """Every lead the member was never told about, muted needs and sectors left out."""
    return _lead_items(user, Mutes.of(user), _sent_keys(user))


def send_lead_alert(user: User, version: int, now: dt.datetime) -> bool | None:
    """Queue the member's alert and record its items, in the caller's transaction.

    True: an alert was queued; False: nothing new (or the member unsubscribed); None:
    not this member's turn (another worker has them, or they were just served).
    """
    from portal.mail.services import queue_mail

    row = _claim(user)
    if row is None or not _still_due(row, version, now):
        return None
    leads = pending_leads(user)
    batch = leads[:ALERT_ITEMS]
    message = None
    if batch:
        assert user.organization is not None  # alert_members joins the organization
        message = queue_mail(
            user.email,
            lazy_ngettext(
                "%(num)s new lead for %(name)s",
                "%(num)s new leads for %(name)s",
                len(batch),
                name=user.organization.name,
            ),
            ALERT_TEMPLATE,
            person=user,
            leads=batch,
            more=len(leads) - len(batch),
            minutes=int(current_app.config["PORTAL_LEAD_ALERT_MINUTES"]),
            settings_url=portal_url("notifications.settings"),
        )
    if message is None:  # nothing new, or unsubscribed meanwhile: nothing is marked sent
        row.lead_alerts_version = version
        db.session.flush()
        return False
    for item in batch:
        db.session.add(DigestItem(user_id=user.id, item_key=item.key, sent_at=now))
    row.last_lead_alert_at = now
    if len(leads) == len(batch):  # leads left over keep the member behind: next window
        row.lead_alerts_version = version
    db.session.flush()
    return True


def run_lead_alerts(now: dt.datetime) -> AlertReport:
    """One alert per immediate-mode member with new leads; commits per member, like the
    digest, so a run that stops halfway has alerted each finished member exactly once."""
    report = AlertReport()
    version, report.changed = observe_changes(now)
    for user_id in alert_members(version, now):
        user = db.session.get(User, user_id)
        if user is None:
            continue
        try:
            sent = send_lead_alert(user, version, now)
            db.session.commit()
        except IntegrityError:  # another worker made this member's row at the same time
            db.session.rollback()
            log.info("lead alert for user %s left to another worker", user_id)
            continue
        except Exception:
            db.session.rollback()
            log.exception("lead alert for user %s failed", user_id)
            report.failed += 1
            continue
        if sent is None:
            continue
        report.considered += 1
        if sent:
            report.sent += 1
        else:
            report.empty += 1
    return report
