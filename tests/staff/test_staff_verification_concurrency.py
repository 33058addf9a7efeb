"""Two staff deciding on one pending organization at once: one decision, one set of mails.

These tests commit for real, each actor in its own app context (its own session and
connection), as two requests would. On PostgreSQL the transactions overlap and the
conditional UPDATE decides; on SQLite writers queue, and the second finds it decided.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from organizations.directory_factories import make_member, make_org, make_user
from support import TEST_DB

from portal.accounts.models import Role, User
from portal.extensions import db
from portal.mail.models import OutboxMessage
from portal.organizations.models import Organization, OrganizationReview, VerificationStatus
from portal.staff.services import OrganizationError, reject_organization, verify_organization

pytestmark = pytest.mark.real_commits


def _decide(
    app: Flask,
    work: Callable[[Organization, User], object],
    organization_id: int,
    reviewer_id: int,
    before_deciding: Callable[[], None] | None = None,
) -> object:
    """Run ``work`` as a view would (commit, or roll back on error); "ok" or the error."""
    with app.app_context():
        try:
            organization = db.session.get(Organization, organization_id)
            reviewer = db.session.get(User, reviewer_id)
            assert organization is not None and reviewer is not None
            if before_deciding is not None:
                before_deciding()
            work(organization, reviewer)
            db.session.commit()
            return "ok"
        except Exception as exc:  # returned to the test, which asserts on it
            db.session.rollback()
            return exc
        finally:
            db.session.remove()


def _setup() -> tuple[int, int, int]:
    organization = make_org(verified=False)
    make_member(organization)
    ids = (organization.id, make_user(Role.STAFF).id, make_user(Role.ADMIN).id)
    db.session.remove()
    return ids


def _outcome(organization_id: int) -> tuple[str, int, int]:
    organization = db.session.get(Organization, organization_id)
    assert organization is not None
    reviews = db.session.scalar(
        sa.select(sa.func.count()).where(OrganizationReview.organization_id == organization_id)
    )
    mails = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    return organization.status, reviews or 0, mails or 0


def test_two_staff_verifying_at_once_verify_once_and_mail_once(committing_app: Flask) -> None:
    organization_id, staff_id, admin_id = _setup()
    start = threading.Barrier(2)
    results: list[object] = []

    def run(reviewer_id: int) -> None:
        results.append(
            _decide(
                committing_app,
                verify_organization,
                organization_id,
                reviewer_id,
                # SQLite: both wait here before the first query, so neither holds the
                # write lock the other needs; PostgreSQL: both have read 'pending'.
                before_deciding=None if TEST_DB == "sqlite" else lambda: start.wait(60),
            )
        )

    if TEST_DB == "sqlite":
        run(staff_id)
        run(admin_id)
    else:
        threads = [threading.Thread(target=run, args=(i,)) for i in (staff_id, admin_id)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(results, key=lambda r: r != "ok")[0] == "ok"
    [refused] = [r for r in results if r != "ok"]
    assert isinstance(refused, OrganizationError), results
    assert _outcome(organization_id) == (VerificationStatus.VERIFIED, 1, 1)


@pytest.mark.skipif(TEST_DB != "postgresql", reason="overlapping transactions need PostgreSQL")
def test_a_reject_read_before_a_verify_committed_is_refused(committing_app: Flask) -> None:
    """B reads 'pending', A verifies and commits, B's rejection (legal in what B read)
    matches no row: refused, nothing of B's written or mailed."""
    organization_id, staff_id, admin_id = _setup()
    b_has_read, a_committed = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def wait_for_a() -> None:
        b_has_read.set()
        assert a_committed.wait(timeout=60)

    def run_b() -> None:
        results["b"] = _decide(
            committing_app,
            lambda o, u: reject_organization(o, u, "Too late."),
            organization_id,
            admin_id,
            before_deciding=wait_for_a,
        )

    thread = threading.Thread(target=run_b)
    thread.start()
    assert b_has_read.wait(timeout=60)
    results["a"] = _decide(committing_app, verify_organization, organization_id, staff_id)
    a_committed.set()
    thread.join()

    assert results["a"] == "ok"
    assert isinstance(results["b"], OrganizationError), results
    assert _outcome(organization_id) == (VerificationStatus.VERIFIED, 1, 1)
