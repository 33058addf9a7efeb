"""Every route and every role gets exactly what it should.

Each rule of ``app.url_map`` has an expected outcome for each of five visitors: an
anonymous one, a member of the vendor that owns the objects in the URL, a buyer member of
ANOTHER organization (an outsider to every object here), trade staff and an admin. A
route with no expectation fails ``test_every_route_has_expectations``: a new route is
added here with its outcomes, or the build is red.

Routes that take GET are asked with GET; routes that only take POST are sent an empty
POST (CSRF is off in tests, so what is checked is who may act, not the form). Each case
runs on fresh objects in its own rolled-back transaction, so a delete allowed in one case
never changes another. Outcomes are a status code, or LOGIN for a redirect to the login
page.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from organizations.directory_factories import log_in, make_contact, make_need, make_org, make_user

from portal.accounts.models import Role
from portal.extensions import db
from portal.introductions.services import propose_introduction
from portal.missions.models import Meeting, MeetingRequest, MissionEvent, Participant
from portal.needs.models import NeedStatus
from portal.notices.amendments import amend
from portal.notices.models import NoticeDocument, NoticeQuestion
from portal.notices.storage import save_upload
from portal.organizations.models import Capability, OrganizationKind
from portal.search.index import IndexStore

ROLES = ("anonymous", "vendor", "other_buyer", "staff", "admin")
LOGIN = "login"


@dataclass
class World:
    """The objects the URLs name: a vendor with a capability and a contact, a buyer with
    an open and a closed need, an organization waiting for verification."""

    vendor: Any
    capability: Any
    contact: Any
    buyer: Any
    need: Any
    closed_need: Any
    pending: Any
    other_buyer: Any
    introduction: Any = None  # made by the introduction cases when first asked for


@dataclass(frozen=True)
class Case:
    """One route: its URL values, and the outcome per role in ROLES order."""

    values: Callable[[World], dict[str, Any]]
    outcomes: tuple[int | str, int | str, int | str, int | str, int | str]
    query: Callable[[World], dict[str, str]] = field(default=lambda w: {})


def none(w: World) -> dict[str, Any]:
    return {}


def everyone(code: int) -> tuple[int, int, int, int, int]:
    return (code, code, code, code, code)


def introduction(w: World) -> dict[str, Any]:
    """An introduction staff proposed between the world's vendor and buyer (made once)."""
    if w.introduction is None:
        w.introduction = propose_introduction(make_user(Role.STAFF), vendor=w.vendor, buyer=w.buyer)
        db.session.commit()
    return {"introduction_id": w.introduction.id}


def mission(w: World) -> dict[str, Any]:
    """An event (made once) where the world's vendor and buyer take part: a pending request
    from the vendor to the buyer, and a published meeting of the vendor's accepted one (in
    2099, so not yet to be rated); the vendor has a calendar subscription token."""
    found = w.__dict__.get("mission")
    if found is None:
        event = MissionEvent(
            ref="matrix-event",
            name="Matrix Event",
            time_zone="UTC",
            sessions=[{"start": "2099-03-09T09:00", "end": "2099-03-09T10:00"}],
            tables=2,
        )
        db.session.add(event)
        db.session.flush()
        vendor, buyer, other = (
            Participant(event_id=event.id, organization_id=org.id)
            for org in (w.vendor, w.buyer, make_org(OrganizationKind.BUYER, "Matrix Port"))
        )
        vendor.calendar_token = "matrix-calendar-token"
        db.session.add_all([vendor, buyer, other])
        db.session.flush()
        pending, accepted = (
            MeetingRequest(
                event_id=event.id,
                from_id=vendor.id,
                to_id=to.id,
                pair=MeetingRequest.pair_of(vendor.id, to.id),
                status=status,
            )
            for to, status in ((buyer, "pending"), (other, "accepted"))
        )
        db.session.add_all([pending, accepted])
        db.session.flush()
        start = dt.datetime(2099, 3, 9, 9, 0, tzinfo=dt.UTC)
        meeting = Meeting(
            event_id=event.id,
            request_id=accepted.id,
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=20),
            table_number=1,
            published=True,
        )
        db.session.add(meeting)
        db.session.commit()
        found = w.__dict__["mission"] = {
            "ref": event.ref,
            "request": pending.id,
            "accepted": accepted.id,
            "meeting": meeting.id,
            "token": vendor.calendar_token,
        }
    return {"ref": found["ref"]}


