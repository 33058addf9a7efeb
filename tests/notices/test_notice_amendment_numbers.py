"""Two people amending one notice at once get two numbers, never one number twice or an
error: the need's row is locked before the next number is read."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from flask import Flask
from organizations.directory_factories import make_need, make_org

from portal.extensions import db
from portal.needs.models import Need
from portal.notices.amendments import amend
from portal.notices.models import NoticeAmendment
from portal.organizations.models import OrganizationKind

ROUNDS = 10


@pytest.mark.real_commits
def test_amendments_written_at_once_are_numbered_one_after_the_other(
    committing_app: Flask,
) -> None:
    need_id = make_need(make_org(OrganizationKind.BUYER, "Concurrent City"), "Concurrent RFP").id
    db.session.close()  # reading the id began a transaction: SQLite's would hold the lock
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def write(side: str) -> None:
        with committing_app.app_context():  # a session of its own, as a request has
            try:
                start.wait()
                for round_number in range(ROUNDS):
                    need = db.session.get(Need, need_id)
                    assert need is not None
                    change = {"field": "document", "old": None, "new": f"{side}-{round_number}"}
                    amend(need, [change])
                    db.session.commit()
            except BaseException as exc:  # collected and asserted on below
                errors.append(exc)
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=write, args=(side,)) for side in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    numbers = db.session.scalars(
        sa.select(NoticeAmendment.number)
        .where(NoticeAmendment.need_id == need_id)
        .order_by(NoticeAmendment.number)
    ).all()
    assert numbers == list(range(1, 2 * ROUNDS + 1))
