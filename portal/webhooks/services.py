"""Webhook endpoints: who may manage them, the URL rules, secrets, and queueing events.

An organization's members register, edit, pause and delete its endpoints; trade staff
may look at them and their delivery logs but change nothing (the secrets belong to the
organization). ``queue_event`` writes one delivery row per endpoint in the caller's
transaction: it is sent after the commit by the worker (``portal.webhooks.delivery``), and
never for a change that rolled back. Services flush and never commit.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext

from portal.accounts.models import User
from portal.db import list_contains, utc_now
from portal.extensions import db
from portal.organizations.models import Organization
from portal.webhooks.models import (
    PING,
    DeliveryStatus,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
)
from portal.webhooks.signing import encrypt_secret, new_secret

URL_LENGTH = 2000
DESCRIPTION_LENGTH = 200
ENDPOINTS_PER_ORGANIZATION = 10


class WebhookError(ValueError):
    """A request the rules refuse; ``field`` names the form field it belongs beside."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- who may do what ----------------------------------------------------------------------


def _authenticated(user: User | Any) -> bool:
    return bool(getattr(user, "is_authenticated", False))


def can_manage(organization: Organization, user: User | Any) -> bool:
    """Only the organization's own members: its secrets are theirs, not staff's."""
    return _authenticated(user) and user.organization_id == organization.id


def can_view(organization: Organization, user: User | Any) -> bool:
    """Members, and trade staff (read only: the list and the delivery logs)."""
    return can_manage(organization, user) or (
        _authenticated(user) and bool(getattr(user, "is_staff", False))
    )


# --- the URL ------------------------------------------------------------------------------


def _loopback_allowed() -> bool:
    return bool(current_app.config["PORTAL_WEBHOOKS_ALLOW_LOOPBACK"])


def _is_loopback_name(host: str) -> bool:
    host = host.rstrip(".")
    return host == "localhost" or host.endswith(".localhost")


