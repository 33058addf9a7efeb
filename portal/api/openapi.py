"""The OpenAPI 3.1 document of ``/api/v1/``: every endpoint, parameter and answer.

Written out by hand from the serializers (``portal.api.serializers``) rather than
generated, so that it says what a client may rely on; the tests validate the document
(openapi-spec-validator) and check every answer they get against its schemas, so the two
cannot drift apart unnoticed. Enumerations come from ``portal.vocab``.
"""

from __future__ import annotations

from typing import Any

from portal.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from portal.introductions.models import IntroState
from portal.languages.detect import LANGUAGE_NAMES
from portal.vocab import (
    ASEAN_COUNTRIES,
    FUNDING_SOURCES,
    FUNDING_STAGES,
    NOTICE_TYPES,
    SECTORS,
)

Schema = dict[str, Any]

VERSION = "1.0.0"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(kind: str, **more: Any) -> Schema:
    return {"type": [kind, "null"], **more}


def obj(properties: dict[str, Schema], description: str = "") -> Schema:
    """An object with exactly these properties, all present in every answer."""
    schema: Schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


STRING = {"type": "string"}
URL = {"type": "string", "format": "uri"}
TIME = {"type": "string", "format": "date-time"}
CODES = array(STRING)
COUNTRY = {"type": "string", "description": "ISO 3166-1 alpha-2"}


def list_of(item: str, description: str) -> Schema:
    return obj(
        {
            "items": array(ref(item)),
            "next": nullable(
                "string", format="uri", description="The next page, or null on the last one."
            ),
        },
        description,
    )


