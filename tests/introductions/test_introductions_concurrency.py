"""Two staff acting on one introduction at once: exactly one succeeds, nothing half-done.

These tests commit for real, each actor on its own connection (its own app context, so its
own session). On PostgreSQL the two transactions overlap and the version counter decides;
on SQLite writers queue (BEGIN IMMEDIATE), and the second sees the state it expected moved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from introductions.intro_factories import make_pair, walk_to
from support import TEST_DB

from portal.accounts.models import User
from portal.extensions import db
from portal.introductions import services
from portal.introductions.models import EventKind, Introduction, IntroductionEvent, IntroState
from portal.introductions.services import ChangedByOthers
from portal.mail.models import OutboxMessage

S = IntroState
pytestmark = pytest.mark.real_commits


def _act(
    app: Flask,
    work: Callable[[Introduction, User], object],
    intro_id: int,
    user_id: int,
    start: threading.Barrier | None = None,
) -> object:
    """Run ``work`` in a fresh app context (its own session and connection); commit or roll
    back as a view would; return "ok", or the exception it raised. ``start`` is waited for
    before the first query, so SQLite's write lock cannot deadlock the two threads."""
    with app.app_context():
        try:
            if start is not None:
                start.wait(timeout=60)
            intro = db.session.get(Introduction, intro_id)
            user = db.session.get(User, user_id)
            assert intro is not None and user is not None
            work(intro, user)
            db.session.commit()
            return "ok"
        except Exception as exc:  # returned to the test, which asserts on it
            db.session.rollback()
            return exc
        finally:
            db.session.remove()


def _changes_after_review(intro_id: int) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(IntroductionEvent.to_state).where(
                IntroductionEvent.introduction_id == intro_id,
                IntroductionEvent.kind == EventKind.TRANSITION,
                IntroductionEvent.from_state == S.UNDER_REVIEW,
            )
        )
    )


def test_two_staff_deciding_one_introduction_at_once_one_wins(committing_app: Flask) -> None:
    pair = make_pair()
    intro = walk_to(pair, S.UNDER_REVIEW, origin="vendor")
    intro_id, seen = intro.id, intro.state
    staff_id, other_staff_id = pair.staff.id, pair.admin.id
    outbox_before = db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)))
    db.session.remove()

    start = threading.Barrier(2)
    results: dict[str, object] = {}

    def approve(i: Introduction, u: User) -> None:
        services.approve(i, u, note="Go.", expected_state=seen)

    def decline(i: Introduction, u: User) -> None:
        services.decline(i, u, reason="Not a fit.", expected_state=seen)

    def run(name: str, work: Callable, user_id: int) -> None:
        results[name] = _act(committing_app, work, intro_id, user_id, start)

    threads = [
        threading.Thread(target=run, args=("approve", approve, staff_id)),
        threading.Thread(target=run, args=("decline", decline, other_staff_id)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    outcomes = sorted(results.values(), key=lambda r: r != "ok")
    assert outcomes[0] == "ok"
    assert isinstance(outcomes[1], ChangedByOthers), results
    assert "changed by someone else" in str(outcomes[1])
    winner = next(name for name, result in results.items() if result == "ok")
    final = db.session.get(Introduction, intro_id)
    assert final is not None
    assert final.state == (S.APPROVED if winner == "approve" else S.DECLINED)
    assert _changes_after_review(intro_id) == [final.state]  # one step, logged once
    # Only the winner's mail was queued.
    subjects = db.session.scalars(
        sa.select(OutboxMessage.subject).order_by(OutboxMessage.id).offset(outbox_before)
    ).all()
    word = "approved" if winner == "approve" else "declined"
    assert subjects and all(word in s.lower() or "consent" in s.lower() for s in subjects)


@pytest.mark.skipif(TEST_DB != "postgresql", reason="overlapping transactions need PostgreSQL")
def test_stale_introduction_update_loses_to_the_committed_one_on_postgresql(
    committing_app: Flask,
) -> None:
    """B reads, A commits a step, B's step (legal in what B read) matches no row: refused."""
    pair = make_pair()
    intro = walk_to(pair, S.UNDER_REVIEW, origin="buyer")
    intro_id, staff_id, admin_id = intro.id, pair.staff.id, pair.admin.id
    db.session.remove()
    b_has_read = threading.Event()
    a_committed = threading.Event()
    results: dict[str, object] = {}

    def stale_decline(i: Introduction, u: User) -> None:
        assert i.state == S.UNDER_REVIEW  # read in B's own open transaction
        b_has_read.set()
        a_committed.wait(timeout=60)
        services.decline(i, u, reason="Too late.", expected_state=S.UNDER_REVIEW)

    def run_b() -> None:
        results["b"] = _act(committing_app, stale_decline, intro_id, admin_id)

    thread = threading.Thread(target=run_b)
    thread.start()
    assert b_has_read.wait(timeout=60)
    results["a"] = _act(committing_app, lambda i, u: services.approve(i, u), intro_id, staff_id)
    a_committed.set()
    thread.join()

    assert results["a"] == "ok"
    assert isinstance(results["b"], ChangedByOthers), results
    final = db.session.get(Introduction, intro_id)
    assert final is not None and final.state == S.APPROVED
    assert _changes_after_review(intro_id) == [S.APPROVED]
