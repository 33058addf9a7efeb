"""The public API, ``/api/v1/``: read-only JSON for anyone, and a member's own data for a
personal token.

Public endpoints answer everyone alike, with what an anonymous visitor of the pages sees
(verified organizations, public needs; never a contact). The ``/me`` endpoints need
``Authorization: Bearer <token>`` and answer for the token owner's organization, through
the same functions as its pages. A session cookie opens nothing here: the API reads only
the token, so it needs no CSRF protection (and only answers GET).

Every answer that succeeds carries an ETag (``If-None-Match`` gives 304); every error is
``application/problem+json`` (``portal.api.problems``). Lists are cursor-paged
(``portal.api.pagination``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, g, jsonify, request, url_for
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from portal.api import openapi, serializers, tokens
from portal.api.models import ApiToken
from portal.api.pagination import (
    MAX_LIMIT,
    next_url,
    page_of_list,
    page_of_query,
    read_cursor,
    read_limit,
)
from portal.db import list_contains
from portal.extensions import csrf, db
from portal.introductions.services import introductions_of
from portal.matching.panels import LeadsPanel, need_leads, needs_for_vendor
from portal.missions.agenda import agenda_of
from portal.missions.models import Participant
from portal.needs.models import Need
from portal.needs.services import find_need, is_public, open_needs_of
from portal.notices.services import amendments_of, documents_of, public_answers_of
from portal.organizations.models import Organization, OrganizationKind, VerificationStatus
from portal.organizations.services import find_organization
from portal.search.index import IndexOutdated
from portal.search.queries import SearchFilters, search
from portal.vocab import (
    ASEAN_COUNTRIES,
    FUNDING_SOURCES,
    FUNDING_STAGES,
    NOTICE_TYPES,
    SECTORS,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

REF = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_TEXT_FILTER = 200
MAX_SEARCH_TEXT = 500
# Search reads ranked hits page by page; past this many, a client should narrow its words.
MAX_SEARCH_RESULTS = 2000


# --- every request: the token, if any; every answer: caching and its ETag -----------------


@bp.before_request
def read_token() -> None:
    """Check a presented token; a request without one goes on anonymously. A header that
    names no valid token is a 401, even on a public endpoint: a client with a revoked
    token learns it at once instead of silently reading public data only."""
    g.api_token = None
    secret = tokens.bearer_secret()
    if secret is None:
        return
    token = tokens.authenticate(secret) if secret else None
    if token is None:
        raise Unauthorized(
            description="The Authorization header names no active API token.",
            www_authenticate=WWWAuthenticate(
                "bearer", {"realm": "portal", "error": "invalid_token"}
            ),
        )
    if tokens.mark_used(token):
        db.session.commit()
    g.api_token = token


@bp.after_request
def cache_headers(response: Response) -> Response:
    response.headers.add("Vary", "Authorization")
    if response.status_code == 200 and request.method in ("GET", "HEAD"):
        private = g.get("api_token") is not None
        response.headers.setdefault(
            "Cache-Control", "private, no-cache" if private else "public, no-cache"
        )
        response.add_etag()
        response.make_conditional(request)
    return response


def member_token(view: Callable[..., Any]) -> Callable[..., Any]:
    """The view needs a personal token (else 401); it gets the token's row."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token: ApiToken | None = g.get("api_token")
        if token is None:
            raise Unauthorized(
                description="This endpoint needs a personal API token: "
                "Authorization: Bearer <token>.",
                www_authenticate=WWWAuthenticate("bearer", {"realm": "portal"}),
            )
        return view(token, *args, **kwargs)

    return wrapper


# --- parameters -------------------------------------------------------------------------


def choice(name: str, allowed: Mapping[str, Any] | tuple[str, ...]) -> str | None:
    """An optional parameter that must be one of ``allowed``: anything else is a 400."""
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if value not in allowed:
        abort(400, description=f"{name} must be one of: {', '.join(allowed)}.")
    return value


def text_param(name: str, limit: int = MAX_TEXT_FILTER) -> str | None:
    value = request.args.get(name)
    if value is None:
        return None
    if len(value) > limit:
        abort(400, description=f"{name} is at most {limit} characters.")
    return value.strip() or None


def ref_or_404(ref: str) -> str:
    if not REF.match(ref):
        abort(404, description="There is no such record.")
    return ref


def listing(items: list[dict[str, Any]], next_page: str | None, **extra: Any) -> Response:
    return jsonify({"items": items, "next": next_page, **extra})


def _contains(column: Any, text: str) -> sa.ColumnElement[bool]:
    return sa.func.lower(column).contains(text.lower(), autoescape=True)


# --- the API's own description -----------------------------------------------------------