def schemas() -> dict[str, Schema]:
    organization_fields = {
        "ref": STRING,
        "name": STRING,
        "country": COUNTRY,
        "city": STRING,
        "website": {"type": "string", "description": "An http(s) URL, or empty."},
        "summary": {"type": "string", "description": "In the organization's words."},
        "sectors": CODES,
        "updated_at": TIME,
    }
    return {
        "Problem": {
            "type": "object",
            "description": "An error (RFC 9457, application/problem+json).",
            "properties": {
                "type": STRING,
                "title": STRING,
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": STRING,
            },
            "required": ["type", "title", "status", "detail"],
        },
        "Root": obj(
            {"openapi": URL, "vendors": URL, "buyers": URL, "needs": URL, "search": URL},
            "Where to start.",
        ),
        "OrganizationRef": obj(
            {
                "ref": STRING,
                "kind": {"type": "string", "enum": ["vendor", "buyer"]},
                "name": STRING,
                "country": COUNTRY,
            }
        ),
        "Capability": obj({"title": STRING, "description": STRING, "sectors": CODES}),
        "Vendor": obj(
            {
                **organization_fields,
                "markets": CODES,
                "capabilities": array(ref("Capability")),
                "url": URL,
                "page_url": nullable("string", format="uri"),
            },
            "A verified U.S. vendor.",
        ),
        "Buyer": obj(
            {
                **organization_fields,
                "url": URL,
                "page_url": nullable("string", format="uri"),
                "needs_url": URL,
            },
            "A verified ASEAN city buyer.",
        ),
        "Budget": obj(
            {
                "currency": {"type": "string", "enum": ["USD"]},
                "min": nullable("integer"),
                "max": nullable("integer"),
            }
        ),
        "Funding": obj(
            {
                "source": {"type": "string", "enum": list(FUNDING_SOURCES)},
                "stage": {"type": "string", "enum": list(FUNDING_STAGES)},
            },
            "Where the money comes from and how far it has got.",
        ),
        "Need": obj(_need_fields(), "An open need of a verified buyer."),
        "NeedDetail": obj(
            {
                **_need_fields(),
                "documents": array(ref("Document")),
                "amendments": array(ref("Amendment")),
                "answers": array(ref("PublicAnswer")),
            },
            "A need with its notice's documents, amendments and public answers.",
        ),
        "Document": obj(
            {
                "filename": STRING,
                "kind": {"type": "string", "enum": ["pdf", "docx", "xlsx", "png", "jpeg"]},
                "content_type": STRING,
                "size": {"type": "integer", "minimum": 0},
                "sha256": STRING,
                "uploaded_at": TIME,
                "download_url": nullable("string", format="uri"),
            }
        ),
        "Amendment": obj(
            {
                "number": {"type": "integer", "minimum": 1},
                "created_at": TIME,
                "note": STRING,
                "changes": array(
                    obj(
                        {
                            "field": STRING,
                            "old": {"type": ["string", "integer", "number", "boolean", "null"]},
                            "new": {"type": ["string", "integer", "number", "boolean", "null"]},
                        }
                    )
                ),
            },
            "A numbered change of a published notice.",
        ),
        "PublicAnswer": obj(
            {
                "question": STRING,
                "answer": STRING,
                "asked_at": TIME,
                "answered_at": TIME,
            },
            "A vendor's question and the buyer's public answer; the asker is not named.",
        ),
        "SearchHit": obj(
            {
                "kind": {"type": "string", "enum": ["vendor", "buyer", "need"]},
                "ref": STRING,
                "name": {"type": "string", "description": "A need's title, else the name."},
                "snippet": STRING,
                "score": {"type": "number"},
                "url": URL,
            }
        ),
        "FacetValue": obj({"value": STRING, "count": {"type": "integer", "minimum": 0}}),
        "SearchResults": obj(
            {
                "items": array(ref("SearchHit")),
                "next": nullable("string", format="uri"),
                "total": {"type": "integer", "minimum": 0},
                "facets": {
                    "type": "object",
                    "description": "Per facet (kind, sectors, country, markets, ...): the "
                    "values among the matches and how many have each.",
                    "additionalProperties": array(ref("FacetValue")),
                },
                "suggestion": nullable("string", description="Did you mean ..."),
                "matched_any": {
                    "type": "boolean",
                    "description": "No record had every word; these have some of them.",
                },
            }
        ),
        "Lead": obj(
            {
                "direction": {"type": "string", "enum": ["need-for-vendor", "vendor-for-need"]},
                "need": obj(
                    {
                        "ref": STRING,
                        "title": STRING,
                        "buyer_name": STRING,
                        "country": COUNTRY,
                        "url": URL,
                    }
                ),
                "vendor": obj({"ref": STRING, "name": STRING, "url": URL}),
                "strength": STRING,
                "shown": {
                    "type": "boolean",
                    "description": "A confident lead, which the pages list first; the "
                    'others are behind their "show more" (and here only with all=true).',
                },
                "score": {
                    "type": "number",
                    "description": "The lead's value to the buyer: what the order follows.",
                },
                "probability": {"type": "number", "minimum": 0, "maximum": 1},
                "reasons": array(STRING),
            },
            "A lead the portal's pages show the member's organization.",
        ),
        "Introduction": obj(
            {
                "id": {"type": "integer"},
                "state": {"type": "string", "enum": [state.value for state in IntroState]},
                "state_label": STRING,
                "requested_by": {"type": "string", "enum": ["vendor", "buyer", "staff"]},
                "vendor": ref("OrganizationRef"),
                "buyer": ref("OrganizationRef"),
                "need": {"oneOf": [obj({"ref": STRING, "title": STRING}), {"type": "null"}]},
                "next_step": STRING,
                "created_at": TIME,
                "state_changed_at": TIME,
                "introduced_at": nullable("string", format="date-time"),
                "page_url": nullable("string", format="uri"),
            },
            "An introduction the member's organization takes part in; no contact details.",
        ),
        "AgendaItem": obj(
            {
                "uid": STRING,
                "event": obj({"ref": STRING, "name": STRING, "city": STRING, "country": STRING}),
                "starts_at": TIME,
                "ends_at": TIME,
                "local_starts_at": {**TIME, "description": "In the participant's time zone."},
                "local_ends_at": TIME,
                "time_zone": {"type": "string", "description": "IANA name."},
                "online": {"type": "boolean"},
                "table_number": nullable("integer"),
                "place": STRING,
                "join_link": nullable("string"),
                "with": ref("OrganizationRef"),
            },
            "A published meeting of the member's organization.",
        ),
        "Me": obj(
            {
                "organization": {"oneOf": [ref("OrganizationRef"), {"type": "null"}]},
                "role": {"type": "string", "enum": ["vendor", "buyer"]},
                "token": obj(
                    {
                        "name": STRING,
                        "hint": {"type": "string", "description": "The token's first characters."},
                        "scope": {"type": "string", "enum": ["read"]},
                        "created_at": TIME,
                        "last_used_at": nullable("string", format="date-time"),
                    }
                ),
            }
        ),
        "VendorList": list_of("Vendor", "Verified vendors, by id."),
        "BuyerList": list_of("Buyer", "Verified buyers, by id."),
        "NeedList": list_of("Need", "Open needs of verified buyers, by id."),
        "LeadList": list_of("Lead", "Leads, best first."),
        "IntroductionList": list_of("Introduction", "Introductions, by id."),
        "Agenda": list_of("AgendaItem", "Meetings, by start time."),
    }


