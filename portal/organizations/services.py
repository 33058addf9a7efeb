"""Organizations: creating them, their references, and who may see what of them."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext
from sqlalchemy.orm.attributes import set_committed_value

from portal.accounts.access import can_manage_organization, is_member_of
from portal.accounts.models import User
from portal.cleaning import one_line
from portal.db import list_contains, utc_now
from portal.extensions import db
from portal.i18n.lazy import lazy_gettext
from portal.introductions.models import CONTACT_SHARING_STATES, Introduction
from portal.mail.services import queue_mail
from portal.organizations.models import (
    Capability,
    Contact,
    Organization,
    OrganizationKind,
    OrganizationReview,
    VerificationStatus,
)
from portal.versioning import claim_version
from portal.vocab import ASEAN_COUNTRIES, SECTORS, status_label

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
        name=one_line(name),
        country=country,
        city=one_line(city),
        website=website.strip(),
        summary=summary.strip(),
        sectors=list(sectors or []),
        markets=list(markets or []),
        status=VerificationStatus.PENDING,
    )
    db.session.add(organization)
    db.session.flush()
    return organization


# --- who may see and change what -------------------------------------------------------


class OrganizationError(ValueError):
    """A change to an organization that breaks a rule; ``field`` names the form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def is_staff(viewer: User | Any) -> bool:
    return bool(getattr(viewer, "is_authenticated", False) and getattr(viewer, "is_staff", False))


def can_see_private(organization: Organization, viewer: User | Any) -> bool:
    """Members and staff see what the public does not: contacts, members, an unverified
    profile. Kept apart from ``visible_contacts`` so introductions can widen contacts only."""
    return is_member_of(viewer, organization.id) or is_staff(viewer)


def can_see_profile(organization: Organization, viewer: User | Any) -> bool:
    """Verified profiles are public; others only to their own members and staff."""
    return organization.is_verified or can_see_private(organization, viewer)


def visible_contacts(organization: Organization, viewer: User | Any) -> list[Contact]:
    """The contacts ``viewer`` may read: the ONE place the rule lives.

    Contact details are private to the organization's own members, staff, and the members
    of an organization it has an introduction with that reached 'introduced' (or any
    outcome after it: both sides consented); everyone else gets an empty list.
    """
    if can_see_private(organization, viewer) or _introduced_to(organization, viewer):
        return list(organization.contacts)
    return []


def _introduced_to(organization: Organization, viewer: User | Any) -> bool:
    """Whether ``viewer`` is a member of an organization introduced to ``organization``."""
    other_id = getattr(viewer, "organization_id", None)
    if not getattr(viewer, "is_authenticated", False) or other_id is None:
        return False
    sharing = [state.value for state in CONTACT_SHARING_STATES]
    pair = sa.or_(
        sa.and_(Introduction.vendor_id == organization.id, Introduction.buyer_id == other_id),
        sa.and_(Introduction.buyer_id == organization.id, Introduction.vendor_id == other_id),
    )
    found = db.session.scalar(
        sa.select(Introduction.id).where(pair, Introduction.state.in_(sharing)).limit(1)
    )
    return found is not None


def can_manage(organization: Organization, user: User | Any) -> bool:
    return can_manage_organization(user, organization.id)


# --- the public directory ------------------------------------------------------------


def find_organization(ref: str, kind: OrganizationKind | None = None) -> Organization | None:
    query = sa.select(Organization).where(Organization.ref == ref)
    if kind is not None:
        query = query.where(Organization.kind == kind)
    return db.session.scalar(query)


def public_organizations_query(
    kind: OrganizationKind,
    *,
    sector: str | None = None,
    country: str | None = None,
    market: str | None = None,
    name_contains: str | None = None,
) -> sa.Select[tuple[Organization]]:
    """Verified organizations of one kind, by name, narrowed by the given filters."""
    query = sa.select(Organization).where(
        Organization.kind == kind, Organization.status == VerificationStatus.VERIFIED
    )
    if sector:
        query = query.where(list_contains(Organization.sectors, sector))
    if country:
        query = query.where(Organization.country == country)
    if market:
        query = query.where(list_contains(Organization.markets, market))
    if name_contains:
        query = query.where(
            sa.func.lower(Organization.name).contains(name_contains.lower(), autoescape=True)
        )
    return query.order_by(sa.func.lower(Organization.name), Organization.id)


# --- editing a profile, its capabilities and contacts ---------------------------------


def _check_codes(codes: list[str], allowed: Iterable[str], field: str, what: str) -> list[str]:
    allowed_codes = set(allowed)
    unknown = [code for code in codes if code not in allowed_codes]
    if unknown:
        listed = ", ".join(unknown)
        message = (
            gettext("unknown sector: %(codes)s", codes=listed)
            if what == "sector"
            else gettext("unknown market: %(codes)s", codes=listed)
        )
        raise OrganizationError(message, field)
    return list(dict.fromkeys(codes))  # keep the order, drop repeats


