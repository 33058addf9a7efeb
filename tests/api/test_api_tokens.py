"""Personal API tokens: made in account settings, shown once, stored hashed, revoked."""

from __future__ import annotations

import hashlib
import re

import pytest
import sqlalchemy as sa
from api.api_factories import API, ApiClient, make_token
from flask import Flask
from flask.testing import FlaskClient
from organizations.directory_factories import log_in, make_member, make_org, make_user

from portal.accounts.models import Role, User
from portal.api import tokens
from portal.api.models import ApiToken
from portal.db import utc_now
from portal.extensions import db
from portal.organizations.models import OrganizationKind

SECRET = re.compile(r"smp_[A-Za-z0-9_-]{43}")


@pytest.fixture
def vendor_member(app: Flask) -> User:
    return make_member(make_org(OrganizationKind.VENDOR, "Token Vendor Inc"))


def test_a_member_makes_a_token_sees_it_once_and_only_its_hash_is_kept(
    client: FlaskClient, api: ApiClient, vendor_member
) -> None:
    log_in(client, vendor_member)
    settings = client.get("/account")
    assert 'href="/account/api-tokens"' in settings.text
    made = client.post("/account/api-tokens", data={"name": "CRM sync"})
    assert made.status_code == 201
    [secret] = SECRET.findall(made.text)
    assert "shown only this once" in made.text
    assert made.headers["Cache-Control"] == "no-store"
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == vendor_member.id))
    assert row is not None and row.scope == "read" and row.name == "CRM sync"
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {row.token_hash, row.hint} and secret.startswith(row.hint)
    assert len(secret) - len("smp_") >= 43  # 256 random bits, base64url
    # never shown again
    page = client.get("/account/api-tokens")
    assert page.status_code == 200 and secret not in page.text and row.hint in page.text
    assert "CRM sync" in page.text and "never" in page.text
    # it works, and its use is recorded
    me = api.get(f"{API}/me", secret)
    assert me.status_code == 200
    assert me.get_json()["organization"]["name"] == "Token Vendor Inc"
    assert me.get_json()["token"]["scope"] == "read"
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_at is not None  # type: ignore[union-attr]


def test_a_revoked_token_opens_nothing(client: FlaskClient, api: ApiClient, vendor_member) -> None:
    secret = make_token(vendor_member, "old script")
    assert api.get(f"{API}/me", secret).status_code == 200
    log_in(client, vendor_member)
    [row] = tokens.tokens_of(vendor_member)
    revoked = client.post(f"/account/api-tokens/{row.id}/revoke", follow_redirects=True)
    assert revoked.status_code == 200 and "is revoked" in revoked.text
    for path in ("/me", "/me/leads", "/needs", "/"):
        response = api.get(f"{API}{path}", secret)
        assert response.status_code == 401, path
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer smp_" + "x" * 43,  # well formed, unknown
        "Bearer not-a-token",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer smp_" + "x" * 4000,
    ],
)
def test_an_unknown_or_malformed_token_is_401(api: ApiClient, header: str) -> None:
    response = api.get(f"{API}/needs", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["title"] == "Unauthorized"


def test_member_endpoints_need_a_token_not_a_session(
    client: FlaskClient, api: ApiClient, vendor_member
) -> None:
    log_in(client, vendor_member)  # a session cookie opens nothing in the API
    for path in ("/me", "/me/leads", "/me/introductions", "/me/agenda"):
        response = api.get(f"{API}{path}")
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_of_a_deactivated_account_is_401(api: ApiClient, vendor_member) -> None:
    secret = make_token(vendor_member)
    vendor_member.active = False
    db.session.commit()
    assert api.get(f"{API}/me", secret).status_code == 401


def test_staff_have_no_tokens(client: FlaskClient, app: Flask) -> None:
    staff = make_user(Role.STAFF)
    log_in(client, staff)
    assert client.get("/account/api-tokens").status_code == 403
    assert client.post("/account/api-tokens", data={"name": "x"}).status_code == 403
    assert "/account/api-tokens" not in client.get("/account").text
    with pytest.raises(tokens.TokenError):
        tokens.create_token(staff, "x")


def test_a_token_needs_a_name_and_active_tokens_are_limited(
    client: FlaskClient, vendor_member
) -> None:
    log_in(client, vendor_member)
    empty = client.post("/account/api-tokens", data={"name": "  "})
    assert empty.status_code == 400 and "Give the token a name" in empty.text
    for number in range(tokens.MAX_ACTIVE_TOKENS):
        make_token(vendor_member, f"token {number}")
    refused = client.post("/account/api-tokens", data={"name": "one too many"})
    assert refused.status_code == 400 and "revoke one" in refused.text
    assert not SECRET.search(refused.text)


def test_one_cannot_revoke_someone_elses_token(client: FlaskClient, vendor_member) -> None:
    secret = make_token(vendor_member)
    [row] = tokens.tokens_of(vendor_member)
    other = make_member(make_org(OrganizationKind.VENDOR, "Other Vendor"))
    log_in(client, other)
    assert client.post(f"/account/api-tokens/{row.id}/revoke").status_code == 404
    db.session.expire_all()
    assert tokens.authenticate(secret) is not None


def test_last_used_is_written_at_most_once_a_minute(vendor_member) -> None:
    make_token(vendor_member)
    [row] = tokens.tokens_of(vendor_member)
    now = utc_now()
    assert tokens.mark_used(row, now)
    assert not tokens.mark_used(row, now + tokens.LAST_USED_RESOLUTION / 2)
    assert tokens.mark_used(row, now + tokens.LAST_USED_RESOLUTION)
