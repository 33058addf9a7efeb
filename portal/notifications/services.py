"""Member mail preferences and the weekly digest.

Every mail passes ``mail_policy`` (called by ``portal.mail.services.queue_mail``): mail to
a member carries a signed, per-user unsubscribe link and a List-Unsubscribe header, and
optional mail to a member who unsubscribed is not queued at all. Security mail (address
confirmation, password reset) always goes.

A digest is built per member and queued in one transaction with the ``DigestItem`` rows
of what it carries: an item is never sent twice, and a run that dies halfway leaves
nothing half-sent, so a rerun picks up exactly the members it had not reached.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, gettext
from itsdangerous import BadSignature, URLSafeSerializer

from portal.accounts.models import Role, User
from portal.db import utc_now
from portal.extensions import db
from portal.i18n.lazy import lazy_gettext, lazy_ngettext
from portal.i18n.locales import DEFAULT_LOCALE, is_shipped
from portal.matching import panels
from portal.needs.models import Need
from portal.notifications.models import (
    DigestItem,
    MailMode,
    MuteKind,
    NotificationMute,
    NotificationPreference,
)
from portal.timezones import zone
from portal.vocab import SECTORS, sector_short_label

log = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "portal-unsubscribe"
MUTE_SALT = "portal-mute"
# Mail a member must get even after unsubscribing: it protects their account.
SECURITY_TEMPLATES = frozenset({"confirm_email", "reset_password", "already_registered"})
# Introduction mail that goes at once even to digest-mode members: it carries contacts.
ALWAYS_IMMEDIATE_INTRODUCTION_TEMPLATES = frozenset({"introduced"})
DIGEST_TEMPLATE = "notification_digest"
LEADS_PER_NEED = 5
LEADS_PER_VENDOR = 10
# A first digest looks back this far for introduction news.
FIRST_DIGEST_LOOKBACK = dt.timedelta(days=14)


class NotificationError(ValueError):
    """A preference change that cannot be made; the message says why."""


class InvalidLink(NotificationError):
    """An unsubscribe or mute link that was altered or belongs to no account."""


# --- links in mail -----------------------------------------------------------------------


def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=salt)


def unsubscribe_token(user: User) -> str:
    """A per-user token with no expiry: a link in a mail from last year still works."""
    return _serializer(UNSUBSCRIBE_SALT).dumps(user.id)


def mute_token(user: User, kind: MuteKind, key: str) -> str:
    return _serializer(MUTE_SALT).dumps([user.id, str(kind), key])


def user_from_unsubscribe_token(token: str) -> User:
    try:
        user_id = _serializer(UNSUBSCRIBE_SALT).loads(token)
    except BadSignature as exc:
        raise InvalidLink("this unsubscribe link is not valid") from exc
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None:
        raise InvalidLink("this unsubscribe link is not valid")
    return user


@dataclass(frozen=True)
class MuteRequest:
    user: User
    kind: MuteKind
    key: str

    @property
    def label(self) -> str:
        return mute_label(self.kind, self.key)


def mute_from_token(token: str) -> MuteRequest:
    try:
        payload = _serializer(MUTE_SALT).loads(token)
    except BadSignature as exc:
        raise InvalidLink("this link is not valid") from exc
    if not (isinstance(payload, list) and len(payload) == 3 and isinstance(payload[0], int)):
        raise InvalidLink("this link is not valid")
    user = db.session.get(User, payload[0])
    if user is None or payload[1] not in set(MuteKind):
        raise InvalidLink("this link is not valid")
    return MuteRequest(user, MuteKind(payload[1]), str(payload[2]))


def portal_url(endpoint: str, **values: Any) -> str:
    """An absolute link for mail, built without a request (the CLI and worker queue mail)."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["PORTAL_BASE_URL"].rstrip("/") + path


def unsubscribe_url(user: User) -> str:
    return portal_url("notifications.unsubscribe", token=unsubscribe_token(user))


def mute_url(user: User, kind: MuteKind, key: str) -> str:
    return portal_url("notifications.mute", token=mute_token(user, kind, key))


# --- preferences -------------------------------------------------------------------------


def preference(user: User) -> NotificationPreference | None:
    return db.session.get(NotificationPreference, user.id)


def _preference_row(user: User) -> NotificationPreference:
    row = preference(user)
    if row is None:
        row = NotificationPreference(user_id=user.id, mode=MailMode.IMMEDIATE)
        db.session.add(row)
    return row


def mode_of(user: User) -> MailMode:
    row = preference(user)
    return MailMode(row.mode) if row is not None else MailMode.IMMEDIATE