def _need_fields() -> dict[str, Schema]:
    return {
        "ref": STRING,
        "title": STRING,
        "description": STRING,
        "status": {"type": "string", "enum": ["open"]},
        "notice": {"type": "string", "enum": list(NOTICE_TYPES)},
        "language": nullable(
            "string",
            enum=[*LANGUAGE_NAMES, None],
            description="The language of title and description, detected: ISO 639-1, "
            '"fil" for Filipino, "other" for a language the portal does not tell apart; '
            "null when too short to tell.",
        ),
        "funding": {"oneOf": [ref("Funding"), {"type": "null"}]},
        "budget": {"oneOf": [ref("Budget"), {"type": "null"}]},
        "closes_on": nullable("string", format="date"),
        "sectors": CODES,
        "buyer": ref("OrganizationRef"),
        "created_at": TIME,
        "updated_at": TIME,
        "url": URL,
        "page_url": nullable("string", format="uri"),
    }


def _query(name: str, description: str, schema: Schema) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def parameters() -> dict[str, Schema]:
    return {
        "limit": _query(
            "limit",
            f"Items a page (default {DEFAULT_LIMIT}).",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        ),
        "cursor": _query(
            "cursor",
            "Opaque: copy it from a page's `next` URL. One the API did not give is a 400.",
            {"type": "string", "maxLength": 500},
        ),
        "sector": _query("sector", "A sector code.", {"type": "string", "enum": list(SECTORS)}),
        "country": _query(
            "country", "An ASEAN country.", {"type": "string", "enum": list(ASEAN_COUNTRIES)}
        ),
        "market": _query(
            "market",
            "An ASEAN country the vendor serves.",
            {"type": "string", "enum": list(ASEAN_COUNTRIES)},
        ),
        "name": _query("q", "Part of the name.", {"type": "string", "maxLength": 200}),
        "ref": {
            "name": "ref",
            "in": "path",
            "required": True,
            "description": "The record's ref (exchange format), e.g. dn-12.",
            # no leading dot: "." and ".." are path segments, not refs
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$"},
        },
        "if_none_match": {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "description": "An ETag of an earlier answer: 304 if it has not changed.",
            "schema": {"type": "string"},
        },
    }


def _param(name: str) -> Schema:
    return {"$ref": f"#/components/parameters/{name}"}


def _problem(description: str, headers: dict[str, Schema] | None = None) -> Schema:
    response: Schema = {
        "description": description,
        "content": {"application/problem+json": {"schema": ref("Problem")}},
    }
    if headers:
        response["headers"] = headers
    return response


def responses() -> dict[str, Schema]:
    retry = {"Retry-After": {"description": "Seconds to wait.", "schema": STRING}}
    return {
        "NotModified": {"description": "Unchanged since the ETag given in If-None-Match."},
        "BadRequest": _problem("A parameter is not valid (the detail says which)."),
        "Unauthorized": _problem(
            "No personal token, or one that is unknown or revoked.",
            {"WWW-Authenticate": {"schema": STRING}},
        ),
        "Forbidden": _problem("The token's account may not see this."),
        "NotFound": _problem("No such record, or not a public one."),
        "TooManyRequests": _problem("The rate limit is reached.", retry),
        "Unavailable": _problem("Temporarily unavailable.", retry),
    }


def _ok(schema: str, description: str) -> Schema:
    return {
        "description": description,
        "headers": {"ETag": {"schema": STRING}},
        "content": {"application/json": {"schema": ref(schema)}},
    }


def _errors(*codes: str) -> dict[str, Schema]:
    names = {
        "304": "NotModified",
        "400": "BadRequest",
        "401": "Unauthorized",
        "403": "Forbidden",
        "404": "NotFound",
        "429": "TooManyRequests",
        "503": "Unavailable",
    }
    return {code: {"$ref": f"#/components/responses/{names[code]}"} for code in codes}


PUBLIC_ERRORS = ("304", "400", "401", "429")
MEMBER = [{"bearerAuth": []}]
PUBLIC = [{}, {"bearerAuth": []}]  # anyone; a token, if sent, must be valid


def _get(
    operation_id: str,
    summary: str,
    ok: Schema,
    *,
    params: list[Schema] | None = None,
    errors: tuple[str, ...] = PUBLIC_ERRORS,
    security: list[dict[str, list[str]]] = PUBLIC,
    tag: str = "public",
) -> Schema:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "tags": [tag],
            "security": security,
            "parameters": [*(params or []), _param("if_none_match")],
            "responses": {"200": ok, **_errors(*errors)},
        }
    }


