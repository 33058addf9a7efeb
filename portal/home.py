"""The landing page: what the portal is, with the newest open needs and a way in."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, render_template

from portal.extensions import db
from portal.needs.models import Need
from portal.organizations.models import Organization, OrganizationKind, VerificationStatus

bp = Blueprint("home", __name__)


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers and tools that ask for /favicon.ico get the portal's icon, not a 404."""
    response = current_app.send_static_file("favicon.svg")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/")
def index() -> str:
    verified = Organization.status == VerificationStatus.VERIFIED
    counts = dict(
        db.session.execute(
            sa.select(Organization.kind, sa.func.count())
            .where(verified)
            .group_by(Organization.kind)
        ).all()
    )
    recent_needs = db.session.scalars(
        sa.select(Need)
        .where(Need.is_public)
        .order_by(Need.created_at.desc(), Need.id.desc())
        .limit(6)
    ).all()
    open_count = db.session.scalar(
        sa.select(sa.func.count()).select_from(Need).where(Need.is_public)
    )
    return render_template(
        "home/index.html",
        vendor_count=counts.get(OrganizationKind.VENDOR, 0),
        buyer_count=counts.get(OrganizationKind.BUYER, 0),
        open_need_count=open_count or 0,
        recent_needs=recent_needs,
    )