def _back_to_review_if_rejected(organization: Organization) -> None:
    """A rejected organization that changes its profile asks for another review."""
    if organization.status == VerificationStatus.REJECTED:
        organization.status = VerificationStatus.PENDING


def update_profile(
    organization: Organization,
    *,
    name: str,
    city: str = "",
    website: str = "",
    summary: str = "",
    sectors: list[str] | None = None,
    markets: list[str] | None = None,
    country: str | None = None,
    expected_version: int | None = None,
    editor: User | Any = None,
) -> Organization:
    """Change the public profile. Vendors stay in the US; buyers pick an ASEAN country.

    ``expected_version`` is the version the edit form was opened on: if someone saved
    since, ``EditConflict`` is raised and nothing is written (``portal.versioning``).
    """
    claim_version(organization, expected_version, editor, "profile")
    name = one_line(name)
    if not name or len(name) > 200:
        raise OrganizationError(gettext("the name must have 1 to 200 characters"), "name")
    website = website.strip()
    if website and not website.lower().startswith(("http://", "https://")):
        raise OrganizationError(
            gettext("the website must start with http:// or https://"), "website"
        )
    organization.name = name
    organization.city = one_line(city)
    organization.website = website
    organization.summary = summary.strip()
    organization.sectors = _check_codes(sectors or [], SECTORS, "sectors", "sector")
    if organization.is_vendor:
        organization.markets = _check_codes(markets or [], ASEAN_COUNTRIES, "markets", "market")
    elif country is not None:
        if country not in ASEAN_COUNTRIES:
            raise OrganizationError(gettext("choose one of the ten ASEAN countries"), "country")
        organization.country = country
    _back_to_review_if_rejected(organization)
    db.session.flush()
    return organization


def _next_position(items: list[Capability] | list[Contact]) -> int:
    return max((item.position for item in items), default=-1) + 1


def _check_title(title: str) -> str:
    title = one_line(title)
    if not title or len(title) > 200:
        raise OrganizationError(gettext("the title must have 1 to 200 characters"), "title")
    return title


def add_capability(
    organization: Organization,
    *,
    title: str,
    description: str = "",
    sectors: list[str] | None = None,
) -> Capability:
    """Add one of a vendor's products, services or past projects."""
    if not organization.is_vendor:
        raise OrganizationError(gettext("only vendors list capabilities"))
    capability = Capability(
        organization=organization,
        position=_next_position(organization.capabilities),
        title=_check_title(title),
        description=description.strip(),
        sectors=_check_codes(sectors or [], SECTORS, "sectors", "sector"),
    )
    db.session.add(capability)
    _back_to_review_if_rejected(organization)
    db.session.flush()
    return capability


def update_capability(
    capability: Capability,
    *,
    title: str,
    description: str = "",
    sectors: list[str] | None = None,
    expected_version: int | None = None,
    editor: User | Any = None,
) -> Capability:
    """Change a capability; refused as ``EditConflict`` if saved by someone else since
    ``expected_version``."""
    claim_version(capability, expected_version, editor, "capability")
    capability.title = _check_title(title)
    capability.description = description.strip()
    capability.sectors = _check_codes(sectors or [], SECTORS, "sectors", "sector")
    _back_to_review_if_rejected(capability.organization)
    db.session.flush()
    return capability


def delete_capability(capability: Capability) -> None:
    organization = capability.organization
    organization.capabilities.remove(capability)  # delete-orphan removes the row
    _back_to_review_if_rejected(organization)
    db.session.flush()


def find_capability(organization: Organization, capability_id: int) -> Capability | None:
    """A capability only if it belongs to ``organization``: ids of others are not found."""
    return db.session.scalar(
        sa.select(Capability).where(
            Capability.id == capability_id, Capability.organization_id == organization.id
        )
    )


def _check_contact(name: str, email: str) -> tuple[str, str]:
    name = one_line(name)
    if not name or len(name) > 200:
        raise OrganizationError(gettext("the name must have 1 to 200 characters"), "name")
    email = email.strip()
    if email:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise OrganizationError(
                gettext("the email address is not valid: %(reason)s", reason=exc), "email"
            ) from exc
    return name, email


def add_contact(
    organization: Organization, *, name: str, email: str = "", phone: str = "", title: str = ""
) -> Contact:
    """Add a person to talk to; private to members and staff (see ``visible_contacts``)."""
    name, email = _check_contact(name, email)
    contact = Contact(
        organization=organization,
        position=_next_position(organization.contacts),
        name=name,
        email=email,
        phone=one_line(phone),
        title=one_line(title),
    )
    db.session.add(contact)
    _back_to_review_if_rejected(organization)
    db.session.flush()
    return contact


