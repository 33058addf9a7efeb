"""Fixtures of the API tests: the checking client."""

from __future__ import annotations

import pytest
from api.api_factories import ApiClient
from flask import Flask
from flask.testing import FlaskClient


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> ApiClient:
    """GETs whose every answer is checked against the OpenAPI document."""
    return ApiClient(client)
