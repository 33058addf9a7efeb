"""Introductions: members' "my introductions", the introduction page, staff review."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from portal.introductions import services

bp = Blueprint("introductions", __name__)


@bp.get("/introductions/<int:introduction_id>")
@login_required
def detail(introduction_id: int) -> str:
    introduction = services.find_introduction(introduction_id)
    if introduction is None or not services.can_view(introduction, current_user):
        abort(404)
    return render_template("introductions/detail.html", introduction=introduction)