def paths() -> dict[str, Schema]:
    paging = [_param("limit"), _param("cursor")]
    member_errors = ("304", "400", "401", "403", "429", "503")
    needs_filters = [
        _param("sector"),
        _param("country"),
        _query("buyer", "A buyer's ref.", {"type": "string", "maxLength": 64}),
        _query("notice", "A notice type.", {"type": "string", "enum": list(NOTICE_TYPES)}),
        _query(
            "funding_source",
            "Where the money comes from.",
            {"type": "string", "enum": list(FUNDING_SOURCES)},
        ),
        _query(
            "funding_stage",
            "How far the money has got.",
            {"type": "string", "enum": list(FUNDING_STAGES)},
        ),
        _query("q", "Part of the title.", {"type": "string", "maxLength": 200}),
    ]
    search_filters = [
        _query("q", "Words.", {"type": "string", "maxLength": 500}),
        _query(
            "kind",
            "vendor, buyer or need.",
            {"type": "string", "enum": ["vendor", "need", "buyer"]},
        ),
        _param("sector"),
        _query(
            "country",
            "A country (of an organization or a need's buyer).",
            {"type": "string", "enum": ["US", *ASEAN_COUNTRIES]},
        ),
        _param("market"),
        *needs_filters[3:6],
    ]
    return {
        "/": _get("root", "Where to start", _ok("Root", "Links to the document and the lists.")),
        "/openapi.json": _get(
            "openapi",
            "This document",
            {
                "description": "The OpenAPI 3.1 document.",
                "headers": {"ETag": {"schema": STRING}},
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
        ),
        "/vendors": _get(
            "listVendors",
            "Verified vendors",
            _ok("VendorList", "A page of vendors."),
            params=[_param("sector"), _param("market"), _param("name"), *paging],
        ),
        "/vendors/{ref}": _get(
            "getVendor",
            "One verified vendor",
            _ok("Vendor", "The vendor."),
            params=[_param("ref")],
            errors=(*PUBLIC_ERRORS, "404"),
        ),
        "/buyers": _get(
            "listBuyers",
            "Verified buyers",
            _ok("BuyerList", "A page of buyers."),
            params=[_param("sector"), _param("country"), _param("name"), *paging],
        ),
        "/buyers/{ref}": _get(
            "getBuyer",
            "One verified buyer",
            _ok("Buyer", "The buyer."),
            params=[_param("ref")],
            errors=(*PUBLIC_ERRORS, "404"),
        ),
        "/needs": _get(
            "listNeeds",
            "Open needs of verified buyers",
            _ok("NeedList", "A page of needs."),
            params=[*needs_filters, *paging],
        ),
        "/needs/{ref}": _get(
            "getNeed",
            "One open need, with its documents, amendments and public answers",
            _ok("NeedDetail", "The need."),
            params=[_param("ref")],
            errors=(*PUBLIC_ERRORS, "404"),
        ),
        "/search": _get(
            "search",
            "Words over vendors, buyers and needs, with facets",
            _ok("SearchResults", "A page of matches, best first."),
            params=[*search_filters, *paging],
            errors=(*PUBLIC_ERRORS, "503"),
        ),
        "/me": _get(
            "me",
            "The token's account",
            _ok("Me", "Whose token this is."),
            errors=("304", "401", "429"),
            security=MEMBER,
            tag="member",
        ),
        "/me/leads": _get(
            "myLeads",
            "Leads for the member's organization, as its pages show them",
            _ok("LeadList", "A page of leads."),
            params=[
                _query(
                    "all",
                    'true: the weaker leads too, which the pages keep behind "show more".',
                    {"type": "string", "enum": ["true", "false"], "default": "false"},
                ),
                *paging,
            ],
            errors=member_errors,
            security=MEMBER,
            tag="member",
        ),
        "/me/introductions": _get(
            "myIntroductions",
            "The member's organization's introductions",
            _ok("IntroductionList", "A page of introductions."),
            params=paging,
            errors=member_errors,
            security=MEMBER,
            tag="member",
        ),
        "/me/agenda": _get(
            "myAgenda",
            "The member's organization's published meetings at every event",
            _ok("Agenda", "A page of meetings."),
            params=paging,
            errors=member_errors,
            security=MEMBER,
            tag="member",
        ),
    }


DESCRIPTION = """\
Read-only data of the smart-city matchmaking portal. Public endpoints need nothing and
answer what an anonymous visitor of the pages sees; no answer ever holds a contact's email
or phone. The `/me` endpoints need a personal token (account settings, "API tokens"):
`Authorization: Bearer smp_...`.

Lists answer `{"items": [...], "next": URL or null}`; follow `next` until it is null.
Every answer has an ETag; send it back in `If-None-Match` to get 304 when nothing changed.
Errors are `application/problem+json`. Requests are rate limited per token, or per address
without one (429 with Retry-After)."""


def document(server_url: str) -> Schema:
    """The whole document; ``server_url`` is this portal's ``/api/v1`` URL."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Smart-city matchmaking portal API",
            "version": VERSION,
            "description": DESCRIPTION,
        },
        "servers": [{"url": server_url}],
        "tags": [
            {"name": "public", "description": "For anyone."},
            {"name": "member", "description": "For a member with a personal token."},
        ],
        "paths": paths(),
        "components": {
            "schemas": schemas(),
            "parameters": parameters(),
            "responses": responses(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API token (smp_...), read-only.",
                }
            },
        },
    }