def address_problem(address: str, loopback_allowed: bool) -> str | None:
    """Why events may not go to this IP address (None: a public address, or loopback
    where allowed). Checked on the literal address when an endpoint is saved and on every
    resolved address before each delivery, so a name that points inside the network
    cannot reach it either."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if loopback_allowed else gettext("it is this machine (a loopback address)")
    if ip.is_link_local:
        return gettext("it is a link-local address (such as a cloud metadata service)")
    if ip.is_private:
        return gettext("it is a private network address, not reachable from the internet")
    if not ip.is_global or ip.is_multicast:
        return gettext("it is not a public internet address")
    return None


def check_url(url: str | None) -> str:
    """The URL as it will be used, or ``WebhookError`` saying what is wrong with it.

    HTTPS only; plain http only to this machine and only where
    ``PORTAL_WEBHOOKS_ALLOW_LOOPBACK`` is on (the tests). No user name or password in
    it (the signature proves who sends), and no address inside a private network.
    """
    url = (url or "").strip()
    if not url:
        raise WebhookError(gettext("Give the URL the events are sent to."), "url")
    if len(url) > URL_LENGTH:
        raise WebhookError(gettext("Keep the URL under %(max)s characters.", max=URL_LENGTH), "url")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise WebhookError(gettext("A URL has no spaces or line breaks."), "url")
    parts = urlsplit(url)
    try:
        host, _ = parts.hostname, parts.port
    except ValueError:
        raise WebhookError(
            gettext("The port of this URL is not a number from 1 to 65535."), "url"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not host:
        raise WebhookError(gettext("Give a full URL starting with https://."), "url")
    if parts.username is not None or parts.password is not None:
        raise WebhookError(
            gettext(
                "Leave the user name and password out of the URL: each event is signed instead."
            ),
            "url",
        )
    if parts.fragment:
        raise WebhookError(gettext("Leave out the #fragment: it is never sent to a server."), "url")
    loopback = _loopback_allowed()
    literal = _literal_address(host)
    is_local = _is_loopback_name(host) or (
        literal is not None and ipaddress.ip_address(literal).is_loopback
    )
    if scheme == "http" and not (loopback and is_local):
        raise WebhookError(gettext("Use an https:// URL: events are sent over HTTPS only."), "url")
    if _is_loopback_name(host) and not loopback:
        raise WebhookError(gettext("Events cannot be sent to this machine (localhost)."), "url")
    if literal is not None:
        problem = address_problem(literal, loopback)
        if problem:
            raise WebhookError(
                gettext(
                    "Events cannot be sent to %(host)s: %(problem)s.", host=host, problem=problem
                ),
                "url",
            )
    return url


def _literal_address(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        return None


# --- endpoints ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointValues:
    url: str
    description: str
    events: Sequence[str]


def _checked(values: EndpointValues) -> dict[str, Any]:
    events = sorted(set(values.events))
    known = {event.value for event in EventType}
    if not events:
        raise WebhookError(gettext("Choose at least one event to receive."), "events")
    if unknown := [event for event in events if event not in known]:
        raise WebhookError(gettext("Unknown event: %(names)s.", names=", ".join(unknown)), "events")
    description = " ".join((values.description or "").split())
    if len(description) > DESCRIPTION_LENGTH:
        raise WebhookError(
            gettext("Keep it under %(max)s characters.", max=DESCRIPTION_LENGTH), "description"
        )
    return {"url": check_url(values.url), "description": description, "events": events}


@dataclass(frozen=True)
class NewSecret:
    """What the page shows once: the endpoint and its secret in clear."""

    endpoint: WebhookEndpoint
    secret: str


def create_endpoint(organization: Organization, values: EndpointValues, actor: User) -> NewSecret:
    """Register an endpoint; its secret is returned here and never shown again."""
    if not can_manage(organization, actor):
        raise WebhookError(gettext("Only the organization's members register its webhooks."))
    checked = _checked(values)
    count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id == organization.id)
    )
    if (count or 0) >= ENDPOINTS_PER_ORGANIZATION:
        raise WebhookError(
            gettext(
                "An organization has at most %(max)s endpoints; delete one first.",
                max=ENDPOINTS_PER_ORGANIZATION,
            ),
            "url",
        )
    secret = new_secret()
    endpoint = WebhookEndpoint(
        organization_id=organization.id,
        secret_encrypted=encrypt_secret(secret),
        created_by_id=actor.id,
        **checked,
    )
    db.session.add(endpoint)
    db.session.flush()
    return NewSecret(endpoint, secret)


def update_endpoint(endpoint: WebhookEndpoint, values: EndpointValues) -> WebhookEndpoint:
    for name, value in _checked(values).items():
        setattr(endpoint, name, value)
    db.session.flush()
    return endpoint


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    """Remove the endpoint with its delivery log (the organization asked for it)."""
    db.session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    db.session.delete(endpoint)
    db.session.flush()


def rotation_grace() -> dt.timedelta:
    return dt.timedelta(hours=int(current_app.config["PORTAL_WEBHOOKS_ROTATION_GRACE_HOURS"]))


def rotate_secret(endpoint: WebhookEndpoint, now: dt.datetime | None = None) -> NewSecret:
    """A new secret signs from now on; the one it replaces signs too (a second ``v1``)
    until the grace period ends, so the receiver can switch without losing an event.
    A secret older than that (a second rotation within the grace period) stops at once."""
    now = now or utc_now()
    secret = new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = now + rotation_grace()
    endpoint.secret_encrypted = encrypt_secret(secret)
    db.session.flush()
    return NewSecret(endpoint, secret)


def set_paused(endpoint: WebhookEndpoint, paused: bool, now: dt.datetime | None = None) -> None:
    """Pausing holds deliveries (new events still queue); resuming sends what waited."""
    if paused and endpoint.paused_at is None:
        endpoint.paused_at = now or utc_now()
    elif not paused and endpoint.paused_at is not None:
        endpoint.paused_at = None
        # What waited for the pause to end is due now, not at its old retry time.
        db.session.execute(
            sa.update(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == endpoint.id,
                WebhookDelivery.status == DeliveryStatus.PENDING,
            )
            .values(next_attempt_at=now or utc_now())
        )
    db.session.flush()


def send_test(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A ``ping`` through the same outbox, signing and retries as every event."""
    if endpoint.paused:
        raise WebhookError(gettext("This endpoint is paused: resume it to send a test event."))
    data = {
        "message": "A test event from the portal: your endpoint receives and verifies events.",
        "organization": organization_brief(endpoint.organization),
    }
    [delivery] = queue_event(PING, data, [endpoint])
    return delivery


