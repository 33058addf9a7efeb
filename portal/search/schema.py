"""The Whoosh schema and the documents built from database rows.

Contacts are never indexed. Vendors, buyers and needs share one index, told apart by
``kind``; one extra document (``doc_id`` "__state__") records the last event applied.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from whoosh import fields
from whoosh.analysis import Filter, LowercaseFilter, StopFilter

from portal.extensions import db
from portal.languages.segment import (
    MALAY_HINT,
    FoldFilter,
    ScriptStemFilter,
    ScriptTokenizer,
    reads_as_malay,
)
from portal.needs.models import Need
from portal.organizations.models import Organization, VerificationStatus
from portal.places import PLACE_VARIANTS, fold_places
from portal.vocab import COUNTRY_NAMES

STATE_DOC_ID = "__state__"

# The version of what ``make_schema`` and the documents hold. Raise it whenever a field
# is added, removed or analysed differently: an index written under another version is
# not written to or searched (its documents lack fields, and Whoosh refuses a document
# with a field its schema does not know), but rebuilt by ``portal index rebuild`` or the
# worker. Versions: 1, the first; 2, the notice type and funding of needs; 3, words
# segmented in Thai, Lao, Khmer and Burmese, Latin folded, Indonesian/Malay stemmed; 4, fields
# only read back from a hit (ref, record id, status, fingerprint...) stored, not indexed.
SCHEMA_VERSION = 4


class PlaceFilter(Filter):
    """Map spellings of ASEAN places to one token (after lowercasing)."""

    def __call__(self, tokens: Iterator[Any]) -> Iterator[Any]:
        for token in tokens:
            token.text = PLACE_VARIANTS.get(token.text, token.text)
            yield token


def make_analyzer() -> Any:
    """Words in every script (portal.languages.segment); English analysed as before.

    The query side (portal.search.queries) runs each typed word through this same
    analyser, so a query and the text it should find always reduce to the same terms.
    """
    return (
        ScriptTokenizer()
        | LowercaseFilter()
        | FoldFilter()
        | PlaceFilter()
        | StopFilter()
        | ScriptStemFilter()
    )


ANALYZER = make_analyzer()


def make_schema() -> fields.Schema:
    # One unstored full-text field: each extra field costs a posting per term, and stored
    # text doubles the index; snippets are cut from the database's text instead.
    return fields.Schema(
        doc_id=fields.ID(unique=True, stored=True),
        kind=fields.ID(stored=True),
        # read back from a hit, never searched: stored only (an indexed field costs a term
        # per document, and these are unique per document: 15 % of a rebuild's time)
        record_id=fields.STORED(),
        ref=fields.STORED(),
        title=fields.TEXT(analyzer=ANALYZER, stored=True, field_boost=3.0, phrase=False),
        text=fields.TEXT(analyzer=ANALYZER, phrase=False),
        sectors=fields.KEYWORD(commas=True, stored=True, scorable=False),
        country=fields.ID(stored=True),
        markets=fields.KEYWORD(commas=True, stored=True),
        status=fields.STORED(),
        closes_on=fields.STORED(),
        # needs' notice type and funding (portal.vocab), facets and filters; empty for
        # organizations and for needs whose funding is not stated
        notice=fields.ID(stored=True),
        funding_source=fields.ID(stored=True),
        funding_stage=fields.ID(stored=True),
        fingerprint=fields.STORED(),
        last_event=fields.STORED(),
        horizon=fields.STORED(),
        seen=fields.STORED(),  # the state's PostgreSQL snapshot (``Position.seen``)
    )


def organization_text(org: Organization) -> str:
    """An organization's searchable text, which search snippets are cut from."""
    capabilities = "\n".join(
        f"{c.title}. {c.description}" for c in org.capabilities if c.title or c.description
    )
    return "\n".join(p for p in (org.summary or "", capabilities) if p)


