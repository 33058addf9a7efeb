"""``portal mail`` and ``portal worker``: deliver the outbox outside of requests."""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

import click
from flask.cli import AppGroup, with_appcontext

from portal.mail.services import deliver_pending, pending_count


@click.group(cls=AppGroup)
def mail() -> None:
    """Inspect and deliver the mail outbox."""


@mail.command("send")
def send_command() -> None:
    """Deliver every message that is due now."""
    total_sent = total_failed = 0
    while True:
        report = deliver_pending()
        total_sent += report.sent
        total_failed += report.failed
        if report.sent + report.failed == 0:
            break
    click.echo(
        f"sent {total_sent}, failed {total_failed} (will be retried), {pending_count()} waiting"
    )


@mail.command("status")
def status_command() -> None:
    """How many messages wait for delivery."""
    click.echo(f"{pending_count()} message(s) waiting for delivery")


def run_worker_cycle() -> int:
    """One pass of everything the worker does; returns how much work it found."""
    from portal.search.sync import apply_pending_events

    done = apply_pending_events(wait=5.0).events
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
