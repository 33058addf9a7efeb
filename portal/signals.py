"""The few events one feature raises and others react to, declared once.

A service sends a signal after it has flushed its change, inside the same transaction:
a receiver writes what it derives (a webhook delivery, a follower's notification, a
saved-search match) in that transaction too, so it commits with the change or not at
all, and anything sent outward happens after the commit (the outboxes' workers). A
receiver never commits, never does network work and never raises for a condition of its
own: it may only add rows. The sender imports nothing of the receivers, which subscribe
where their feature is set up, so features stop importing each other in a circle.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

need_published = _signals.signal(
    "need-published",
    doc="""A need became visible to everyone: posted or reopened while its buyer is
    verified, or found public by the worker's publication sweep (imported, or its buyer
    verified since; ``actor`` None). Sender: the Need. Keyword: ``actor`` (the User or
    None).""",
)

need_amended = _signals.signal(
    "need-amended",
    doc="""A published notice's deadline, budget or documents changed and a numbered
    amendment was written. Sender: the Need. Keywords: ``amendment`` (the row, with what
    changed), ``actor``.""",
)

need_closed = _signals.signal(
    "need-closed",
    doc="""A public need stopped being open: by a person's action (``status`` closed or
    awarded), or, found by the worker's publication sweep with ``actor`` None, because
    its closing date passed (``expired``) or its buyer is no longer verified
    (``withdrawn``). Sender: the Need. Keywords: ``status``, ``actor``.""",
)

question_answered = _signals.signal(
    "question-answered",
    doc="""A buyer answered a vendor's question about a notice in public. Sender: the
    Need. Keywords: ``question`` (the row), ``actor``.""",
)

introduction_changed = _signals.signal(
    "introduction-changed",
    doc="""An introduction moved to another state. Sender: the Introduction. Keywords:
    ``previous`` (the state it left), ``actor``.""",
)

meetings_scheduled = _signals.signal(
    "meetings-scheduled",
    doc="""A trade event's meetings were published or a published meeting was moved or
    cancelled. Sender: the MissionEvent. Keywords: ``meetings`` (the Meeting rows that
    are new or changed), ``actor``, and ``change``: "published", "moved" or "cancelled"
    (a cancelled meeting's row is already deleted; its request is loaded).""",
)