def is_unsubscribed(user: User) -> bool:
    row = preference(user)
    return row is not None and row.unsubscribed_at is not None


def set_mode(user: User, mode: str, *, now: dt.datetime | None = None) -> None:
    """Choose immediate mail or the weekly digest. Switching to the digest starts its
    clock now, so the first digest covers what happens from here on."""
    if mode not in set(MailMode):
        raise NotificationError(gettext("choose immediate mail or the weekly digest"))
    row = _preference_row(user)
    if row.mode != mode and mode == MailMode.DIGEST:
        row.digest_checked_at = now or utc_now()
    row.mode = mode
    db.session.flush()


def unsubscribe(user: User, *, now: dt.datetime | None = None) -> None:
    row = _preference_row(user)
    if row.unsubscribed_at is None:
        row.unsubscribed_at = now or utc_now()
    db.session.flush()


def resubscribe(user: User) -> None:
    row = _preference_row(user)
    row.unsubscribed_at = None
    db.session.flush()


def mute_label(kind: MuteKind | str, key: str) -> str:
    if kind == MuteKind.SECTOR:
        return gettext("the sector %(name)s", name=sector_short_label(key))
    from portal.needs.models import Need

    need = db.session.get(Need, int(key)) if key.isdigit() else None
    if need is None:
        return gettext("a need that no longer exists")
    return gettext('the need "%(title)s"', title=need.title)


def _check_mute(kind: MuteKind | str, key: str) -> None:
    if kind == MuteKind.SECTOR and key in SECTORS:
        return
    if kind == MuteKind.NEED and key.isdigit():
        return
    raise NotificationError("there is nothing to mute by that name")


def mute(user: User, kind: MuteKind | str, key: str) -> NotificationMute:
    """Leave a sector or a need out of the member's digests and lead mails (idempotent)."""
    _check_mute(kind, key)
    existing = db.session.scalar(
        sa.select(NotificationMute).where(
            NotificationMute.user_id == user.id,
            NotificationMute.kind == str(kind),
            NotificationMute.key == key,
        )
    )
    if existing is not None:
        return existing
    row = NotificationMute(user_id=user.id, kind=str(kind), key=key)
    db.session.add(row)
    db.session.flush()
    return row


def unmute(user: User, mute_id: int) -> bool:
    """Remove one of the member's own mutes; False if there is no such mute of theirs."""
    row = db.session.get(NotificationMute, mute_id)
    if row is None or row.user_id != user.id:
        return False
    db.session.delete(row)
    db.session.flush()
    return True


def mutes_of(user: User) -> list[NotificationMute]:
    return list(
        db.session.scalars(
            sa.select(NotificationMute)
            .where(NotificationMute.user_id == user.id)
            .order_by(NotificationMute.id)
        )
    )


@dataclass(frozen=True)
class Mutes:
    sectors: frozenset[str] = frozenset()
    needs: frozenset[int] = frozenset()

    @classmethod
    def of(cls, user: User) -> Mutes:
        rows = mutes_of(user)
        return cls(
            frozenset(r.key for r in rows if r.kind == MuteKind.SECTOR),
            frozenset(int(r.key) for r in rows if r.kind == MuteKind.NEED and r.key.isdigit()),
        )

    def hides(self, need_id: int, sectors: list[str]) -> bool:
        return need_id in self.needs or bool(self.sectors & set(sectors))


# --- the hook every mail passes ----------------------------------------------------------


@dataclass(frozen=True)
class MailPolicy:
    """What ``queue_mail`` does with one message."""

    send: bool
    unsubscribe_url: str | None = None
    timezone: str | None = None
    locale: str | None = None  # the member's language; None: English


def mail_policy(recipient: str, template: str) -> MailPolicy:
    """Mail to a member: their unsubscribe link and zone; optional mail to a member who
    unsubscribed is dropped. Mail to an address with no account goes as it is."""
    user = db.session.scalar(sa.select(User).where(User.email == recipient))
    if user is None:
        return MailPolicy(True)
    if template not in SECURITY_TEMPLATES and is_unsubscribed(user):
        return MailPolicy(False)
    return MailPolicy(True, unsubscribe_url(user), user.timezone, user.locale)


def sends_step_mail_now(user: User, template: str) -> bool:
    """Whether an introduction step mail goes to ``user`` at once. Members in digest mode
    get the step in their next digest instead, except the mail that carries contacts."""
    if user.role in (Role.STAFF, Role.ADMIN):
        return True
    if template in ALWAYS_IMMEDIATE_INTRODUCTION_TEMPLATES:
        return True
    return mode_of(user) == MailMode.IMMEDIATE