@bp.get("/")
def root() -> Response:
    """Where to start: the document and the lists."""
    links = {
        name: url_for(f"api.{name}", _external=True)
        for name in ("vendors", "buyers", "needs", "search")
    }
    return jsonify({"openapi": url_for("api.openapi_document", _external=True), **links})


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(openapi.document(url_for("api.root", _external=True).rstrip("/")))


# --- vendors and buyers -----------------------------------------------------------------


def _verified(kind: OrganizationKind) -> sa.Select[tuple[Organization]]:
    return sa.select(Organization).where(
        Organization.kind == kind, Organization.status == VerificationStatus.VERIFIED
    )


def _public_organization(ref: str, kind: OrganizationKind) -> Organization:
    organization = find_organization(ref_or_404(ref), kind)
    if organization is None or not organization.is_verified:
        abort(404, description=f"There is no verified {kind} {ref}.")
    return organization


@bp.get("/vendors")
def vendors() -> Response:
    """Verified vendors by id; filter by sector, ASEAN market served and name."""
    sector, market = choice("sector", SECTORS), choice("market", ASEAN_COUNTRIES)
    name = text_param("q")
    query = _verified(OrganizationKind.VENDOR).options(selectinload(Organization.capabilities))
    if sector:
        query = query.where(list_contains(Organization.sectors, sector))
    if market:
        query = query.where(list_contains(Organization.markets, market))
    if name:
        query = query.where(_contains(Organization.name, name))
    rows, next_page = page_of_query(query, Organization.id, "vendors")
    return listing([serializers.vendor(row) for row in rows], next_page)


@bp.get("/vendors/<ref>")
def vendor(ref: str) -> Response:
    return jsonify(serializers.vendor(_public_organization(ref, OrganizationKind.VENDOR)))


@bp.get("/buyers")
def buyers() -> Response:
    """Verified buyers by id; filter by sector, country and name."""
    sector, country = choice("sector", SECTORS), choice("country", ASEAN_COUNTRIES)
    name = text_param("q")
    query = _verified(OrganizationKind.BUYER)
    if sector:
        query = query.where(list_contains(Organization.sectors, sector))
    if country:
        query = query.where(Organization.country == country)
    if name:
        query = query.where(_contains(Organization.name, name))
    rows, next_page = page_of_query(query, Organization.id, "buyers")
    return listing([serializers.buyer(row) for row in rows], next_page)


@bp.get("/buyers/<ref>")
def buyer(ref: str) -> Response:
    return jsonify(serializers.buyer(_public_organization(ref, OrganizationKind.BUYER)))


# --- needs -------------------------------------------------------------------------------


@bp.get("/needs")
def needs() -> Response:
    """Public needs (open, of verified buyers) by id; filter by sector, the buyer's country,
    the buyer, notice type, funding source and stage, and title."""
    sector, country = choice("sector", SECTORS), choice("country", ASEAN_COUNTRIES)
    notice = choice("notice", NOTICE_TYPES)
    source, stage = (
        choice("funding_source", FUNDING_SOURCES),
        choice("funding_stage", FUNDING_STAGES),
    )
    buyer_ref, title = text_param("buyer", 64), text_param("q")
    query = sa.select(Need).join(Need.buyer).where(Need.is_public).options(selectinload(Need.buyer))
    if sector:
        query = query.where(list_contains(Need.sectors, sector))
    if country:
        query = query.where(Organization.country == country)
    if buyer_ref:
        query = query.where(Organization.ref == buyer_ref)
    if notice:
        query = query.where(Need.notice == notice)
    if source:
        query = query.where(Need.funding_source == source)
    if stage:
        query = query.where(Need.funding_stage == stage)
    if title:
        query = query.where(_contains(Need.title, title))
    rows, next_page = page_of_query(query, Need.id, "needs")
    return listing([serializers.need(row) for row in rows], next_page)


@bp.get("/needs/<ref>")
def need(ref: str) -> Response:
    """One public need with its documents, amendments and public answers."""
    record = find_need(ref_or_404(ref))
    if record is None or not is_public(record):
        abort(404, description=f"There is no open public need {ref}.")
    return jsonify({**serializers.need(record), **notice_details(record)})


def notice_details(record: Need) -> dict[str, list[dict[str, Any]]]:
    """The notice's documents, amendments and public answers, as its page shows them."""
    return {
        "documents": [serializers.document(row, record) for row in documents_of(record)],
        "amendments": [serializers.amendment(row) for row in amendments_of(record)],
        "answers": [serializers.public_answer(row) for row in public_answers_of(record)],
    }


# --- search ------------------------------------------------------------------------------


