"""What the lead ranking knows of a vendor or a need, read from the database."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.languages.segment import has_unspaced_script, split_sentences, words
from portal.needs.models import Need
from portal.organizations.models import Organization, OrganizationKind, VerificationStatus

# Where one sentence ends and the next begins (after . ! or ?).
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
# A need's sentence this short ("Budget approved.") says little on its own.
_MIN_SENTENCE_WORDS = 4


# Thai and Lao mark clauses, not only sentences, with a space, so their text splits into
# fragments of a few words that say little alone (a Thai need came out as 14 pieces where
# its English twin has 5). Fragments are joined until a piece is about as long as an
# English need's sentence (median 135 characters) or ends with a full stop.
_UNSPACED_PIECE_CHARS = 140
_FULL_STOP = re.compile(r"[.!?\u17d4\u17d5\u104b][\"'\u201d\u2019)\]]*$")


def _joined(fragments: list[str]) -> list[str]:
    """Consecutive fragments joined into sentence-sized pieces; a short rest joins the
    piece before it."""
    pieces: list[str] = []
    current: list[str] = []
    length = 0
    for fragment in fragments:
        current.append(fragment)
        length += len(fragment)
        if length >= _UNSPACED_PIECE_CHARS or _FULL_STOP.search(fragment):
            pieces.append(" ".join(current))
            current, length = [], 0
    if current:
        if pieces and length < _UNSPACED_PIECE_CHARS // 2:
            pieces[-1] = f"{pieces[-1]} {' '.join(current)}"
        else:
            pieces.append(" ".join(current))
    return pieces


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` that say something on their own. Thai, Lao, Khmer and
    Burmese write words without spaces and end sentences without a full stop, so there
    the script's own boundaries and segmented words count (``portal.languages.segment``);
    other text is split as it always was, so English pieces keep their fingerprints."""
    if has_unspaced_script(text or ""):
        pieces = _joined(split_sentences(text))
        return [s for s in pieces if len(words(s)) >= _MIN_SENTENCE_WORDS]
    found = [s.strip() for s in _SENTENCE_BREAK.split(text or "")]
    return [s for s in found if len(s.split()) >= _MIN_SENTENCE_WORDS]


@dataclass
class CapabilityText:
    title: str
    description: str
    sectors: list[str] = field(default_factory=list)


@dataclass
class VendorProfile:
    id: int
    ref: str
    name: str
    summary: str
    sectors: list[str]
    markets: list[str]
    capabilities: list[CapabilityText]

    @property
    def text(self) -> str:
        parts = [self.name, self.summary]
        parts += [f"{c.title}. {c.description}" for c in self.capabilities]
        return "\n".join(p for p in parts if p)

    @property
    def pieces(self) -> list[str]:
        """What the sentence embedding reads, one text per thing the vendor offers: the
        company in a line, then each capability. Embedding the whole profile at once cut
        it at 128 word pieces, so long profiles lost their later capabilities."""
        pieces = [f"{self.name}. {self.summary}" if self.summary else self.name]
        pieces += [f"{c.title}. {c.description}" for c in self.capabilities]
        return pieces

    @classmethod
    def of(cls, org: Organization) -> VendorProfile:
        return cls(
            id=org.id,
            ref=org.ref,
            name=org.name,
            summary=org.summary or "",
            sectors=list(org.sectors or []),
            markets=list(org.markets or []),
            capabilities=[
                CapabilityText(c.title, c.description or "", list(c.sectors or []))
                for c in org.capabilities
            ],
        )


@dataclass
class NeedProfile:
    id: int
    ref: str
    title: str
    description: str
    sectors: list[str]
    country: str
    buyer_id: int
    buyer_name: str
    budget_min: int | None = None
    budget_max: int | None = None
    closes_on: dt.date | None = None
    # the money behind the need (portal.vocab): read only for the "funded" reason, never
    # for ranking, so it is not part of the text, the pieces or their fingerprints
    funding_source: str | None = None
    funding_stage: str | None = None
    # what it is written in (portal.languages.detect; None: undecided): a need not in
    # English is ranked in the multilingual space (portal.matching.crosslingual)
    language: str | None = None

    @property
    def text(self) -> str:
        return f"{self.title}.\n{self.description}"

    @property
    def pieces(self) -> list[str]:
        """What the sentence embedding reads: the title, then each sentence of the
        description. A city often lists several problems in one need; a sentence each keeps
        every problem in the need's vector instead of the first 128 word pieces."""
        return [self.title, *(sentences(self.description) or [self.description])]

    @classmethod
    def of(cls, need: Need) -> NeedProfile:
        return cls(
            id=need.id,
            ref=need.ref,
            title=need.title,
            description=need.description or "",
            sectors=list(need.sectors or []),
            country=need.buyer.country,
            buyer_id=need.buyer_id,
            buyer_name=need.buyer.name,
            budget_min=need.budget_min,
            budget_max=need.budget_max,
            closes_on=need.closes_on,
            funding_source=need.funding_source,
            funding_stage=need.funding_stage,
            language=need.language,
        )


def _verified_vendor() -> sa.ColumnElement[bool]:
    return sa.and_(
        Organization.kind == OrganizationKind.VENDOR,
        Organization.status == VerificationStatus.VERIFIED,
    )


def count_vendors() -> int:
    return (
        db.session.scalar(sa.select(sa.func.count(Organization.id)).where(_verified_vendor())) or 0
    )


def count_needs() -> int:
    query = sa.select(sa.func.count(Need.id)).where(Need.is_public)
    return db.session.scalar(query) or 0


def verified_vendors(batch_size: int = 2000) -> Iterator[VendorProfile]:
    query = (
        sa.select(Organization)
        .where(_verified_vendor())
        .order_by(Organization.id)
        .options(selectinload(Organization.capabilities))
        .execution_options(yield_per=batch_size)
    )
    for org in db.session.scalars(query):
        yield VendorProfile.of(org)


def open_needs(batch_size: int = 2000) -> Iterator[NeedProfile]:
    query = (
        sa.select(Need)
        .where(Need.is_public)
        .order_by(Need.id)
        .options(selectinload(Need.buyer))
        .execution_options(yield_per=batch_size)
    )
    for need in db.session.scalars(query):
        yield NeedProfile.of(need)


def vendor_profiles(ids: list[int]) -> dict[int, VendorProfile]:
    """Profiles of the verified vendors among ``ids``."""
    if not ids:
        return {}
    query = (
        sa.select(Organization)
        .where(Organization.id.in_(ids), _verified_vendor())
        .options(selectinload(Organization.capabilities))
    )
    return {org.id: VendorProfile.of(org) for org in db.session.scalars(query)}


def need_profiles(ids: list[int]) -> dict[int, NeedProfile]:
    """Profiles of the open needs of verified buyers among ``ids``."""
    if not ids:
        return {}
    query = (
        sa.select(Need).where(Need.id.in_(ids), Need.is_public).options(selectinload(Need.buyer))
    )
    return {need.id: NeedProfile.of(need) for need in db.session.scalars(query)}
