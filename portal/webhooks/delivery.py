"""Sending webhook deliveries after the commit: claim, POST concurrently, record.

A pass claims due rows in a short transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several workers split the work; a lease pushes ``next_attempt_at`` out
so a row is not claimed twice), sends them with no transaction open, then records each
endpoint's outcomes as soon as that endpoint is done. Endpoints are sent to at once by a
small thread pool, each with a short timeout, and one endpoint's rows one after another
(in the order the events happened); the first failure of an endpoint ends its turn in
this pass, so a receiver that is down or slow costs one timeout per pass and delays
nobody else. 2xx is delivered; anything else is retried with exponential backoff up to
``PORTAL_WEBHOOKS_MAX_ATTEMPTS``, then marked failed and kept with its log.

Before connecting, the URL's host is resolved and every address checked
(``services.address_problem``), and the connection goes to the address that was checked:
a name pointing into a private network is refused, even if it changed since it was saved.
Redirects are not followed.
"""

from __future__ import annotations

import datetime as dt
import http.client
import logging
import socket
import ssl
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from portal.db import utc_now
from portal.extensions import db
from portal.mail.services import retry_delay
from portal.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from portal.webhooks.services import address_problem
from portal.webhooks.signing import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    UnreadableSecret,
    decrypt_secret,
    signature_header,
)

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
PER_ENDPOINT = 20  # rows of one endpoint in one pass: a backlog cannot fill the batch
USER_AGENT = "SmartCityPortal-Webhooks/1"
RESPONSE_KEPT = 300  # characters of a refusing answer kept in the log


@dataclass(frozen=True)
class ClaimedDelivery:
    """A plain copy of a claimed row and what signing it needs, for a thread to send."""

    id: int
    endpoint_id: int
    url: str
    event_id: str
    event_type: str
    body: str
    secrets: tuple[str, ...]
    problem: str | None = None  # set when it cannot even be attempted (unreadable secret)


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    status_code: int | None = None
    error: str = ""
    attempted: bool = True

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class SendSettings:
    timeout: float
    loopback_allowed: bool


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    held: int = 0  # not attempted: their endpoint failed just before in this pass
    endpoints: set[int] = field(default_factory=set)

    @property
    def handled(self) -> int:
        return self.delivered + self.retrying + self.failed


def _secrets_of(endpoint: WebhookEndpoint, now: dt.datetime) -> tuple[str, ...]:
    in_use = [decrypt_secret(endpoint.secret_encrypted)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires is not None and expires > now:
        in_use.append(decrypt_secret(endpoint.previous_secret_encrypted))
    return tuple(in_use)


def _due_ids(now: dt.datetime, limit: int) -> list[int]:
    """Due rows of endpoints that are not paused, at most PER_ENDPOINT of each."""
    ranked = (
        sa.select(
            WebhookDelivery.id,
            sa.func.row_number()
            .over(partition_by=WebhookDelivery.endpoint_id, order_by=WebhookDelivery.id)
            .label("position"),
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.paused_at.is_(None),
        )
        .subquery()
    )
    return list(
        db.session.scalars(
            sa.select(ranked.c.id)
            .where(ranked.c.position <= PER_ENDPOINT)
            .order_by(ranked.c.id)
            .limit(limit)
        )
    )


def claim_due(limit: int = 100, now: dt.datetime | None = None) -> list[ClaimedDelivery]:
    """Take due rows for this process (a lease) and commit; returns plain copies."""
    now = now or utc_now()
    ids = _due_ids(now, limit)
    if not ids:
        db.session.commit()
        return []
    rows = db.session.scalars(
        sa.select(WebhookDelivery)
        .where(
            WebhookDelivery.id.in_(ids),
            # Checked again under the lock: another worker may have taken it meanwhile.
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
        )
        .order_by(WebhookDelivery.id)
        .with_for_update(skip_locked=True)
    ).all()
    endpoints: dict[int, WebhookEndpoint] = {}
    claimed = []
    for row in rows:
        endpoint = endpoints.get(row.endpoint_id) or db.session.get(
            WebhookEndpoint, row.endpoint_id
        )
        if endpoint is None:  # deleted meanwhile: its rows go with it
            continue
        endpoints[row.endpoint_id] = endpoint
        row.attempts += 1
        row.last_attempt_at = now
        row.next_attempt_at = now + LEASE
        problem = None
        try:
            in_use = _secrets_of(endpoint, now)
        except UnreadableSecret as exc:
            in_use, problem = (), str(exc)
        claimed.append(
            ClaimedDelivery(
                row.id,
                row.endpoint_id,
                endpoint.url,
                row.event_id,
                row.event_type,
                row.body,
                in_use,
                problem,
            )
        )
    db.session.commit()
    return claimed


# --- sending (no database in here: it runs in the pool's threads) -------------------------


class RefusedAddress(OSError):
    """The host resolves to an address events may not go to."""


def _checked_address(host: str, port: int, settings: SendSettings) -> str:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc.strerror or exc}") from None
    addresses = [str(info[4][0]) for info in found]
    for address in addresses:
        problem = address_problem(address, settings.loopback_allowed)
        if problem:
            raise RefusedAddress(f"{host} resolves to {address}: {problem}")
    if not addresses:
        raise OSError(f"{host} has no address")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever the name resolves to now."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.checked_address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.checked_address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As above, with TLS: the certificate is checked against the URL's host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self.tls_context = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls_context)
        self.checked_address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.checked_address, self.port), self.timeout)
        self.sock = self.tls_context.wrap_socket(sock, server_hostname=self.host)


