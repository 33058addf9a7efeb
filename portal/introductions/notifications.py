"""Who hears of each step of an introduction, by mail through the outbox.

Every introduction mail leaves through ``notify``: it takes an organization (its members
get the mail) or ``STAFF`` (trade staff get it), a template and its context. Member mail
preferences (immediate or digest, mutes, unsubscribe) belong there and nowhere else.
Mail is queued in the caller's transaction: a step rolled back sends nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import current_app

from portal.accounts.models import Role, User
from portal.extensions import db
from portal.i18n.lazy import LazyText, lazy_gettext
from portal.introductions.models import Introduction, IntroState, Side
from portal.mail.services import queue_mail
from portal.notifications.services import sends_step_mail_now
from portal.organizations.models import Organization

if TYPE_CHECKING:
    from portal.mail.models import OutboxMessage


class StaffDesk:
    """The recipient "trade staff": every active staff and admin account."""

    name = "Trade staff"

    def __repr__(self) -> str:
        return "STAFF"


STAFF = StaffDesk()


def portal_url(endpoint: str, **values: Any) -> str:
    """An absolute link for mail, built without a request (the CLI and worker queue mail)."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["PORTAL_BASE_URL"].rstrip("/") + path


def introduction_url(introduction: Introduction) -> str:
    return portal_url("introductions.detail", introduction_id=introduction.id)


def recipients(to: Organization | StaffDesk) -> list[User]:
    """Active members with a confirmed address, or every active staff and admin account."""
    query = sa.select(User).where(User.active.is_(True)).order_by(User.id)
    if isinstance(to, StaffDesk):
        query = query.where(User.role.in_([Role.STAFF.value, Role.ADMIN.value]))
    else:
        query = query.where(User.organization_id == to.id, User.email_confirmed_at.is_not(None))
    return list(db.session.scalars(query))


def notify(
    to: Organization | StaffDesk,
    template: str,
    subject: str | LazyText,
    introduction: Introduction,
    **context: Any,
) -> list[OutboxMessage]:
    """Queue ``templates/mail/introduction_<template>.txt`` for each person of ``to``."""
    link = introduction_url(introduction)
    messages: list[OutboxMessage | None] = []
    for user in recipients(to):
        # Members in digest mode get this step in their next digest instead.
        if not sends_step_mail_now(user, template):
            continue
        messages.append(
            queue_mail(
                user.email,
                subject,
                f"introduction_{template}",
                person=user,
                audience=to,
                introduction=introduction,
                vendor=introduction.vendor,
                buyer=introduction.buyer,
                need=introduction.need,
                link=link,
                **context,
            )
        )
    return [message for message in messages if message is not None]


def _pair(introduction: Introduction) -> LazyText:
    return lazy_gettext(
        "%(vendor)s and %(buyer)s", vendor=introduction.vendor.name, buyer=introduction.buyer.name
    )


def _expires_on(introduction: Introduction) -> dt.datetime:
    """When a waiting introduction expires (mail shows it in the recipient's zone)."""
    days = int(current_app.config["PORTAL_INTRODUCTION_EXPIRY_DAYS"])
    return introduction.state_changed_at + dt.timedelta(days=days)


def _sides_who_know(introduction: Introduction) -> list[Side]:
    """The sides that have heard of the introduction: the one that asked, and both once
    staff approved it."""
    return [
        side
        for side in Side
        if side == introduction.requesting_side or introduction.approved_at is not None
    ]


# --- one function per occasion ------------------------------------------------------------


def request_received(introduction: Introduction, message: str) -> None:
    """Staff get the request to review; the requester a confirmation."""
    side = introduction.requesting_side
    assert side is not None
    requester = introduction.organization(side)
    notify(
        STAFF,
        "requested_staff",
        lazy_gettext("Introduction requested: %(pair)s", pair=_pair(introduction)),
        introduction,
        requester=requester,
        other=introduction.organization(side.other),
        message=message,
    )
    notify(
        requester,
        "request_received",
        lazy_gettext("We received your introduction request (%(pair)s)", pair=_pair(introduction)),
        introduction,
        other=introduction.organization(side.other),
        expires_on=_expires_on(introduction),
    )