# --- the digest --------------------------------------------------------------------------


@dataclass
class LeadItem:
    key: str
    title: str  # what the lead is: a vendor (for a buyer) or a need (for a vendor)
    about: str  # the need it is for
    reasons: list[str]
    link: str
    mute_need_url: str
    mute_sectors: list[tuple[str, str]]  # (sector label, mute link)


@dataclass
class ActionItem:
    key: str
    title: str
    state_label: str
    changed_at: dt.datetime
    next_step: str
    waiting_for_you: bool
    link: str


@dataclass
class Digest:
    user: User
    leads: list[LeadItem] = field(default_factory=list)
    actions: list[ActionItem] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return [item.key for item in self.leads] + [item.key for item in self.actions]

    def __bool__(self) -> bool:
        return bool(self.leads or self.actions)


def _sent_keys(user: User) -> set[str]:
    return set(
        db.session.scalars(sa.select(DigestItem.item_key).where(DigestItem.user_id == user.id))
    )


def mail_locale(user: User) -> str:
    """The language mail to ``user`` is written in (``queue_mail``'s): theirs, else English."""
    return user.locale if is_shipped(user.locale) else DEFAULT_LOCALE


def _lead_items(user: User, mutes: Mutes, sent: set[str]) -> list[LeadItem]:
    """New leads for the member's organization, each with its reasons (why it is sent).

    The reasons and sector labels are worded as the leads are found, so they are found in
    the language the mail will be written in: the worker has no reader, and a page's
    reader (whoever caused a send) is not the recipient."""
    with force_locale(mail_locale(user)):
        return _lead_items_worded(user, mutes, sent)


def _lead_items_worded(user: User, mutes: Mutes, sent: set[str]) -> list[LeadItem]:
    organization = user.organization
    if organization is None or not organization.is_verified:
        return []  # a pending or rejected organization takes no part in the matching
    items: list[LeadItem] = []

    def mute_links(sectors: list[str]) -> list[tuple[str, str]]:
        return [
            (sector_short_label(code), mute_url(user, MuteKind.SECTOR, code)) for code in sectors
        ]

    if organization.is_vendor:
        panel = panels.needs_for_vendor(organization, limit=LEADS_PER_VENDOR)
        for row in panel.shown:
            need = row.lead.need
            key = f"lead:{need.id}:{organization.id}"
            if key in sent or mutes.hides(need.id, need.sectors):
                continue
            items.append(
                LeadItem(
                    key,
                    f"{need.title} ({need.buyer_name})",
                    need.title,
                    row.lead.reasons,
                    portal_url("needs.detail", ref=need.ref),
                    mute_url(user, MuteKind.NEED, str(need.id)),
                    mute_links(need.sectors),
                )
            )
        return items
    needs = db.session.scalars(
        sa.select(Need).where(Need.buyer_id == organization.id).order_by(Need.id)
    ).all()
    for need in needs:
        if not need.is_open or mutes.hides(need.id, list(need.sectors or [])):
            continue
        panel = panels.need_leads(need, user, limit=LEADS_PER_NEED)
        for row in panel.shown if panel is not None else []:
            vendor = row.lead.vendor
            key = f"lead:{need.id}:{vendor.id}"
            if key in sent:
                continue
            items.append(
                LeadItem(
                    key,
                    vendor.name,
                    need.title,
                    row.lead.reasons,
                    portal_url("organizations.vendor_detail", ref=vendor.ref),
                    mute_url(user, MuteKind.NEED, str(need.id)),
                    mute_links(list(need.sectors or [])),
                )
            )
    return items


def _action_items(user: User, since: dt.datetime, sent: set[str]) -> list[ActionItem]:
    """Introductions waiting for the member's answer, and news of the others since
    ``since``: one item per introduction and state, so each step is told once."""
    from portal.introductions import services as introductions
    from portal.introductions.models import IntroState

    organization = user.organization
    if organization is None:
        return []
    items = []
    for introduction in introductions.introductions_of(organization):
        side = introductions.side_of(introduction, user)
        waiting = side is not None and side in introductions.awaited_sides(introduction)
        if not waiting and introduction.state_changed_at < since:
            continue
        changed = f"{introduction.state_changed_at:%Y%m%d%H%M%S}"
        key = f"intro:{introduction.id}:{introduction.state}:{changed}"
        if key in sent:
            continue
        other = introduction.organization(side.other) if side is not None else None
        items.append(
            ActionItem(
                key,
                other.name if other is not None else f"Introduction {introduction.id}",
                IntroState(introduction.state).label,
                introduction.state_changed_at,
                introductions.next_step(introduction, user),
                waiting,
                portal_url("introductions.detail", introduction_id=introduction.id),
            )
        )
    items.sort(key=lambda item: (not item.waiting_for_you, item.changed_at))
    return items