def mission_request(w: World) -> dict[str, Any]:
    return {**mission(w), "request_id": w.__dict__["mission"]["request"]}


def webhook_endpoint(w: World, owner: Any = None) -> dict[str, Any]:
    """A webhook endpoint of ``owner`` (the vendor unless named), named under the vendor's
    ref: the webhooks feature's URLs."""
    from portal.webhooks.models import WebhookEndpoint
    from portal.webhooks.signing import encrypt_secret

    endpoint = WebhookEndpoint(
        organization_id=(owner or w.vendor).id,
        url="https://hooks.example.org/portal",
        description="",
        events=["need.published"],
        secret_encrypted=encrypt_secret("whsec_matrix"),
    )
    db.session.add(endpoint)
    db.session.commit()
    return {"ref": w.vendor.ref, "endpoint_id": endpoint.id}


def failed_webhook_delivery(w: World) -> dict[str, Any]:
    """A delivery of the vendor's endpoint that failed for good (what "Retry" is for)."""
    from portal.webhooks.models import WebhookDelivery

    values = webhook_endpoint(w)
    delivery = WebhookDelivery(
        endpoint_id=values["endpoint_id"],
        event_id="evt_matrix",
        event_type="ping",
        body="{}",
        status="failed",
        attempts=12,
        last_error="HTTP 500",
    )
    db.session.add(delivery)
    db.session.commit()
    return {**values, "delivery_id": delivery.id}


def mission_meeting(w: World) -> dict[str, Any]:
    return {**mission(w), "meeting_id": w.__dict__["mission"]["meeting"]}


def agenda_meeting(w: World) -> dict[str, Any]:
    """The vendor's published meeting, named by its request as the agenda pages do."""
    return {**mission(w), "request_id": w.__dict__["mission"]["accepted"]}


def calendar_token(w: World) -> dict[str, Any]:
    mission(w)
    return {"token": w.__dict__["mission"]["token"]}


# --- notices (documents, amendments, questions): made once per world on demand


def _notice_document(w: World, need: Any) -> int:
    """A PDF attached to ``need``, its bytes in the test upload folder."""
    stored = save_upload(io.BytesIO(b"%PDF-1.7\nmatrix\n%%EOF\n"))
    document = NoticeDocument(
        need_id=need.id,
        storage_name=stored.storage_name,
        filename="terms.pdf",
        kind=stored.kind.value,
        size=stored.size,
        sha256=stored.sha256,
    )
    db.session.add(document)
    db.session.commit()
    return document.id


def notice_document(w: World) -> dict[str, Any]:
    if "notice_document" not in w.__dict__:
        w.__dict__["notice_document"] = _notice_document(w, w.need)
    return {"ref": w.need.ref, "document_id": w.__dict__["notice_document"]}


def closed_notice_document(w: World) -> dict[str, Any]:
    return {"ref": w.closed_need.ref, "document_id": _notice_document(w, w.closed_need)}


def notice_amendment(w: World) -> dict[str, Any]:
    if "notice_amendment" not in w.__dict__:
        change = {"field": "closes_on", "old": None, "new": "2099-01-31"}
        w.__dict__["notice_amendment"] = amend(w.need, [change]).number
        db.session.commit()
    return {"ref": w.need.ref, "number": w.__dict__["notice_amendment"]}


def notice_question(w: World) -> dict[str, Any]:
    """A question the world's vendor asked about the need, not yet answered."""
    if "notice_question" not in w.__dict__:
        question = NoticeQuestion(
            need_id=w.need.id, organization_id=w.vendor.id, body="Is a pilot possible?"
        )
        db.session.add(question)
        db.session.commit()
        w.__dict__["notice_question"] = question.id
    return {"ref": w.need.ref, "question_id": w.__dict__["notice_question"]}


# --- the public API and its tokens


def api_token(w: World) -> dict[str, Any]:
    """A personal API token of another member of the world's vendor: not the signed-in
    vendor member's own, so revoking it is nobody's business but its owner's."""
    from portal.api.tokens import create_token

    new = create_token(make_user(Role.VENDOR, w.vendor), "matrix script")
    db.session.commit()
    return {"token_id": new.token.id}


# --- follows and saved searches: a third member's calendar token and saved search