def post(delivery: ClaimedDelivery, settings: SendSettings) -> Outcome:
    """One signed POST; any error becomes an outcome, never an exception."""
    if delivery.problem:
        return Outcome(delivery.id, error=delivery.problem)
    parts = urlsplit(delivery.url)
    host = parts.hostname or ""
    https = parts.scheme.lower() == "https"
    port = parts.port or (443 if https else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: delivery.event_id,
        EVENT_TYPE_HEADER: delivery.event_type,
        SIGNATURE_HEADER: signature_header(list(delivery.secrets), int(time.time()), body),
    }
    connection: http.client.HTTPConnection | None = None
    try:
        address = _checked_address(host, port, settings)
        kind = _PinnedHTTPSConnection if https else _PinnedHTTPConnection
        connection = kind(host, port, address, settings.timeout)
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read(RESPONSE_KEPT).decode("utf-8", "replace")
        if 200 <= response.status < 300:
            return Outcome(delivery.id, response.status)
        reason = f"HTTP {response.status} {response.reason}".strip()
        return Outcome(delivery.id, response.status, f"{reason}: {answer}".rstrip(": "))
    except RefusedAddress as exc:
        return Outcome(delivery.id, error=f"refused: {exc}")
    except TimeoutError:
        return Outcome(delivery.id, error=f"no answer within {settings.timeout:g} s")
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(delivery.id, error=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # e.g. a URL http.client refuses: this delivery fails alone
        log.exception("webhook delivery %s could not be sent", delivery.id)
        return Outcome(delivery.id, error=f"cannot send: {type(exc).__name__}: {exc}")
    finally:
        if connection is not None:
            connection.close()


def send_endpoint_batch(deliveries: list[ClaimedDelivery], settings: SendSettings) -> list[Outcome]:
    """One endpoint's rows in order; after its first failure the rest wait (not
    attempted), so a down receiver is asked once a pass, not once a row."""
    outcomes: list[Outcome] = []
    for index, delivery in enumerate(deliveries):
        outcome = post(delivery, settings)
        outcomes.append(outcome)
        if not outcome.delivered:
            outcomes += [
                Outcome(later.id, error="", attempted=False) for later in deliveries[index + 1 :]
            ]
            break
    return outcomes


# --- recording ---------------------------------------------------------------------------


def _record(outcomes: list[Outcome], report: DeliveryReport, max_attempts: int) -> None:
    now = utc_now()
    retry_at = None
    for outcome in outcomes:
        row = db.session.get(WebhookDelivery, outcome.delivery_id)
        if row is None:  # its endpoint was deleted while it was out
            continue
        report.endpoints.add(row.endpoint_id)
        if not outcome.attempted:
            # Not sent: it keeps its count, and waits for the failed one's retry.
            row.attempts = max(row.attempts - 1, 0)
            row.next_attempt_at = retry_at or now
            report.held += 1
            continue
        row.last_status_code = outcome.status_code
        if outcome.delivered:
            row.status = DeliveryStatus.DELIVERED
            row.delivered_at = now
            row.last_error = ""
            report.delivered += 1
            continue
        row.last_error = outcome.error[:2000]
        retry_at = now + retry_delay(row.attempts)
        if row.attempts >= max_attempts:
            row.status = DeliveryStatus.FAILED
            report.failed += 1
            log.warning(
                "webhook delivery %s to endpoint %s failed for good after %s attempts: %s",
                row.id,
                row.endpoint_id,
                row.attempts,
                outcome.error,
            )
        else:
            row.next_attempt_at = retry_at
            report.retrying += 1
    db.session.commit()


def deliver_due(limit: int = 100, now: dt.datetime | None = None) -> DeliveryReport:
    """One pass: claim what is due at ``now``, send concurrently per endpoint, record
    each endpoint's outcomes as it finishes (a slow endpoint keeps no one else waiting)."""
    config = current_app.config
    settings = SendSettings(
        timeout=float(config["PORTAL_WEBHOOKS_TIMEOUT"]),
        loopback_allowed=bool(config["PORTAL_WEBHOOKS_ALLOW_LOOPBACK"]),
    )
    max_attempts = int(config["PORTAL_WEBHOOKS_MAX_ATTEMPTS"])
    report = DeliveryReport()
    claimed = claim_due(limit, now)
    if not claimed:
        return report
    by_endpoint: dict[int, list[ClaimedDelivery]] = defaultdict(list)
    for delivery in claimed:
        by_endpoint[delivery.endpoint_id].append(delivery)
    threads = max(1, min(int(config["PORTAL_WEBHOOKS_THREADS"]), len(by_endpoint)))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook") as pool:
        futures = [
            pool.submit(send_endpoint_batch, batch, settings) for batch in by_endpoint.values()
        ]
        for future in as_completed(futures):
            _record(future.result(), report, max_attempts)
    return report


def deliver_all(max_passes: int = 20) -> DeliveryReport:
    """Passes until nothing is due (or ``max_passes``): the worker's and the CLI's."""
    total = DeliveryReport()
    for _ in range(max_passes):
        report = deliver_due()
        total.delivered += report.delivered
        total.retrying += report.retrying
        total.failed += report.failed
        total.held += report.held
        total.endpoints |= report.endpoints
        if report.handled == 0:
            break
    return total


def pending_count() -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.status == DeliveryStatus.PENDING)
        )
        or 0
    )
