"""Agendas: a participant's meetings in their own time zone, the .ics file and the
private subscription URL, the printable agenda, and what came of each meeting."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("agendas", __name__, url_prefix="/events")
