"""The webhook pages: a member registers an endpoint and sees its secret once, edits,
tests, pauses, rotates and deletes it; staff see the list and the log, read only."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from organizations.directory_factories import log_in, make_org, make_user
from support import count_rows
from webhooks.webhook_helpers import Receiver

from portal.accounts.models import Role
from portal.extensions import db
from portal.organizations.models import Organization, OrganizationKind
from portal.webhooks.delivery import deliver_due
from portal.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from portal.webhooks.signing import decrypt_secret


def _member(client: FlaskClient) -> Organization:
    organization = make_org(OrganizationKind.VENDOR, "Hook Vendor")
    log_in(client, make_user(Role.VENDOR, organization))
    return organization


def _create(client: FlaskClient, organization: Organization, url: str) -> tuple[str, str]:
    response = client.post(
        f"/organizations/{organization.ref}/webhooks/new",
        data={"url": url, "description": "CRM", "events": ["need.published", "need.closed"]},
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    secret = page.split('id="webhook-secret" type="text" readonly value="')[1].split('"')[0]
    return page, secret


def test_a_member_registers_an_endpoint_and_sees_its_secret_once(
    loopback: Flask, client: FlaskClient, receiver: Receiver
) -> None:
    organization = _member(client)
    page, secret = _create(client, organization, receiver.url)

    assert secret.startswith("whsec_") and "shown only this once" in page
    endpoint = db.session.scalar(sa.select(WebhookEndpoint))
    assert endpoint.events == ["need.closed", "need.published"]
    assert secret not in endpoint.secret_encrypted  # stored encrypted
    assert decrypt_secret(endpoint.secret_encrypted) == secret
    detail = client.get(f"/organizations/{organization.ref}/webhooks/{endpoint.id}")
    assert detail.status_code == 200
    assert secret not in detail.get_data(as_text=True)
    listing = client.get(f"/organizations/{organization.ref}/webhooks").get_data(as_text=True)
    assert receiver.url in listing and secret not in listing


def test_a_refused_url_is_said_beside_the_field(loopback: Flask, client: FlaskClient) -> None:
    organization = _member(client)
    response = client.post(
        f"/organizations/{organization.ref}/webhooks/new",
        data={"url": "http://hooks.example.org/in", "events": ["need.published"]},
    )
    assert response.status_code == 400
    assert "https://" in response.get_data(as_text=True)
    no_events = client.post(
        f"/organizations/{organization.ref}/webhooks/new",
        data={"url": "https://hooks.example.org/in"},
    )
    assert no_events.status_code == 400
    assert "Choose at least one event" in no_events.get_data(as_text=True)
    assert count_rows(WebhookEndpoint) == 0


def test_the_test_button_sends_a_ping_that_shows_in_the_log(
    loopback: Flask, client: FlaskClient, receiver: Receiver
) -> None:
    organization = _member(client)
    _create(client, organization, receiver.url)
    endpoint = db.session.scalar(sa.select(WebhookEndpoint))
    base = f"/organizations/{organization.ref}/webhooks/{endpoint.id}"

    assert client.post(f"{base}/test").status_code == 303
    assert deliver_due().delivered == 1

    log = client.get(base).get_data(as_text=True)
    assert "ping" in log and "delivered" in log and "HTTP 200" in log
    assert len(receiver.requests) == 1


def test_edit_pause_resume_rotate_and_delete(
    loopback: Flask, client: FlaskClient, receiver: Receiver
) -> None:
    organization = _member(client)
    _, first_secret = _create(client, organization, receiver.url)
    endpoint = db.session.scalar(sa.select(WebhookEndpoint))
    base = f"/organizations/{organization.ref}/webhooks/{endpoint.id}"

    edited = client.post(
        f"{base}/edit", data={"url": receiver.url, "events": ["introduction.changed"]}
    )
    assert edited.status_code == 303
    db.session.refresh(endpoint)
    assert endpoint.events == ["introduction.changed"]

    assert client.post(f"{base}/pause").status_code == 303
    db.session.refresh(endpoint)
    assert endpoint.paused
    refused = client.post(f"{base}/test", follow_redirects=True).get_data(as_text=True)
    assert "resume it to send a test event" in refused
    assert client.post(f"{base}/resume").status_code == 303
    db.session.refresh(endpoint)
    assert not endpoint.paused

    rotated = client.post(f"{base}/rotate")
    assert rotated.status_code == 200
    page = rotated.get_data(as_text=True)
    assert "previous secret keeps signing" in page and first_secret not in page
    db.session.refresh(endpoint)
    assert decrypt_secret(endpoint.previous_secret_encrypted) == first_secret

    client.post(f"{base}/test")
    assert client.post(f"{base}/delete").status_code == 303
    assert count_rows(WebhookEndpoint) == 0
    assert count_rows(WebhookDelivery) == 0


def test_staff_see_the_log_but_change_nothing(
    loopback: Flask, client: FlaskClient, receiver: Receiver
) -> None:
    organization = _member(client)
    _create(client, organization, receiver.url)
    endpoint = db.session.scalar(sa.select(WebhookEndpoint))
    base = f"/organizations/{organization.ref}/webhooks/{endpoint.id}"
    client.post(f"{base}/test")
    receiver.status = 500
    deliver_due()

    log_in(client, make_user(Role.STAFF))
    page = client.get(base).get_data(as_text=True)
    assert "HTTP 500" in page and "pending" in page
    assert "Rotate the secret" not in page and "Send a test event" not in page
    assert client.post(f"{base}/rotate").status_code == 403
    assert client.post(f"{base}/delete").status_code == 403
    row = db.session.scalar(sa.select(WebhookDelivery))
    assert row.status == DeliveryStatus.PENDING


def test_the_cli_delivers_what_is_due(
    loopback: Flask, client: FlaskClient, receiver: Receiver
) -> None:
    organization = _member(client)
    _create(client, organization, receiver.url)
    endpoint = db.session.scalar(sa.select(WebhookEndpoint))
    client.post(f"/organizations/{organization.ref}/webhooks/{endpoint.id}/test")

    runner = loopback.test_cli_runner()
    assert "1 delivery(ies) waiting" in runner.invoke(args=["webhooks", "status"]).output
    result = runner.invoke(args=["webhooks", "deliver"])
    assert result.exit_code == 0, result.output
    assert "delivered 1" in result.output
    assert len(receiver.requests) == 1


def test_a_failed_delivery_is_retried_by_hand_once_the_receiver_is_mended(
    loopback: Flask, client: FlaskClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(loopback.config, "PORTAL_WEBHOOKS_MAX_ATTEMPTS", 1)
    organization = _member(client)
    _create(client, organization, receiver.url)
    endpoint = db.session.scalar(sa.select(WebhookEndpoint))
    base = f"/organizations/{organization.ref}/webhooks/{endpoint.id}"
    client.post(f"{base}/test")
    receiver.status = 500
    assert deliver_due().failed == 1
    row = db.session.scalar(sa.select(WebhookDelivery))
    assert "Retry" in client.get(base).get_data(as_text=True)

    receiver.status = 200
    assert client.post(f"{base}/deliveries/{row.id}/retry").status_code == 303
    assert deliver_due().delivered == 1
    db.session.refresh(row)
    assert (row.status, row.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert len(receiver.requests) == 2

    again = client.post(f"{base}/deliveries/{row.id}/retry", follow_redirects=True)
    assert "Only a failed delivery" in again.get_data(as_text=True)