def follows_calendar_token(w: World) -> dict[str, Any]:
    """A subscription token of another vendor member who follows the world's need."""
    from portal.follows.services import follow, new_calendar_token

    member = make_user(Role.VENDOR, w.vendor)
    follow(member, w.need)
    token = new_calendar_token(member)
    db.session.commit()
    return {"token": token}


def others_saved_search(w: World) -> dict[str, Any]:
    """A saved search of a member none of the visitors is: 404 for all of them."""
    from portal.follows.services import SearchCriteria, save_search

    search = save_search(
        make_user(Role.VENDOR, w.vendor), name="Theirs", criteria=SearchCriteria(words="x")
    )
    db.session.commit()
    return {"search_id": search.id}


# anonymous, vendor member, buyer member of another organization, staff, admin
EXPECTED: dict[str, Case] = {
    # --- public pages
    "home.index": Case(none, everyone(200)),
    "home.favicon": Case(none, everyone(200)),
    "static": Case(lambda w: {"filename": "portal.css"}, everyone(200)),
    "search.search_page": Case(none, everyone(200)),
    "health.healthz": Case(none, everyone(200)),
    "organizations.vendors": Case(none, everyone(200)),
    "organizations.buyers": Case(none, everyone(200)),
    "organizations.vendor_detail": Case(lambda w: {"ref": w.vendor.ref}, everyone(200)),
    "organizations.buyer_detail": Case(lambda w: {"ref": w.buyer.ref}, everyone(200)),
    "needs.directory": Case(none, everyone(200)),
    "needs.detail": Case(lambda w: {"ref": w.need.ref}, everyone(200)),
    # --- accounts
    "accounts.login": Case(none, (200, 302, 302, 302, 302)),  # logged in: sent home
    "accounts.logout": Case(none, everyone(302)),
    "accounts.register": Case(none, everyone(200)),
    "accounts.check_inbox": Case(none, everyone(200)),
    "accounts.confirm_email": Case(lambda w: {"token": "not-a-token"}, everyone(400)),
    "accounts.resend_confirmation": Case(none, everyone(200)),
    "accounts.reset_request": Case(none, everyone(200)),
    "accounts.reset_password": Case(lambda w: {"token": "not-a-token"}, everyone(400)),
    "accounts.settings": Case(none, (LOGIN, 200, 200, 200, 200)),
    "accounts.change_password": Case(none, (LOGIN, 400, 400, 400, 400)),
    # the language switch: anyone may choose; an empty POST names no language, a 400
    "i18n.switch_language": Case(none, everyone(400)),
    # --- one's own organization (staff and admins have none)
    "organizations.my_organization": Case(none, (LOGIN, 200, 200, 404, 404)),
    "organizations.edit_own_profile": Case(none, (LOGIN, 302, 302, 404, 404)),
    # --- managing the vendor's organization: its members and staff
    "organizations.edit_profile": Case(
        lambda w: {"ref": w.vendor.ref}, (LOGIN, 200, 403, 200, 200)
    ),
    "organizations.new_capability": Case(
        lambda w: {"ref": w.vendor.ref}, (LOGIN, 200, 403, 200, 200)
    ),
    "organizations.edit_capability": Case(
        lambda w: {"ref": w.vendor.ref, "capability_id": w.capability.id},
        (LOGIN, 200, 403, 200, 200),
    ),
    "organizations.delete_capability": Case(
        lambda w: {"ref": w.vendor.ref, "capability_id": w.capability.id},
        (LOGIN, 302, 403, 302, 302),
    ),
    "organizations.new_contact": Case(lambda w: {"ref": w.vendor.ref}, (LOGIN, 200, 403, 200, 200)),
    "organizations.edit_contact": Case(
        lambda w: {"ref": w.vendor.ref, "contact_id": w.contact.id},
        (LOGIN, 200, 403, 200, 200),
    ),
    "organizations.delete_contact": Case(
        lambda w: {"ref": w.vendor.ref, "contact_id": w.contact.id},
        (LOGIN, 302, 403, 302, 302),
    ),
    # --- needs: the buyer's own members (none of our roles) and staff
    "needs.new": Case(
        none, (LOGIN, 403, 200, 200, 200), query=lambda w: {"buyer": w.buyer.ref}
    ),  # the other buyer posts for its own organization; staff for the one named
    "needs.edit": Case(lambda w: {"ref": w.need.ref}, (LOGIN, 403, 403, 200, 200)),
    "needs.close": Case(lambda w: {"ref": w.need.ref}, (LOGIN, 403, 403, 302, 302)),
    "needs.award": Case(lambda w: {"ref": w.need.ref}, (LOGIN, 403, 403, 302, 302)),
    "needs.reopen": Case(lambda w: {"ref": w.closed_need.ref}, (LOGIN, 403, 403, 302, 302)),
    # --- leads: the vendor's own list; dismissing is for the two sides of the lead
    "matching.vendor_leads": Case(none, (LOGIN, 200, 403, 403, 403)),
    "matching.dismiss": Case(
        lambda w: {"need_ref": w.need.ref, "vendor_ref": w.vendor.ref},
        (LOGIN, 400, 403, 403, 403),
    ),
    "matching.undo": Case(
        lambda w: {"need_ref": w.need.ref, "vendor_ref": w.vendor.ref},
        (LOGIN, 302, 403, 403, 403),
    ),
    # --- mail settings (one's own), and the signed links in mail (the token decides)
    "notifications.settings": Case(none, (LOGIN, 200, 200, 200, 200)),
    "notifications.remove_mute": Case(lambda w: {"mute_id": 999999}, (LOGIN, 404, 404, 404, 404)),
    "notifications.unsubscribe": Case(lambda w: {"token": "not-a-token"}, everyone(400)),
    "notifications.mute": Case(lambda w: {"token": "not-a-token"}, everyone(400)),
    # --- introductions: one staff proposed between the vendor and the buyer (so the vendor
    # is a party, the other buyer an outsider). An empty POST lacks the state the page was
    # drawn in: 400 for whoever may reach the step at all.
    "introductions.mine": Case(none, (LOGIN, 200, 200, 302, 302)),
    "introductions.detail": Case(introduction, (LOGIN, 200, 404, 200, 200)),
    "introductions.accept": Case(introduction, (LOGIN, 400, 404, 400, 400)),
    "introductions.decline": Case(introduction, (LOGIN, 400, 404, 400, 400)),
    "introductions.withdraw": Case(introduction, (LOGIN, 400, 404, 400, 400)),
    "introductions.log_outcome": Case(introduction, (LOGIN, 400, 404, 400, 400)),
    "introductions.take_for_review": Case(introduction, (LOGIN, 403, 403, 400, 400)),
    "introductions.approve": Case(introduction, (LOGIN, 403, 403, 400, 400)),
    "introductions.staff_decline": Case(introduction, (LOGIN, 403, 403, 400, 400)),
    "introductions.add_note": Case(introduction, (LOGIN, 403, 403, 400, 400)),
    "introductions.new": Case(
        none, (LOGIN, 404, 200, 302, 302), query=lambda w: {"with": w.vendor.ref}
    ),  # the vendor cannot ask for its own kind; staff are sent to the propose form
    "introductions.staff_list": Case(none, (LOGIN, 403, 403, 200, 200)),
    "introductions.audit_export": Case(none, (LOGIN, 403, 403, 200, 200)),
    "introductions.propose": Case(none, (LOGIN, 403, 403, 200, 200)),
    # --- webhooks: the vendor's members manage its endpoints; staff see them, read only
    # (a new or rotated secret is shown in the POST's answer, 200)
    "webhooks.endpoints": Case(lambda w: {"ref": w.vendor.ref}, (LOGIN, 200, 403, 200, 200)),
    "webhooks.new": Case(lambda w: {"ref": w.vendor.ref}, (LOGIN, 200, 403, 403, 403)),
    "webhooks.detail": Case(webhook_endpoint, (LOGIN, 200, 403, 200, 200)),
    "webhooks.edit": Case(webhook_endpoint, (LOGIN, 200, 403, 403, 403)),
    "webhooks.delete": Case(webhook_endpoint, (LOGIN, 303, 403, 403, 403)),
    "webhooks.rotate": Case(webhook_endpoint, (LOGIN, 200, 403, 403, 403)),
    "webhooks.pause": Case(webhook_endpoint, (LOGIN, 303, 403, 403, 403)),
    "webhooks.resume": Case(webhook_endpoint, (LOGIN, 303, 403, 403, 403)),
    "webhooks.send_test": Case(webhook_endpoint, (LOGIN, 303, 403, 403, 403)),
    "webhooks.retry": Case(failed_webhook_delivery, (LOGIN, 303, 403, 403, 403)),
    # --- trade-mission events: the vendor is registered, the other buyer is not
    "missions.index": Case(none, everyone(200)),
    "missions.detail": Case(mission, everyone(200)),
    "missions.new": Case(none, (LOGIN, 403, 403, 200, 200)),
    "missions.edit": Case(mission, (LOGIN, 403, 403, 200, 200)),
    "missions.register": Case(mission, (LOGIN, 302, 200, 200, 200)),  # registered: to it
    "missions.registration": Case(
        lambda w: {**mission(w), "org_ref": w.vendor.ref}, (LOGIN, 200, 403, 200, 200)
    ),
    "missions.cancel_registration": Case(
        lambda w: {**mission(w), "org_ref": w.vendor.ref}, (LOGIN, 302, 403, 302, 302)
    ),
    "missions.my_requests": Case(mission, (LOGIN, 200, 403, 200, 200)),
    "missions.send_request": Case(mission, (LOGIN, 400, 403, 403, 403)),
    "missions.answer_request": Case(mission_request, (LOGIN, 403, 403, 303, 303)),
    "missions.withdraw_request": Case(mission_request, (LOGIN, 303, 403, 303, 303)),
    "missions.must_meet": Case(mission_request, (LOGIN, 303, 403, 303, 303)),
    "missions.propose": Case(mission, (LOGIN, 403, 403, 400, 400)),
    "missions.schedule": Case(mission, (LOGIN, 403, 403, 200, 200)),
    "missions.publish": Case(mission, (LOGIN, 403, 403, 303, 303)),
    "missions.grid": Case(mission, (LOGIN, 403, 403, 200, 200)),
    "missions.move_meeting": Case(mission_meeting, (LOGIN, 403, 403, 400, 400)),
    "missions.cancel_meeting": Case(mission_meeting, (LOGIN, 403, 403, 303, 303)),
    # --- trade-mission event analytics: staff only
    "missions.analytics_page": Case(mission, (LOGIN, 403, 403, 200, 200)),
    "missions.analytics_csv": Case(mission, (LOGIN, 403, 403, 200, 200)),
    # --- agendas: a member's own (the vendor's; the other buyer is not registered, staff and
    # admins have no organization: "not registered", 404); staff see anyone's. The
    # subscription URL needs no login: its token is the secret.
    "agendas.mine": Case(mission, (LOGIN, 200, 404, 404, 404)),
    "agendas.ics": Case(mission, (LOGIN, 200, 404, 404, 404)),
    "agendas.subscription": Case(calendar_token, everyone(200)),
    "agendas.new_calendar_url": Case(mission, (LOGIN, 302, 404, 404, 404)),
    "agendas.revoke_calendar_url": Case(mission, (LOGIN, 302, 404, 404, 404)),
    "agendas.staff_agenda": Case(
        lambda w: {**mission(w), "org_ref": w.vendor.ref}, (LOGIN, 403, 403, 200, 200)
    ),
    # an empty rating is refused beside the form (400); not on the others' agendas
    "agendas.outcome": Case(agenda_meeting, (LOGIN, 400, 404, 404, 404)),
    # no one rated "cooperation possible": staff are told so on the staff agenda
    "agendas.open_introduction": Case(
        lambda w: {**agenda_meeting(w), "org_ref": w.vendor.ref}, (LOGIN, 403, 403, 302, 302)
    ),
    # --- notices: the buyer's members (none of our roles) and staff manage documents,
    # amendments and answers; whoever sees the need downloads; a vendor member asks
    "notices.upload": Case(lambda w: {"ref": w.need.ref}, (LOGIN, 403, 403, 200, 200)),
    "notices.download": Case(notice_document, everyone(200)),
    "notices.remove_document": Case(notice_document, (LOGIN, 403, 403, 200, 200)),
    "notices.amendment_note": Case(notice_amendment, (LOGIN, 403, 403, 200, 200)),
    "notices.questions_deadline": Case(lambda w: {"ref": w.need.ref}, (LOGIN, 403, 403, 200, 200)),
    "notices.ask": Case(lambda w: {"ref": w.need.ref}, (LOGIN, 200, 403, 403, 403)),
    "notices.answer": Case(notice_question, (LOGIN, 403, 403, 200, 200)),
    # --- the public API: the same for everyone (a session opens nothing there; the /me
    # endpoints need a personal token, so a logged-in browser gets 401 too). Tokens are
    # made and revoked by vendor and buyer members only, and only their own.
    "api.root": Case(none, everyone(200)),
    "api.openapi_document": Case(none, everyone(200)),
    "api.vendors": Case(none, everyone(200)),
    "api.vendor": Case(lambda w: {"ref": w.vendor.ref}, everyone(200)),
    "api.buyers": Case(none, everyone(200)),
    "api.buyer": Case(lambda w: {"ref": w.buyer.ref}, everyone(200)),
    "api.needs": Case(none, everyone(200)),
    "api.need": Case(lambda w: {"ref": w.need.ref}, everyone(200)),
    "api.search": Case(none, everyone(200)),
    "api.me": Case(none, everyone(401)),
    "api.my_leads": Case(none, everyone(401)),
    "api.my_introductions": Case(none, everyone(401)),
    "api.my_agenda": Case(none, everyone(401)),
    "api_tokens.index": Case(none, (LOGIN, 200, 200, 403, 403)),
    "api_tokens.create": Case(none, (LOGIN, 400, 400, 403, 403)),
    "api_tokens.revoke": Case(api_token, (LOGIN, 404, 404, 403, 403)),
    # --- follows: vendor members follow needs (and have the deadlines feed, whose URL
    # needs no login); any member saves searches, and only ever reaches their own
    "follows.follow": Case(lambda w: {"ref": w.need.ref}, (LOGIN, 302, 403, 403, 403)),
    "follows.unfollow": Case(lambda w: {"ref": w.need.ref}, (LOGIN, 302, 403, 403, 403)),
    "follows.followed": Case(none, (LOGIN, 200, 403, 403, 403)),
    "follows.new_calendar_url": Case(none, (LOGIN, 302, 403, 403, 403)),
    "follows.revoke_calendar_url": Case(none, (LOGIN, 302, 403, 403, 403)),
    "follows.calendar_feed": Case(follows_calendar_token, everyone(200)),
    "follows.saved_searches": Case(none, (LOGIN, 200, 200, 200, 200)),
    "follows.new_search": Case(none, (LOGIN, 200, 200, 200, 200)),
    "follows.edit_search": Case(others_saved_search, (LOGIN, 404, 404, 404, 404)),
    "follows.pause_search": Case(others_saved_search, (LOGIN, 404, 404, 404, 404)),
    "follows.resume_search": Case(others_saved_search, (LOGIN, 404, 404, 404, 404)),
    "follows.delete_search": Case(others_saved_search, (LOGIN, 404, 404, 404, 404)),
    # --- staff
    "staff.verification_queue": Case(none, (LOGIN, 403, 403, 200, 200)),
    "staff.dashboard_page": Case(none, (LOGIN, 403, 403, 200, 200)),
    "staff.dashboard_csv": Case(none, (LOGIN, 403, 403, 200, 200)),
    "staff.approve": Case(lambda w: {"ref": w.pending.ref}, (LOGIN, 403, 403, 302, 302)),
    "staff.reject": Case(lambda w: {"ref": w.pending.ref}, (LOGIN, 403, 403, 400, 400)),
}

