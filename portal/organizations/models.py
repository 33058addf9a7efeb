"""Vendor and buyer organizations, their capabilities, contacts and verification history."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import code_list, intpk, str200, str_ref, text, timestamp, utc_now
from portal.extensions import db
from portal.versioning import Versioned

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.needs.models import Need


class OrganizationKind(StrEnum):
    VENDOR = "vendor"  # a U.S. provider of technology or services
    BUYER = "buyer"  # an ASEAN city government, agency or utility


class VerificationStatus(StrEnum):
    """New organizations wait for trade staff; only verified ones are public."""

    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class Organization(Versioned, db.Model):
    __tablename__ = "organizations"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('vendor', 'buyer')", name="kind"),
        sa.CheckConstraint("status IN ('pending', 'verified', 'rejected')", name="status"),
        sa.Index("ix_organizations_kind_status_name", "kind", "status", "name"),
    )

    id: Mapped[intpk]
    ref: Mapped[str_ref]
    kind: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str200]
    country: Mapped[str] = mapped_column(sa.String(2))
    city: Mapped[str] = mapped_column(sa.String(120), default="")
    website: Mapped[str] = mapped_column(sa.String(500), default="")
    summary: Mapped[text]
    sectors: Mapped[code_list]
    markets: Mapped[code_list]
    status: Mapped[str] = mapped_column(sa.String(16), default=VerificationStatus.PENDING)
    rejection_reason: Mapped[text]
    verified_at: Mapped[dt.datetime | None]
    created_at: Mapped[timestamp]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    capabilities: Mapped[list[Capability]] = relationship(
        back_populates="organization",
        cascade="all, delete-orphan",
        order_by="Capability.position",
    )
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="organization",
        cascade="all, delete-orphan",
        order_by="Contact.position",
    )
    members: Mapped[list[User]] = relationship(back_populates="organization")
    needs: Mapped[list[Need]] = relationship(back_populates="buyer")
    reviews: Mapped[list[OrganizationReview]] = relationship(
        back_populates="organization",
        cascade="all, delete-orphan",
        order_by="OrganizationReview.created_at",
    )

    @property
    def is_vendor(self) -> bool:
        return self.kind == OrganizationKind.VENDOR

    @property
    def is_buyer(self) -> bool:
        return self.kind == OrganizationKind.BUYER

    @property
    def is_verified(self) -> bool:
        return self.status == VerificationStatus.VERIFIED

    def __repr__(self) -> str:
        return f"<Organization {self.ref} {self.kind} {self.status}>"


class Capability(Versioned, db.Model):
    """A vendor's product, service or past project: what leads are matched on."""

    __tablename__ = "capabilities"

    id: Mapped[intpk]
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str200]
    description: Mapped[text]
    sectors: Mapped[code_list]

    organization: Mapped[Organization] = relationship(back_populates="capabilities")


class Contact(Versioned, db.Model):
    """A person to talk to; private to the organization, staff and introduced partners."""

    __tablename__ = "contacts"

    id: Mapped[intpk]
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str200]
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    phone: Mapped[str] = mapped_column(sa.String(64), default="")
    title: Mapped[str] = mapped_column(sa.String(200), default="")

    organization: Mapped[Organization] = relationship(back_populates="contacts")


class OrganizationReview(db.Model):
    """One staff decision on an organization: kept so the verification history is visible."""

    __tablename__ = "organization_reviews"

    id: Mapped[intpk]
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    decision: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[text]
    created_at: Mapped[timestamp]

    organization: Mapped[Organization] = relationship(back_populates="reviews")
    reviewer: Mapped[User | None] = relationship()
