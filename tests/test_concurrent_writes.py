"""Two writers at once never fail: SQLite queues them (BEGIN IMMEDIATE + busy timeout)."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from flask import Flask

from portal.extensions import PortalSession, db
from portal.organizations.models import Organization


def test_two_writers_at_once_both_succeed(committing_app: Flask) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def write(prefix: str) -> None:
        with committing_app.app_context():
            session = db._make_session_factory({"class_": PortalSession})()
            try:
                start.wait()
                for i in range(15):
                    # Read, then write, in one transaction: the pattern that fails with a
                    # lock-upgrade error when SQLite transactions start as DEFERRED.
                    session.scalar(sa.select(sa.func.count(Organization.id)))
                    session.add(
                        Organization(
                            ref=f"{prefix}-{i}", kind="vendor", name=f"{prefix} {i}", country="US"
                        )
                    )
                    session.commit()
            except BaseException as exc:  # collected and asserted on below
                errors.append(exc)
                session.rollback()
            finally:
                session.close()

    threads = [threading.Thread(target=write, args=(name,)) for name in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert db.session.scalar(sa.select(sa.func.count(Organization.id))) == 30
