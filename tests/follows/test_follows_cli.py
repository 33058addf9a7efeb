"""``portal follows``: the worker's two passes on demand, and a member's saved searches."""

from __future__ import annotations

from typing import Any

from flask import Flask
from follows.follow_factories import deliver, make_scene

from portal.db import utc_now
from portal.extensions import db
from portal.follows import services
from portal.follows.services import SearchCriteria


def test_remind_and_alerts_run_the_passes(app: Flask, runner: Any, mailbox) -> None:
    scene = make_scene(closes_in_days=1)
    services.follow(scene.member, scene.need)
    services.save_search(
        scene.member, name="Floods", criteria=SearchCriteria(words="flood"), now=utc_now()
    )
    db.session.commit()
    result = runner.invoke(args=["follows", "remind"])
    assert result.exit_code == 0, result.output
    assert "deadline reminders queued: 1" in result.output
    result = runner.invoke(args=["follows", "alerts"])
    assert result.exit_code == 0, result.output
    assert "new matches: 1, mails queued: 1" in result.output
    deliver()
    assert len(mailbox.to(scene.member.email)) == 2


def test_searches_lists_a_members_saved_searches(app: Flask, runner: Any) -> None:
    scene = make_scene()
    services.save_search(
        scene.member,
        name="Water in Viet Nam",
        criteria=SearchCriteria(words="leaks", sector="water", country="VN"),
        frequency="weekly",
    )
    db.session.commit()
    result = runner.invoke(args=["follows", "searches", scene.member.email.upper()])
    assert result.exit_code == 0, result.output
    assert "Water in Viet Nam  [weekly]  “leaks”; Water; Viet Nam" in result.output
    result = runner.invoke(args=["follows", "searches", "nobody@example.org"])
    assert result.exit_code != 0 and "no account" in result.output


def test_a_bad_time_is_refused(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["follows", "alerts", "--now", "yesterday"])
    assert result.exit_code == 2 and "Invalid value for '--now'" in result.output
