"""Error pages: they render even after a statement broke the request's transaction."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from organizations.directory_factories import log_in, make_member, make_org

from portal.accounts import services
from portal.extensions import db


def test_the_500_page_renders_for_a_logged_in_user_after_a_failed_statement(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: on PostgreSQL a failed statement aborts the transaction, and the error
    page (which loads the user's organization for the menu) failed in turn."""
    member = make_member(make_org())
    log_in(client, member)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # as in production

    def broken_update(*args: object, **kwargs: object) -> None:
        db.session.execute(sa.text("SELECT no_such_column FROM no_such_table"))

    monkeypatch.setattr(services, "update_profile", broken_update)
    db.session.expire_all()  # the menu loads the organization again, as a new request does

    response = client.post("/account", data={"profile-full_name": "Ada", "profile-timezone": "UTC"})

    assert response.status_code == 500
    assert "Something went wrong on our side" in response.text
    assert member.email in response.text  # the menu of a logged-in member rendered