@bp.get("/search", endpoint="search")
def search_records() -> Response:
    """Words over vendors, buyers and needs, with facets; what /search shows."""
    text = text_param("q", MAX_SEARCH_TEXT) or ""
    filters, notes = SearchFilters.from_args(request.args)
    if notes:
        abort(400, description=" ".join(notes))
    cursor = read_cursor("search", (int, int))
    page, size = cursor if cursor is not None else (1, read_limit())
    if not 1 <= size <= MAX_LIMIT:
        abort(400, description="cursor is not one this list gave.")
    try:
        results = search(text, filters, page=page, page_size=size)
    except IndexOutdated:
        abort(503, description="Search is being rebuilt; try again in a few minutes.")
    items = [] if results.page != page else [_hit(hit) for hit in results.hits]
    more = results.page == page and results.has_next and page * size < MAX_SEARCH_RESULTS
    next_page = None
    if more:
        next_page = next_url((page + 1, size), "search")
    facets = {
        name: [{"value": value, "count": count} for value, count in counts]
        for name, counts in results.facets.items()
    }
    return listing(
        items,
        next_page,
        total=results.total,
        facets=facets,
        suggestion=results.suggestion,
        matched_any=results.matched_any,
    )


def _hit(hit: Any) -> dict[str, Any]:
    record = hit.record
    if hit.kind == "need":
        name, url = record.title, url_for("api.need", ref=record.ref, _external=True)
    else:
        name = record.name
        url = url_for(f"api.{hit.kind}", ref=record.ref, _external=True)
    return {
        "kind": hit.kind,
        "ref": record.ref,
        "name": name,
        "snippet": serializers.without_contact_details(hit.snippet.striptags()),
        "score": round(float(hit.score), 4),
        "url": url,
    }


# --- a member's own, with a personal token -----------------------------------------------


@bp.get("/me")
@member_token
def me(token: ApiToken) -> Response:
    organization = token.user.organization
    return jsonify(
        {
            "organization": serializers.organization_ref(organization) if organization else None,
            "role": token.user.role,
            "token": {
                "name": token.name,
                "hint": token.hint,
                "scope": token.scope,
                "created_at": serializers.timestamp(token.created_at),
                "last_used_at": serializers.timestamp(token.last_used_at),
            },
        }
    )


def _organization_of(token: ApiToken) -> Organization:
    organization = token.user.organization
    if organization is None:  # tokens are made for members only; one may have left since
        abort(403, description="This token's account belongs to no organization.")
    return organization


def _panel_leads(panel: LeadsPanel, direction: str, everything: bool) -> list[dict[str, Any]]:
    if panel.unavailable:
        abort(503, description="Leads are unavailable right now; try again later.")
    rows = [*panel.shown, *panel.more] if everything else panel.shown
    return [serializers.lead(row.lead, direction) for row in rows]


@bp.get("/me/leads")
@member_token
def my_leads(token: ApiToken) -> Response:
    """The leads the pages show the member's organization: for a vendor, the needs it
    could win, best first; for a buyer, the vendors for each of its open needs. The
    confident ones, as the pages list them first; ``all=true`` adds the weaker ones the
    pages keep behind "show more"."""
    organization = _organization_of(token)
    everything = choice("all", ("true", "false")) == "true"
    if organization.is_vendor:
        items = _panel_leads(needs_for_vendor(organization), "need-for-vendor", everything)
        page, next_page = page_of_list(
            items,
            lambda item: (not item["shown"], -item["score"], item["need"]["ref"]),
            (bool, float, str),
            "leads-of-vendor",
        )
        return listing(page, next_page)
    items = []
    for record in open_needs_of(organization):
        panel = need_leads(record, token.user)
        if panel is not None:
            items += _panel_leads(panel, "vendor-for-need", everything)
    page, next_page = page_of_list(
        items,
        lambda item: (
            item["need"]["ref"],
            not item["shown"],
            -item["score"],
            item["vendor"]["ref"],
        ),
        (str, bool, float, str),
        "leads-of-buyer",
    )
    return listing(page, next_page)


@bp.get("/me/introductions")
@member_token
def my_introductions(token: ApiToken) -> Response:
    """The introductions the member's organization sees (a request the other side made
    only once staff approved it), by id."""
    rows = introductions_of(_organization_of(token))
    page, next_page = page_of_list(rows, lambda row: (row.id,), (int,), "introductions")
    return listing([serializers.introduction(row, token.user) for row in page], next_page)


@bp.get("/me/agenda")
@member_token
def my_agenda(token: ApiToken) -> Response:
    """The published meetings of the member's organization at every event, by time."""
    organization = _organization_of(token)
    participants = db.session.scalars(
        sa.select(Participant).where(Participant.organization_id == organization.id)
    )
    items = []
    for participant in participants:
        agenda = agenda_of(participant)
        items += [serializers.agenda_item(item, agenda) for item in agenda.items]
    page, next_page = page_of_list(
        items, lambda item: (item["starts_at"], item["uid"]), (str, str), "agenda"
    )
    return listing(page, next_page)
