"""Trade-mission pages: staff create and edit events, the public event page,
registration, meeting requests, scheduling from the page and the staff grid."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("missions", __name__, url_prefix="/events")
