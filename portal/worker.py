"""``portal worker``: the long-running process for work that follows commits.

Each pass applies pending index events, computes a slice of the sentence vectors the
leads still lack, queues due digests and lead alerts, and delivers due mail; Ctrl-C or
SIGTERM end it after the current pass.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

import click
from flask.cli import with_appcontext

from portal.db import utc_now
from portal.introductions.cli import run_tick as run_introduction_tick
from portal.mail.services import deliver_pending
from portal.matching.store import complete_vectors, live_snapshot, sentence_encoder
from portal.notifications.alerts import run_lead_alerts
from portal.notifications.services import run_digests
from portal.search.sync import apply_pending_events

VECTOR_ROWS_PER_PASS = 2048


def run_worker_cycle() -> int:
    """One pass of everything the worker does; returns how much work it found."""
    done = apply_pending_events(wait=5.0).events
    encoder = sentence_encoder(prepare=True)
    if encoder is not None:  # a slice of the vectors still missing, then back to mail
        generation, _ = live_snapshot()
        before = complete_vectors(generation, encoder.encode, max_rows=0)
        after = complete_vectors(generation, encoder.encode, max_rows=VECTOR_ROWS_PER_PASS)
        done += after.done - before.done
    # Weekly digests of the members whose slot came (a cheap check when none is due).
    digests = run_digests(utc_now(), due_only=True)
    done += digests.sent
    done += run_lead_alerts(utc_now()).sent  # new leads for immediate-mode members
    done += run_introduction_tick().total  # expiry, reminders, outcome questions
    while True:
        report = deliver_pending()
        done += report.sent + report.failed
        if report.sent + report.failed == 0 or report.failed:
            return done


@click.command("worker")
@with_appcontext
@click.option("--interval", default=5.0, show_default=True, help="Seconds between passes.")
@click.option("--once", is_flag=True, help="Do one pass and exit (for cron and tests).")
def worker(interval: float, once: bool) -> None:
    """Apply index events and deliver mail until stopped with Ctrl-C or SIGTERM."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        click.echo("stopping after the current pass")
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