def update_contact(
    contact: Contact,
    *,
    name: str,
    email: str = "",
    phone: str = "",
    title: str = "",
    expected_version: int | None = None,
    editor: User | Any = None,
) -> Contact:
    """Change a contact; refused as ``EditConflict`` if saved by someone else since
    ``expected_version``."""
    claim_version(contact, expected_version, editor, "contact")
    contact.name, contact.email = _check_contact(name, email)
    contact.phone = one_line(phone)
    contact.title = one_line(title)
    _back_to_review_if_rejected(contact.organization)
    db.session.flush()
    return contact


def delete_contact(contact: Contact) -> None:
    organization = contact.organization
    organization.contacts.remove(contact)
    _back_to_review_if_rejected(organization)
    db.session.flush()


def find_contact(organization: Organization, contact_id: int) -> Contact | None:
    """A contact only if it belongs to ``organization``: ids of others are not found."""
    return db.session.scalar(
        sa.select(Contact).where(
            Contact.id == contact_id, Contact.organization_id == organization.id
        )
    )


# --- verification by trade staff ------------------------------------------------------


def pending_organizations() -> list[Organization]:
    """Organizations waiting for a decision, oldest first: first come, first reviewed."""
    return list(
        db.session.scalars(
            sa.select(Organization)
            .where(Organization.status == VerificationStatus.PENDING)
            .order_by(Organization.created_at, Organization.id)
        )
    )


def _check_reviewable(organization: Organization, reviewer: User) -> None:
    if not getattr(reviewer, "is_staff", False):
        raise OrganizationError(gettext("only trade staff decide on verification"))
    if organization.status != VerificationStatus.PENDING:
        raise OrganizationError(
            gettext(
                "%(name)s is no longer pending (it is %(status)s); nothing was changed",
                name=organization.name,
                status=status_label(organization.status),
            )
        )


def _claim_decision(organization: Organization, decision: VerificationStatus) -> None:
    """Move the organization out of 'pending' only if it still is, in one conditional
    UPDATE: of two staff deciding at once, the second matches no row (PostgreSQL makes it
    wait for the first's row lock, then sees the status moved) and nothing of theirs is
    written or mailed."""
    claimed = db.session.execute(
        sa.update(Organization)
        .where(
            Organization.id == organization.id,
            Organization.status == VerificationStatus.PENDING,
        )
        .values(status=decision)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise OrganizationError(
            gettext(
                "%(name)s was decided by someone else meanwhile; nothing was changed",
                name=organization.name,
            )
        )
    set_committed_value(organization, "status", decision)  # what the row holds now


def _portal_url(endpoint: str, **values: Any) -> str:
    """An absolute link for mail, built without a request (mail may be queued by the CLI)."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["PORTAL_BASE_URL"].rstrip("/") + path


def _record_decision(
    organization: Organization, reviewer: User, decision: VerificationStatus, reason: str
) -> OrganizationReview:
    review = OrganizationReview(
        organization=organization, reviewer=reviewer, decision=decision, reason=reason
    )
    db.session.add(review)
    template = f"organization_{decision}"
    subject = (
        lazy_gettext("%(name)s is verified", name=organization.name)
        if decision == VerificationStatus.VERIFIED
        else lazy_gettext("%(name)s was not verified", name=organization.name)
    )
    link = _portal_url("organizations.my_organization")
    for member in organization.members:
        queue_mail(
            member.email,
            subject,
            template,
            member=member,
            organization=organization,
            reason=reason,
            link=link,
        )
    db.session.flush()
    return review


def verify_organization(organization: Organization, reviewer: User) -> OrganizationReview:
    """Publish a pending organization; its members are told by mail."""
    _check_reviewable(organization, reviewer)
    _claim_decision(organization, VerificationStatus.VERIFIED)
    organization.verified_at = utc_now()
    organization.rejection_reason = ""
    return _record_decision(organization, reviewer, VerificationStatus.VERIFIED, "")


def reject_organization(
    organization: Organization, reviewer: User, reason: str
) -> OrganizationReview:
    """Turn a pending organization down with a reason its members read and can act on."""
    reason = reason.strip()
    if not reason:
        raise OrganizationError(
            gettext("give the reason, so the organization can fix it"), "reason"
        )
    _check_reviewable(organization, reviewer)
    _claim_decision(organization, VerificationStatus.REJECTED)
    organization.rejection_reason = reason
    organization.verified_at = None
    return _record_decision(organization, reviewer, VerificationStatus.REJECTED, reason)