def _with_fingerprint(document: dict[str, Any]) -> dict[str, Any]:
    """Add a hash of the document, so that ``portal index check`` can spot stale ones.

    A record whose text reads as Indonesian or Malay has its title and text marked so,
    for the analyser to stem both as such (a title alone is too short to tell); the
    title is stored unmarked.
    """
    if reads_as_malay(f"{document['title']}\n{document['text']}"):
        document["_stored_title"] = document["title"]
        document["title"] = MALAY_HINT + document["title"]
        document["text"] = MALAY_HINT + document["text"]
    digest = hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode())
    document["fingerprint"] = digest.hexdigest()[:32]
    return document


def organization_document(org: Organization) -> dict[str, Any]:
    places = " ".join(p for p in (org.city, COUNTRY_NAMES.get(org.country, org.country)) if p)
    return _with_fingerprint(
        {
            "doc_id": f"{org.kind}:{org.id}",
            "kind": org.kind,
            "record_id": org.id,
            "ref": org.ref,
            "title": org.name,
            "text": fold_places(f"{organization_text(org)}\n{places}"),
            "sectors": ",".join(org.sectors or []),
            "country": org.country,
            "markets": ",".join(org.markets or []),
            "status": org.status,
            "closes_on": "",
            "notice": "",
            "funding_source": "",
            "funding_stage": "",
        }
    )


def need_document(need: Need) -> dict[str, Any]:
    buyer = need.buyer
    places = " ".join(
        p for p in (buyer.name, buyer.city, COUNTRY_NAMES.get(buyer.country, "")) if p
    )
    return _with_fingerprint(
        {
            "doc_id": f"need:{need.id}",
            "kind": "need",
            "record_id": need.id,
            "ref": need.ref,
            "title": need.title,
            "text": fold_places(f"{need.description or ''}\n{places}"),
            "sectors": ",".join(need.sectors or []),
            "country": buyer.country,
            "markets": "",
            "status": need.display_status,
            "closes_on": need.closes_on.isoformat() if need.closes_on else "",
            "notice": need.notice,
            "funding_source": need.funding_source or "",
            "funding_stage": need.funding_stage or "",
        }
    )


def is_searchable_organization(org: Organization | None) -> bool:
    return org is not None and org.status == VerificationStatus.VERIFIED


def is_searchable_need(need: Need | None) -> bool:
    """Only open needs of verified buyers are searchable; the rest leave the index."""
    return need is not None and bool(need.is_public)


def load_organizations(ids: list[int]) -> dict[int, Organization]:
    rows = db.session.scalars(
        sa.select(Organization)
        .where(Organization.id.in_(ids))
        .options(selectinload(Organization.capabilities))
    )
    return {org.id: org for org in rows}


def load_needs(ids: list[int]) -> dict[int, Need]:
    rows = db.session.scalars(
        sa.select(Need).where(Need.id.in_(ids)).options(selectinload(Need.buyer))
    )
    return {need.id: need for need in rows}


def all_documents(batch_size: int = 1000) -> Iterator[dict[str, Any]]:
    """Every searchable document, streamed from the database in batches."""
    org_query = (
        sa.select(Organization)
        .where(Organization.status == VerificationStatus.VERIFIED)
        .order_by(Organization.id)
        .options(selectinload(Organization.capabilities))
        .execution_options(yield_per=batch_size)
    )
    for org in db.session.scalars(org_query):
        yield organization_document(org)
    need_query = (
        sa.select(Need)
        .where(Need.is_public)
        .order_by(Need.id)
        .options(selectinload(Need.buyer))
        .execution_options(yield_per=batch_size)
    )
    for need in db.session.scalars(need_query):
        yield need_document(need)


def count_searchable() -> int:
    orgs = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Organization)
        .where(Organization.status == VerificationStatus.VERIFIED)
    )
    needs = db.session.scalar(sa.select(sa.func.count()).select_from(Need).where(Need.is_public))
    return (orgs or 0) + (needs or 0)
