"""Organizations: creating them, their references, and who may see what of them."""

from __future__ import annotations

import re
import secrets
import unicodedata

import sqlalchemy as sa

from portal.extensions import db
from portal.organizations.models import Organization, OrganizationKind, VerificationStatus

REF_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def slugify(text: str, max_length: int = 40) -> str:
    """A lowercase ASCII slug of ``text``: 'Đà Nẵng Water' becomes 'da-nang-water'."""
    ascii_text = (
        unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
        .encode("ascii", "ignore")
        .decode()
    )
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "org"


def new_unique_ref(model: type[db.Model], text: str) -> str:  # type: ignore[name-defined]
    """A fresh external reference for a record made in the portal: slug plus random tail."""
    base = slugify(text)
    while True:
        ref = f"{base}-{secrets.token_hex(3)}"
        if db.session.scalar(sa.select(model.id).where(model.ref == ref)) is None:
            return ref


def create_organization(
    kind: OrganizationKind,
    name: str,
    country: str,
    *,
    city: str = "",
    website: str = "",
    summary: str = "",
    sectors: list[str] | None = None,
    markets: list[str] | None = None,
) -> Organization:
    """Add a new organization, pending until trade staff verify it."""
    organization = Organization(
        ref=new_unique_ref(Organization, name),
        kind=kind,
        name=name.strip(),
        country=country,
        city=city.strip(),
        website=website.strip(),
        summary=summary.strip(),
        sectors=list(sectors or []),
        markets=list(markets or []),
        status=VerificationStatus.PENDING,
    )
    db.session.add(organization)
    db.session.flush()
    return organization
