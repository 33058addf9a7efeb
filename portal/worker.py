"""``portal worker``: the long-running process for work that follows commits.

Each cycle applies pending index events, computes a slice of the sentence vectors the
leads still lack (claimed from a queue in the database, so any number of workers on any
number of machines split the work), queues due digests and lead alerts, reminds the
followers of needs about to close and mails saved searches' new matches, expires and
reminds introductions, expires the meeting requests left unanswered at a trade-mission
event's deadline, queues the day-before reminders of its agendas, forgets old login
sessions, sends due webhooks and delivers due mail; Ctrl-C or SIGTERM end it after the current
cycle. The passes fail independently: one that raises is logged with its name and rolled
back, and the others still run (a broken index must not stop mail), so the worker lives
on to the next cycle."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

import click
from flask.cli import with_appcontext

from portal.accounts.services import remove_old_sessions
from portal.db import utc_now
from portal.extensions import db
from portal.follows.alerts import run_saved_search_alerts, send_deadline_reminders
from portal.introductions.cli import run_tick as run_introduction_tick
from portal.mail.services import deliver_pending
from portal.matching.store.queue import (
    VectorWork,
    compute_vectors,
    feed_vector_queue,
    pending_vectors,
    reconcile_vectors,
    sentence_encoder,
)
from portal.matching.store.snapshot import attach_vectors, build_snapshot, live_snapshot
from portal.missions.agenda_mail import send_reminders
from portal.missions.requests import expire_requests
from portal.notifications.alerts import run_lead_alerts
from portal.notifications.services import run_digests
from portal.search.sync import apply_pending_events, rebuild
from portal.webhooks.delivery import deliver_all as deliver_webhooks

log = logging.getLogger(__name__)

VECTOR_ROWS_PER_PASS = 2048


def index_events_pass() -> int:
    """Apply the pending index events; an index built with another schema version (an
    upgrade) is rebuilt here, off any page, which applies them too."""
    report = apply_pending_events(wait=5.0)
    if report.outdated is not None:
        log.warning("search index has schema version %s: rebuilding it", report.outdated)
        return rebuild(also_build=build_snapshot).documents
    return report.events


class _Started:
    reconciled = False  # this process has queued every candidate without vectors


def vectors_pass() -> int:
    """A slice of the vector queue (after feeding it from the index events), then back to
    mail; once the queue is empty, this machine's snapshot matrices are assembled from the
    database, so that pages find them ready. The encoder is loaded only when there is work.
    """
    if not _Started.reconciled:  # a new portal, a restored backup, needs closed meanwhile
        reconcile_vectors()
        _Started.reconciled = True
    feed_vector_queue()
    work = VectorWork()
    if pending_vectors():
        encoder = sentence_encoder(prepare=True)
        if encoder is None:  # lexical ranking only: nothing to compute vectors with
            return 0
        work = compute_vectors(encoder.encode, max_records=VECTOR_ROWS_PER_PASS)
    if not pending_vectors():
        generation, snapshot = live_snapshot()
        attach_vectors(generation, snapshot)
    db.session.commit()
    # What changed: a record queued again without a change (an event the feed read twice,
    # or an edit that left its text alone) is checked, found current and not counted.
    return work.embedded + work.removed


def digests_pass() -> int:
    """Weekly digests of the members whose slot came (a cheap check when none is due)."""
    return run_digests(utc_now(), due_only=True).sent


def lead_alerts_pass() -> int:
    """Immediate-mode members' new leads (no lead computed when nothing changed)."""
    return run_lead_alerts(utc_now()).sent


def follow_reminders_pass() -> int:
    """Followers of a need closing within PORTAL_FOLLOW_REMINDER_DAYS, each reminded once."""
    return send_deadline_reminders(utc_now())


def saved_searches_pass() -> int:
    """Needs newly public matched against saved searches; batched and weekly mails."""
    report = run_saved_search_alerts(utc_now())
    return report.matched + report.mailed


def introductions_pass() -> int:
    return run_introduction_tick().total  # expiry, reminders, outcome questions


def mission_requests_pass() -> int:
    """Meeting requests still unanswered after their event's registration deadline (the
    end of that day in the event's zone) expire, so the scheduler and both sides stop
    waiting for them."""
    expired = expire_requests(utc_now())
    db.session.commit()
    return expired


def mission_reminders_pass() -> int:
    """Day-before agenda reminders, each in the participant's own zone, each sent once."""
    reminded = send_reminders(utc_now())
    db.session.commit()
    return reminded


def sessions_pass() -> int:
    """Forget login sessions that ended or expired over a day ago."""
    removed = remove_old_sessions(utc_now())
    db.session.commit()
    return removed


def mail_pass() -> int:
    done = 0
    while True:
        report = deliver_pending()
        done += report.sent + report.failed
        if report.sent + report.failed == 0 or report.failed:
            return done


def webhooks_pass() -> int:
    """Signed webhook deliveries that are due, sent per endpoint at once with timeouts (a
    slow or down receiver costs one timeout, not the cycle); failures retry later."""
    return deliver_webhooks().handled


# In order: mail goes last, so what the other passes queued leaves in the same cycle.
PASSES: tuple[tuple[str, Callable[[], int]], ...] = (
    ("index events", index_events_pass),
    ("vectors", vectors_pass),
    ("digests", digests_pass),
    ("lead alerts", lead_alerts_pass),
    ("follow reminders", follow_reminders_pass),
    ("saved searches", saved_searches_pass),
    ("introductions", introductions_pass),
    ("mission requests", mission_requests_pass),
    ("mission reminders", mission_reminders_pass),
    ("sessions", sessions_pass),
    ("webhooks", webhooks_pass),
    ("mail", mail_pass),
)


def _run_pass(name: str, work: Callable[[], int]) -> int:
    """Run one pass; an exception is logged with the pass's name and rolled back."""
    try:
        return work()
    except Exception:
        log.exception("worker pass %r failed; the other passes go on", name)
        try:
            db.session.rollback()
        except Exception:  # a lost connection: the pool reconnects on the next checkout
            log.exception("rollback after worker pass %r failed", name)
            db.session.remove()
        return 0


def run_worker_cycle() -> int:
    """One pass of everything the worker does; returns how much work it found."""
    return sum(_run_pass(name, work) for name, work in PASSES)


@click.command("worker")
@with_appcontext
@click.option("--interval", default=5.0, show_default=True, help="Seconds between passes.")
@click.option("--once", is_flag=True, help="Do one pass and exit (for cron and tests).")
def worker(interval: float, once: bool) -> None:
    """Apply index events, queue digests and lead alerts, deliver mail, until stopped."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        click.echo("stopping after the current cycle")
        stop.set()

    if not once:
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
    while True:
        started = time.monotonic()
        done = run_worker_cycle()
        if done:
            click.echo(f"worker: handled {done} item(s)")
        if once or stop.wait(max(0.0, interval - (time.monotonic() - started))):
            break
