"""Work that must wait for a commit: a mark set inside the transaction that survives it.

Mail and index events are written in the caller's transaction; their delivery runs after
the request only if that transaction committed. One ``CommitMark`` per kind of work.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.extensions import PortalSession


class CommitMark:
    """``mark`` inside a transaction; ``take`` after it: True once if it committed."""

    def __init__(self, name: str) -> None:
        self._pending = f"portal.{name}.pending"
        self._committed = f"portal.{name}.committed"
        event.listen(PortalSession, "after_commit", self._on_commit)
        event.listen(PortalSession, "after_soft_rollback", self._on_rollback)

    def mark(self, session: Session) -> None:
        session.info[self._pending] = True

    def take(self, session: Session) -> bool:
        return bool(session.info.pop(self._committed, False))

    def _on_commit(self, session: Session) -> None:
        if session.info.pop(self._pending, False):
            session.info[self._committed] = True

    def _on_rollback(self, session: Session, previous_transaction: Any) -> None:
        # A SAVEPOINT rolled back inside a transaction does not undo what came before it;
        # only the end of the whole transaction does.
        if not session.in_transaction():
            session.info.pop(self._pending, None)