# Objects that are not public: the same routes, a different answer for outsiders.
HIDDEN: dict[str, Case] = {
    # staff see an organization waiting for them, to verify it
    "pending vendor profile": Case(lambda w: {"ref": w.pending.ref}, (404, 404, 404, 200, 200)),
    "closed need page": Case(lambda w: {"ref": w.closed_need.ref}, (404, 404, 404, 200, 200)),
    "lead on a closed need": Case(
        lambda w: {"need_ref": w.closed_need.ref, "vendor_ref": w.vendor.ref},
        (LOGIN, 404, 404, 403, 403),
    ),
    # webhooks: another organization's endpoint under the vendor's ref is not found
    "webhook endpoint of another organization": Case(
        lambda w: webhook_endpoint(w, owner=w.other_buyer), (LOGIN, 404, 403, 404, 404)
    ),
    # a subscription URL with a token no participant holds (revoked, or guessed)
    "unknown calendar token": Case(lambda w: {"token": "not-a-token"}, everyone(404)),
    # follows: a deadlines feed token no member holds; a closed need cannot be followed
    "unknown followed-deadlines token": Case(lambda w: {"token": "not-a-token"}, everyone(404)),
    "following a closed need": Case(
        lambda w: {"ref": w.closed_need.ref}, (LOGIN, 404, 403, 403, 403)
    ),
    # a closed need's documents and questions are its buyer's and staff's only
    "document of a closed need": Case(closed_notice_document, (404, 404, 404, 200, 200)),
    "question about a closed need": Case(
        lambda w: {"ref": w.closed_need.ref}, (LOGIN, 404, 404, 403, 403)
    ),
    # the API serves public records only, whoever asks
    "pending vendor in the API": Case(lambda w: {"ref": w.pending.ref}, everyone(404)),
    "closed need in the API": Case(lambda w: {"ref": w.closed_need.ref}, everyone(404)),
}
HIDDEN_ENDPOINTS = {
    "pending vendor in the API": "api.vendor",
    "closed need in the API": "api.need",
    "pending vendor profile": "organizations.vendor_detail",
    "closed need page": "needs.detail",
    "lead on a closed need": "matching.dismiss",
    "webhook endpoint of another organization": "webhooks.detail",
    "unknown calendar token": "agendas.subscription",
    "unknown followed-deadlines token": "follows.calendar_feed",
    "following a closed need": "follows.follow",
    "document of a closed need": "notices.download",
    "question about a closed need": "notices.ask",
}


