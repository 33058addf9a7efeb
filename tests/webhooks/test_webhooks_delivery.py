"""Delivery against real receivers on loopback: signatures, retries, giving up, rotation,
pausing, and one slow receiver not holding back another."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import threading
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from webhooks.webhook_helpers import Receiver, closed_port, make_endpoint

from portal import worker
from portal.db import utc_now
from portal.extensions import db
from portal.webhooks.delivery import deliver_due
from portal.webhooks.models import DeliveryStatus, WebhookDelivery
from portal.webhooks.services import rotate_secret, send_test, set_paused
from portal.webhooks.signing import verify


def deliveries() -> list[WebhookDelivery]:
    return list(db.session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)))


def later(**delta: float) -> dt.datetime:
    return utc_now() + dt.timedelta(**delta)


def test_a_delivery_is_signed_and_verifies_with_the_secret(
    loopback: Flask, receiver: Receiver
) -> None:
    created = make_endpoint(receiver.url)
    send_test(created.endpoint)
    db.session.commit()

    report = deliver_due()

    assert report.delivered == 1
    [request] = receiver.requests
    assert request.path == "/hooks/portal"
    assert request.headers["Content-Type"] == "application/json"
    header = request.headers["Portal-Signature"]
    assert verify(header, request.body, created.secret, now=int(time.time()))
    assert not verify(header, request.body, "whsec_not-the-secret", now=int(time.time()))
    assert not verify(header, request.body + b" ", created.secret, now=int(time.time()))
    event = json.loads(request.body)
    assert set(event) == {"id", "type", "created", "data"}
    assert event["type"] == "ping"
    assert request.headers["Portal-Event-Id"] == event["id"]
    [row] = deliveries()
    assert row.status == DeliveryStatus.DELIVERED
    assert (row.attempts, row.last_status_code, row.last_error) == (1, 200, "")


def test_a_receiver_that_was_down_gets_the_event_when_it_is_up_again(
    loopback: Flask, receivers: Callable[..., Receiver]
) -> None:
    port = closed_port()
    created = make_endpoint(f"http://127.0.0.1:{port}/hooks/portal")
    send_test(created.endpoint)
    db.session.commit()

    report = deliver_due()  # nothing listens: refused

    assert (report.delivered, report.retrying) == (0, 1)
    [row] = deliveries()
    assert row.status == DeliveryStatus.PENDING
    assert row.attempts == 1 and row.last_status_code is None
    assert "refused" in row.last_error.lower()
    assert row.next_attempt_at > utc_now()  # backoff: not retried at once
    assert deliver_due().handled == 0

    receiver = receivers(port)  # up again, on the same address
    report = deliver_due(now=later(hours=1))

    assert report.delivered == 1
    assert receiver.wait_for(1)
    db.session.refresh(row)
    assert row.status == DeliveryStatus.DELIVERED
    assert (row.attempts, row.last_status_code) == (2, 200)
    assert receiver.requests[0].headers["Portal-Event-Id"] == row.event_id


def test_an_error_answer_is_retried_with_the_same_event_id(
    loopback: Flask, receiver: Receiver
) -> None:
    created = make_endpoint(receiver.url)
    send_test(created.endpoint)
    db.session.commit()
    receiver.status = 503

    assert deliver_due().retrying == 1
    [row] = deliveries()
    assert (row.status, row.last_status_code) == (DeliveryStatus.PENDING, 503)
    assert "503" in row.last_error

    receiver.status = 202
    assert deliver_due(now=later(hours=1)).delivered == 1
    first, second = receiver.requests
    assert first.headers["Portal-Event-Id"] == second.headers["Portal-Event-Id"]
    assert first.body == second.body
    db.session.refresh(row)
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.DELIVERED, 2, 202)


def test_after_the_last_attempt_a_delivery_is_failed_and_kept(
    loopback: Flask, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(loopback.config, "PORTAL_WEBHOOKS_MAX_ATTEMPTS", 2)
    created = make_endpoint(receiver.url)
    send_test(created.endpoint)
    db.session.commit()
    receiver.status = 500

    assert deliver_due().retrying == 1
    assert deliver_due(now=later(hours=1)).failed == 1
    assert deliver_due(now=later(days=30)).handled == 0  # never retried by itself

    [row] = deliveries()
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.FAILED, 2, 500)
    assert len(receiver.requests) == 2


def test_one_slow_receiver_does_not_hold_back_another(
    loopback: Flask, receivers: Callable[..., Receiver]
) -> None:
    slow, fast = receivers(), receivers()
    slow.gate = threading.Event()
    slow_endpoint = make_endpoint(slow.url).endpoint  # the first in the batch
    fast_endpoint = make_endpoint(fast.url).endpoint
    for endpoint in (slow_endpoint, fast_endpoint):
        send_test(endpoint)
    db.session.commit()

    # The pass runs in its own thread (with this test's context: the same app and
    # session), so that the test can watch the receivers while it runs.
    context = contextvars.copy_context()
    reports = []
    worker = threading.Thread(target=lambda: reports.append(context.run(deliver_due)))
    worker.start()
    try:
        assert slow.wait_for(1), "the slow receiver was never called"
        # The slow receiver holds its request open until released: the other endpoint
        # got its event meanwhile.
        assert fast.wait_for(1), "the fast receiver waited for the slow one"
    finally:
        slow.gate.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
    assert reports[0].delivered == 2
    assert {row.status for row in deliveries()} == {DeliveryStatus.DELIVERED}


def test_a_down_receiver_is_asked_once_per_pass_and_its_other_events_wait(
    loopback: Flask, receiver: Receiver
) -> None:
    created = make_endpoint(receiver.url)
    for _ in range(3):
        send_test(created.endpoint)
    db.session.commit()
    receiver.status = 500

    report = deliver_due()

    assert (report.retrying, report.held) == (1, 2)
    assert len(receiver.requests) == 1
    first, *rest = deliveries()
    assert first.attempts == 1
    assert all(row.attempts == 0 and row.next_attempt_at == first.next_attempt_at for row in rest)

    receiver.status = 200
    assert deliver_due(now=later(hours=1)).delivered == 3
    ids = [json.loads(request.body)["id"] for request in receiver.requests[1:]]
    assert ids == [row.event_id for row in deliveries()]  # in the order they happened


def test_after_a_rotation_both_secrets_sign_until_the_grace_period_ends(
    loopback: Flask, receiver: Receiver
) -> None:
    created = make_endpoint(receiver.url)
    endpoint = created.endpoint
    rotated = rotate_secret(endpoint)
    assert rotated.secret != created.secret
    send_test(endpoint)
    db.session.commit()

    deliver_due()
    request = receiver.requests[-1]
    header = request.headers["Portal-Signature"]
    assert header.count("v1=") == 2
    for secret in (rotated.secret, created.secret):
        assert verify(header, request.body, secret, now=int(time.time()))

    send_test(endpoint)
    db.session.commit()
    deliver_due(now=endpoint.previous_secret_expires_at + dt.timedelta(seconds=1))
    request = receiver.requests[-1]
    header = request.headers["Portal-Signature"]
    assert header.count("v1=") == 1
    assert verify(header, request.body, rotated.secret, now=int(time.time()))
    assert not verify(header, request.body, created.secret, now=int(time.time()))


def test_a_paused_endpoint_holds_its_events_until_resumed(
    loopback: Flask, receiver: Receiver
) -> None:
    created = make_endpoint(receiver.url)
    endpoint = created.endpoint
    send_test(endpoint)
    set_paused(endpoint, True)
    db.session.commit()

    assert deliver_due().handled == 0
    assert receiver.requests == []

    set_paused(endpoint, False)
    db.session.commit()
    assert deliver_due().delivered == 1
    assert len(receiver.requests) == 1


def test_a_name_that_resolves_to_a_refused_address_is_not_called(
    loopback: Flask, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked again when sending, on the resolved addresses: localhost is loopback."""
    created = make_endpoint(f"http://localhost:{receiver.port}/hooks/portal")
    send_test(created.endpoint)
    db.session.commit()
    monkeypatch.setitem(loopback.config, "PORTAL_WEBHOOKS_ALLOW_LOOPBACK", False)

    assert deliver_due().retrying == 1

    assert receiver.requests == []
    [row] = deliveries()
    assert "loopback" in row.last_error


def test_a_secret_that_cannot_be_read_fails_the_attempt_with_the_reason(
    loopback: Flask, receiver: Receiver
) -> None:
    created = make_endpoint(receiver.url)
    created.endpoint.secret_encrypted = "not-a-fernet-token"
    send_test(created.endpoint)
    db.session.commit()

    assert deliver_due().retrying == 1
    assert receiver.requests == []
    [row] = deliveries()
    assert "rotate the secret" in row.last_error


def test_the_worker_has_a_webhooks_pass_that_sends_what_is_due(
    loopback: Flask, receiver: Receiver
) -> None:
    created = make_endpoint(receiver.url)
    send_test(created.endpoint)
    db.session.commit()

    assert ("webhooks", worker.webhooks_pass) in worker.PASSES
    assert worker.webhooks_pass() == 1
    assert len(receiver.requests) == 1
    assert worker.webhooks_pass() == 0
