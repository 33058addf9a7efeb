"""What happens to introductions with time: requests that expire unanswered, reminders to
whoever must act, and the question of how it went after an introduction. ``portal
worker`` runs ``expire_and_remind`` on each pass (``portal introductions tick``); every
change of state still goes through ``services.transition``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from portal.extensions import db
from portal.introductions import notifications
from portal.introductions.models import (
    ONGOING_OUTCOME_STATES,
    OPEN_STATES,
    EventKind,
    Introduction,
    IntroState,
    Side,
)
from portal.introductions.services import (
    ChangedByOthers,
    awaited_sides,
    flush_or_conflict,
    log_event,
    transition,
)


@dataclass
class TickReport:
    expired: int = 0
    reminded: int = 0
    asked: int = 0
    conflicts: int = 0

    @property
    def total(self) -> int:
        return self.expired + self.reminded + self.asked


def _days(name: str) -> dt.timedelta:
    return dt.timedelta(days=int(current_app.config[name]))


def _open_states() -> list[str]:
    return [state.value for state in OPEN_STATES]


def expire_and_remind(now: dt.datetime) -> TickReport:
    """Expire requests unanswered for ``PORTAL_INTRODUCTION_EXPIRY_DAYS``; remind whoever
    must act, once, after ``PORTAL_INTRODUCTION_REMINDER_DAYS``; ask both sides once for
    the outcome ``PORTAL_OUTCOME_ASK_AFTER_DAYS`` after an introduction.

    Each introduction is handled in its own SAVEPOINT: one changed by someone else
    meanwhile is skipped (and seen again on the next pass). Flushes, never commits.
    """
    report = TickReport()
    expire_before = now - _days("PORTAL_INTRODUCTION_EXPIRY_DAYS")
    remind_before = now - _days("PORTAL_INTRODUCTION_REMINDER_DAYS")
    ask_before = now - _days("PORTAL_OUTCOME_ASK_AFTER_DAYS")

    def each(query: sa.Select[tuple[Introduction]]) -> Iterator[Introduction]:
        ids = list(db.session.scalars(query.with_only_columns(Introduction.id)))
        for introduction_id in ids:
            introduction = db.session.get(Introduction, introduction_id)
            if introduction is not None:
                yield introduction

    open_query = sa.select(Introduction).where(Introduction.state.in_(_open_states()))
    for introduction in each(
        open_query.where(Introduction.state_changed_at <= expire_before).order_by(Introduction.id)
    ):
        if _in_savepoint(
            report, lambda i=introduction: transition(i, IntroState.EXPIRED, None, now=now)
        ):
            report.expired += 1

    for introduction in each(
        open_query.where(
            Introduction.state_changed_at <= remind_before,
            Introduction.reminder_sent_at.is_(None),
        ).order_by(Introduction.id)
    ):
        if _in_savepoint(report, lambda i=introduction: _remind(i, now)):
            report.reminded += 1

    ongoing = [state.value for state in ONGOING_OUTCOME_STATES]
    for introduction in each(
        sa.select(Introduction)
        .where(
            Introduction.state.in_(ongoing),
            Introduction.introduced_at <= ask_before,
            sa.or_(
                Introduction.vendor_outcome_asked_at.is_(None),
                Introduction.buyer_outcome_asked_at.is_(None),
            ),
        )
        .order_by(Introduction.id)
    ):
        if _in_savepoint(report, lambda i=introduction: _ask_outcome(i, now)):
            report.asked += 1
    return report


def _in_savepoint(report: TickReport, work: Any) -> bool:
    try:
        with db.session.begin_nested():
            work()
    except ChangedByOthers:
        report.conflicts += 1
        return False
    return True


def _remind(introduction: Introduction, now: dt.datetime) -> None:
    state = introduction.state
    if state in (IntroState.REQUESTED, IntroState.UNDER_REVIEW):
        notifications.remind_staff(introduction)
        note = "Reminder sent to trade staff."
    else:
        sides = awaited_sides(introduction)
        for side in sides:
            notifications.remind_side(introduction, side)
        note = "Reminder sent to " + " and ".join(introduction.organization(s).name for s in sides)
    introduction.reminder_sent_at = now
    log_event(
        introduction,
        EventKind.REMINDER,
        None,
        from_state=state,
        to_state=state,
        note=note,
        now=now,
    )
    flush_or_conflict()


def _ask_outcome(introduction: Introduction, now: dt.datetime) -> None:
    for side in Side:
        if introduction.outcome_asked_at(side) is not None:
            continue
        notifications.ask_outcome(introduction, side)
        if side == Side.VENDOR:
            introduction.vendor_outcome_asked_at = now
        else:
            introduction.buyer_outcome_asked_at = now
        log_event(
            introduction,
            EventKind.OUTCOME_QUESTION,
            None,
            from_state=introduction.state,
            to_state=introduction.state,
            note=f"Asked {introduction.organization(side).name} how it went.",
            now=now,
        )
    flush_or_conflict()