@pytest.fixture
def world(app: Flask) -> World:
    vendor = make_org(OrganizationKind.VENDOR, "Matrix Vendor Inc.")
    capability = Capability(organization=vendor, title="Adaptive signals", description="x")
    db.session.add(capability)
    db.session.commit()
    buyer = make_org(OrganizationKind.BUYER, "Matrix City Water")
    IndexStore.from_app().open()  # a node that has built its index
    return World(
        vendor=vendor,
        capability=capability,
        contact=make_contact(vendor),
        buyer=buyer,
        need=make_need(buyer, "Matrix flood sensors"),
        closed_need=make_need(buyer, "Matrix closed need", status=NeedStatus.CLOSED),
        pending=make_org(OrganizationKind.VENDOR, "Matrix Pending Co.", verified=False),
        other_buyer=make_org(OrganizationKind.BUYER, "Matrix Other Utility"),
    )


def sign_in(client: FlaskClient, world: World, role: str) -> None:
    if role == "anonymous":
        return
    user = {
        "vendor": lambda: make_user(Role.VENDOR, world.vendor),
        "other_buyer": lambda: make_user(Role.BUYER, world.other_buyer),
        "staff": lambda: make_user(Role.STAFF),
        "admin": lambda: make_user(Role.ADMIN),
    }[role]()
    log_in(client, user)