def after_transition(
    introduction: Introduction,
    source: IntroState,
    target: IntroState,
    actor: User | None,
    note: str,
) -> None:
    """The mail that follows a change of state (called by ``services.transition``)."""
    pair = _pair(introduction)
    actor_side = None
    if actor is not None and not actor.is_staff:
        actor_side = Side.VENDOR if actor.organization_id == introduction.vendor_id else Side.BUYER
    if target == IntroState.APPROVED:
        for side in Side:
            organization = introduction.organization(side)
            if introduction.consented_at(side) is None:
                notify(
                    organization,
                    "consent_needed",
                    lazy_gettext(
                        "Introduction proposed: %(pair)s; your consent is needed", pair=pair
                    ),
                    introduction,
                    other=introduction.organization(side.other),
                    note=note,
                    expires_on=_expires_on(introduction),
                )
            else:
                notify(
                    organization,
                    "approved",
                    lazy_gettext("Your introduction request was approved (%(pair)s)", pair=pair),
                    introduction,
                    other=introduction.organization(side.other),
                    note=note,
                )
    elif target == IntroState.DECLINED:
        for side in _sides_who_know(introduction):
            if side == actor_side:
                continue
            notify(
                introduction.organization(side),
                "declined",
                lazy_gettext("Introduction declined (%(pair)s)", pair=pair),
                introduction,
                other=introduction.organization(side.other),
                by_staff=actor_side is None,
                reason=note if actor_side is None else "",
            )
    elif target == IntroState.WITHDRAWN:
        for side in _sides_who_know(introduction):
            if side != actor_side:
                notify(
                    introduction.organization(side),
                    "withdrawn",
                    lazy_gettext("Introduction withdrawn (%(pair)s)", pair=pair),
                    introduction,
                    other=introduction.organization(side.other),
                    by=introduction.organization(actor_side) if actor_side else STAFF,
                )
    elif target == IntroState.EXPIRED:
        for side in _sides_who_know(introduction):
            notify(
                introduction.organization(side),
                "expired",
                lazy_gettext("Introduction request expired (%(pair)s)", pair=pair),
                introduction,
                other=introduction.organization(side.other),
                waited_for=source,
            )
    elif target == IntroState.INTRODUCED:
        contacts = {side: list(introduction.organization(side).contacts) for side in Side}
        for side in Side:
            notify(
                introduction.organization(side),
                "introduced",
                lazy_gettext("You are introduced: %(pair)s", pair=pair),
                introduction,
                other=introduction.organization(side.other),
                vendor_contacts=contacts[Side.VENDOR],
                buyer_contacts=contacts[Side.BUYER],
            )


def remind_staff(introduction: Introduction) -> None:
    notify(
        STAFF,
        "reminder_staff",
        lazy_gettext(
            "Reminder: introduction waiting for review (%(pair)s)", pair=_pair(introduction)
        ),
        introduction,
        expires_on=_expires_on(introduction),
    )


def remind_side(introduction: Introduction, side: Side) -> None:
    notify(
        introduction.organization(side),
        "reminder",
        lazy_gettext(
            "Reminder: %(name)s waits for your answer",
            name=introduction.organization(side.other).name,
        ),
        introduction,
        other=introduction.organization(side.other),
        expires_on=_expires_on(introduction),
    )


def ask_outcome(introduction: Introduction, side: Side) -> None:
    notify(
        introduction.organization(side),
        "outcome_question",
        lazy_gettext(
            "How did it go with %(name)s?", name=introduction.organization(side.other).name
        ),
        introduction,
        other=introduction.organization(side.other),
    )
