"""Write index events in the same transaction as every change to something searchable.

An ORM flush that touches a vendor, its capabilities, a buyer or a need adds one event per
affected document (a buyer's change reaches its needs through the drain). Bulk writers
that bypass the ORM call ``record_index_events`` themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.after_commit import CommitMark
from portal.db import utc_now
from portal.extensions import PortalSession
from portal.needs.models import Need
from portal.organizations.models import Capability, Organization
from portal.search.models import IndexEvent

CURRENT_TXID = sa.text("pg_current_xact_id()::text::bigint")
EVENTS_WRITTEN = CommitMark("search.events")
_RECORDED = "portal.search.recorded"


def affected_documents(obj: Any) -> Iterable[tuple[str, int]]:
    """The (kind, record id) pairs whose index document may change with ``obj``."""
    if isinstance(obj, Organization) and obj.id is not None:
        yield (obj.kind, obj.id)
    elif isinstance(obj, Capability) and obj.organization_id is not None:
        yield ("vendor", obj.organization_id)
    elif isinstance(obj, Need) and obj.id is not None:
        yield ("need", obj.id)


def record_index_events(session: Session, documents: Iterable[tuple[str, int]]) -> int:
    """Insert one event per document, on the session's connection and transaction.

    A document already recorded in this transaction is not recorded again: the drain
    reads its state after the commit, so one event per transaction is enough.
    """
    recorded: set[tuple[str, int]] = session.info.setdefault(_RECORDED, set())
    now = utc_now()
    rows = []
    for kind, record_id in dict.fromkeys(documents):
        if (kind, record_id) not in recorded:
            recorded.add((kind, record_id))
            rows.append({"kind": kind, "record_id": record_id, "created_at": now})
    if rows:
        connection = session.connection()
        statement = sa.insert(IndexEvent)
        if connection.dialect.name == "postgresql":
            statement = statement.values(txid=CURRENT_TXID)
        connection.execute(statement, rows)
        EVENTS_WRITTEN.mark(session)
    return len(rows)


@event.listens_for(PortalSession, "after_flush")
def _capture_changes(session: Session, flush_context: Any) -> None:
    # In after_flush new objects have their ids while new/dirty/deleted still describe
    # what was flushed; Core inserts are allowed here, ORM adds are not.
    documents: list[tuple[str, int]] = []
    for obj in chain(session.new, session.dirty, session.deleted):
        if obj in session.dirty and not session.is_modified(obj, include_collections=False):
            continue
        documents.extend(affected_documents(obj))
    if documents:
        record_index_events(session, documents)


@event.listens_for(PortalSession, "after_commit")
@event.listens_for(PortalSession, "after_soft_rollback")
def _forget_recorded(session: Session, *_: Any) -> None:
    # After a commit, a new transaction records afresh; after any rollback, SAVEPOINT
    # included, the rolled-back events are gone, so they must be recorded again.
    session.info.pop(_RECORDED, None)