def methods_of(app: Flask, endpoint: str) -> set[str]:
    [rule] = [r for r in app.url_map.iter_rules() if r.endpoint == endpoint]
    return set(rule.methods or ()) - {"HEAD", "OPTIONS"}


def outcome(app: Flask, client: FlaskClient, endpoint: str, case: Case, world: World) -> Any:
    with app.test_request_context():
        url = url_for(endpoint, **case.values(world), **case.query(world))
    method = "GET" if "GET" in methods_of(app, endpoint) else "POST"
    response = client.open(url, method=method)
    response.close()
    location = urlsplit(response.headers.get("Location", ""))
    if response.status_code == 302 and location.path == "/login":
        return LOGIN
    return response.status_code


def test_every_route_has_expectations(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(EXPECTED))
    assert not missing, f"routes with no expected outcomes in this matrix: {missing}"
    assert not set(EXPECTED) - endpoints, "expectations for routes that no longer exist"


def test_only_get_and_post_are_served(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        assert methods_of(app, rule.endpoint) <= {"GET", "POST"}, rule


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(EXPECTED))
def test_route_answers_each_role_as_it_should(
    app: Flask, client: FlaskClient, world: World, endpoint: str, role: str
) -> None:
    case = EXPECTED[endpoint]
    sign_in(client, world, role)
    assert outcome(app, client, endpoint, case, world) == case.outcomes[ROLES.index(role)]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(HIDDEN))
def test_what_is_not_public_is_not_found_for_outsiders(
    app: Flask, client: FlaskClient, world: World, name: str, role: str
) -> None:
    case = HIDDEN[name]
    sign_in(client, world, role)
    result = outcome(app, client, HIDDEN_ENDPOINTS[name], case, world)
    assert result == case.outcomes[ROLES.index(role)]
