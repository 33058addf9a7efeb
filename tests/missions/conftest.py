"""Fixtures shared by the event page tests."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from missions.page_factories import log_in, staff_user


@pytest.fixture
def staff(app: Flask, client: FlaskClient) -> Any:
    """A staff user, logged in on ``client``."""
    user = staff_user()
    log_in(client, user)
    return user