def retry_failed(delivery: WebhookDelivery, now: dt.datetime | None = None) -> None:
    """Give a failed delivery a new round of attempts (after the receiver was mended):
    the same event, id and body, due now; its last error stays in the log until then."""
    if delivery.status != DeliveryStatus.FAILED:
        raise WebhookError(gettext("Only a failed delivery is retried by hand; this one is not."))
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now or utc_now()
    db.session.flush()


def find_delivery(endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery | None:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    return delivery if delivery is not None and delivery.endpoint_id == endpoint.id else None


def endpoints_of(organization: Organization) -> list[WebhookEndpoint]:
    return list(
        db.session.scalars(
            sa.select(WebhookEndpoint)
            .where(WebhookEndpoint.organization_id == organization.id)
            .order_by(WebhookEndpoint.id)
        )
    )


def find_endpoint(organization: Organization, endpoint_id: int) -> WebhookEndpoint | None:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    return (
        endpoint if endpoint is not None and endpoint.organization_id == organization.id else None
    )


def deliveries_query(endpoint: WebhookEndpoint) -> sa.Select[tuple[WebhookDelivery]]:
    """The delivery log, newest first."""
    return (
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.id.desc())
    )


def delivery_counts(endpoint: WebhookEndpoint) -> dict[str, int]:
    rows = db.session.execute(
        sa.select(WebhookDelivery.status, sa.func.count())
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .group_by(WebhookDelivery.status)
    )
    counts = dict.fromkeys((status.value for status in DeliveryStatus), 0)
    counts.update({status: count for status, count in rows})
    return counts


# --- events -------------------------------------------------------------------------------


def subscribed_endpoints(
    event_type: EventType, organization_ids: Iterable[int] | None = None
) -> list[WebhookEndpoint]:
    """Endpoints that chose ``event_type``, of the organizations named (None: any)."""
    query = sa.select(WebhookEndpoint).where(list_contains(WebhookEndpoint.events, event_type))
    if organization_ids is not None:
        ids = sorted(set(organization_ids))
        if not ids:
            return []
        query = query.where(WebhookEndpoint.organization_id.in_(ids))
    return list(db.session.scalars(query.order_by(WebhookEndpoint.id)))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(12)


def queue_event(
    event_type: str,
    data: dict[str, Any],
    endpoints: Iterable[WebhookEndpoint],
    now: dt.datetime | None = None,
) -> list[WebhookDelivery]:
    """One delivery per endpoint of one event, all with the same id and body; only adds
    rows (what a signal receiver may do), so they commit with the change or not at all."""
    endpoints = list(endpoints)
    if not endpoints:
        return []
    now = now or utc_now()
    event_id = new_event_id()
    body = json.dumps(
        {"id": event_id, "type": event_type, "created": _iso(now), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    deliveries = [
        WebhookDelivery(
            endpoint_id=endpoint.id,
            event_id=event_id,
            event_type=event_type,
            body=body,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            last_error="",
            created_at=now,
        )
        for endpoint in endpoints
    ]
    db.session.add_all(deliveries)
    return deliveries


def organization_brief(organization: Organization) -> dict[str, Any]:
    """What any payload says of an organization: public facts, never a contact."""
    return {
        "ref": organization.ref,
        "name": organization.name,
        "kind": organization.kind,
        "country": organization.country,
    }


def iso_time(moment: dt.datetime | None) -> str | None:
    return None if moment is None else _iso(moment)