def build_digest(user: User, now: dt.datetime) -> Digest:
    """What the member's next digest would carry: only items never sent to them before."""
    row = preference(user)
    sent = _sent_keys(user)
    since = (row.last_digest_at if row and row.last_digest_at else None) or (
        now - FIRST_DIGEST_LOOKBACK
    )
    # The next steps and lead reasons are worded here: in the language of the mail.
    with force_locale(mail_locale(user)):
        return Digest(
            user,
            leads=_lead_items(user, Mutes.of(user), sent),
            actions=_action_items(user, since, sent),
        )


def send_digest(user: User, now: dt.datetime) -> bool:
    """Queue the member's digest and record its items, in the caller's transaction."""
    from portal.mail.services import queue_mail

    row = _preference_row(user)
    row.digest_checked_at = now
    digest = build_digest(user, now)
    if not digest:
        db.session.flush()
        return False
    message = queue_mail(
        user.email,
        (
            lazy_gettext(
                "Your weekly digest: %(leads)s, %(actions)s",
                leads=lazy_ngettext("%(num)s new lead", "%(num)s new leads", len(digest.leads)),
                actions=lazy_ngettext(
                    "%(num)s introduction update",
                    "%(num)s introduction updates",
                    len(digest.actions),
                ),
            )
        ),
        DIGEST_TEMPLATE,
        person=user,
        digest=digest,
        settings_url=portal_url("notifications.settings"),
    )
    if message is None:  # unsubscribed: nothing goes, nothing is marked sent
        db.session.flush()
        return False
    for key in digest.keys:
        db.session.add(DigestItem(user_id=user.id, item_key=key, sent_at=now))
    row.last_digest_at = now
    db.session.flush()
    return True


def digest_slot(now: dt.datetime, timezone: str, weekday: int, hour: int) -> dt.datetime:
    """The latest weekly slot (``weekday`` 0 = Monday, at ``hour`` o'clock in the member's
    own zone) at or before ``now``, in UTC."""
    tz = zone(timezone)
    local = now.astimezone(tz)
    days_back = (local.weekday() - weekday) % 7
    slot_day = local.date() - dt.timedelta(days=days_back)
    slot = dt.datetime.combine(slot_day, dt.time(hour), tzinfo=tz)
    if slot > local:
        slot -= dt.timedelta(days=7)
    return slot.astimezone(dt.UTC)


def is_due(user: User, row: NotificationPreference, now: dt.datetime) -> bool:
    config = current_app.config
    slot = digest_slot(
        now, user.timezone, int(config["PORTAL_DIGEST_WEEKDAY"]), int(config["PORTAL_DIGEST_HOUR"])
    )
    checked = row.digest_checked_at
    return checked is None or checked < slot


@dataclass
class DigestReport:
    sent: int = 0
    empty: int = 0
    failed: int = 0


def digest_members() -> list[tuple[User, NotificationPreference]]:
    """Active, confirmed members who chose the digest and did not unsubscribe."""
    rows = db.session.execute(
        sa.select(User, NotificationPreference)
        .join(NotificationPreference, NotificationPreference.user_id == User.id)
        .where(
            NotificationPreference.mode == MailMode.DIGEST,
            NotificationPreference.unsubscribed_at.is_(None),
            User.active.is_(True),
            User.email_confirmed_at.is_not(None),
            User.organization_id.is_not(None),
        )
        .order_by(User.id)
    ).all()
    return [(user, row) for user, row in rows]


def run_digests(now: dt.datetime, *, due_only: bool) -> DigestReport:
    """One digest per member in digest mode with something new; commits per member, so a
    run that stops halfway has sent each finished member's digest exactly once."""
    report = DigestReport()
    for user_id in [
        user.id for user, row in digest_members() if not due_only or is_due(user, row, now)
    ]:
        user = db.session.get(User, user_id)
        if user is None:
            continue
        try:
            sent = send_digest(user, now)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("digest for user %s failed", user_id)
            report.failed += 1
            continue
        if sent:
            report.sent += 1
        else:
            report.empty += 1
    return report
