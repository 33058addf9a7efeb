"""Webhook endpoints an organization registers, and the outbox of their deliveries."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import code_list, intpk, text, timestamp, utc_now
from portal.extensions import db
from portal.i18n.lazy import lazy_gettext

if TYPE_CHECKING:
    from portal.organizations.models import Organization


class EventType(StrEnum):
    """What an endpoint may subscribe to (``ping`` is only ever sent by the test button)."""

    NEED_PUBLISHED = "need.published"
    NEED_AMENDED = "need.amended"
    NEED_CLOSED = "need.closed"
    INTRODUCTION_CHANGED = "introduction.changed"
    MEETING_SCHEDULED = "meeting.scheduled"


PING = "ping"

# Read in the language of the page that shows them; endpoints store the event codes.
EVENT_LABELS = {
    EventType.NEED_PUBLISHED: lazy_gettext("A need was published or reopened (every public need)"),
    EventType.NEED_AMENDED: lazy_gettext(
        "A published notice was amended (deadline, budget, documents)"
    ),
    EventType.NEED_CLOSED: lazy_gettext("A public need was closed or awarded"),
    EventType.INTRODUCTION_CHANGED: lazy_gettext(
        "One of your organization's introductions changed state"
    ),
    EventType.MEETING_SCHEDULED: lazy_gettext(
        "A meeting of yours at a trade event was published, moved or cancelled"
    ),
}


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its first attempt, or for a retry
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # every attempt failed; kept, with its log, never retried by itself


def _in(values: type[StrEnum]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class WebhookEndpoint(db.Model):
    """An HTTPS URL of an organization that receives the events it chose.

    The signing secrets are stored encrypted with a key derived from ``SECRET_KEY``
    (``portal.webhooks.signing``): the worker must read them to sign, so a hash would not
    do, and a copy of the database alone does not give them away. After a rotation the
    previous secret keeps signing too, until ``previous_secret_expires_at``.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[intpk]
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(sa.String(2000))
    description: Mapped[str] = mapped_column(sa.String(200), default="")
    events: Mapped[code_list]
    secret_encrypted: Mapped[str] = mapped_column(sa.String(500))
    previous_secret_encrypted: Mapped[str | None] = mapped_column(sa.String(500))
    previous_secret_expires_at: Mapped[dt.datetime | None]
    # Paused: new events still queue (nothing is lost), and wait until it is resumed.
    paused_at: Mapped[dt.datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[timestamp]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    organization: Mapped[Organization] = relationship()

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    @property
    def previous_secret_until(self) -> dt.datetime | None:
        """When the rotated-out secret stops signing, while it still does."""
        expires = self.previous_secret_expires_at
        if self.previous_secret_encrypted and expires is not None and expires > utc_now():
            return expires
        return None

    def __repr__(self) -> str:
        return f"<WebhookEndpoint {self.id} org={self.organization_id} {self.url!r}>"


class WebhookDelivery(db.Model):
    """One event for one endpoint: written in the transaction of the change, sent by the
    worker after the commit, retried with backoff and kept with its log whatever happens.

    ``body`` is the JSON exactly as it is sent (and signed), fixed when the event happened.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.CheckConstraint(f"status IN ({_in(DeliveryStatus)})", name="status"),
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_event"),
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[intpk]
    endpoint_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(sa.String(40))
    event_type: Mapped[str] = mapped_column(sa.String(40))
    body: Mapped[text]
    status: Mapped[str] = mapped_column(sa.String(12), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utc_now)
    last_attempt_at: Mapped[dt.datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[text]
    delivered_at: Mapped[dt.datetime | None]
    created_at: Mapped[timestamp]

    endpoint: Mapped[WebhookEndpoint] = relationship()

    def __repr__(self) -> str:
        return f"<WebhookDelivery {self.id} {self.event_type} {self.status}>"
