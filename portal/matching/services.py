"""Leads in both directions: the vendors most likely to solve a need, and the open needs
a vendor could win, each with a score and reasons."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import sqlalchemy as sa

from portal.extensions import db
from portal.matching.concepts import Thesaurus, thesaurus
from portal.matching.profiles import NeedProfile, VendorProfile, open_needs, verified_vendors
from portal.matching.ranking import (
    COUNTRY_BITS,
    DEFAULT_WEIGHTS,
    SECTOR_BITS,
    Candidates,
    Query,
    Weights,
    bits,
    combine,
    signals,
    top,
)
from portal.matching.reasons import lead_reasons
from portal.matching.text import phrase_terms, terms
from portal.search.models import IndexEvent

DEFAULT_LIMIT = 10

# Given the candidates' ids (in row order) and their scores, return adjusted scores: how
# feedback (dismissed leads) reaches the ranking without the ranking knowing about it.
ScoreAdjuster = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Lead:
    vendor: VendorProfile
    need: NeedProfile
    score: float
    reasons: list[str]

    def as_json(self, side: str) -> dict[str, object]:
        other = self.vendor.ref if side == "vendor" else self.need.ref
        return {side: other, "score": round(self.score, 4), "reasons": self.reasons}


class LeadsModel:
    """Both sides, analysed once; ranking a query is then a few sparse products."""

    def __init__(
        self, vendors: list[VendorProfile], needs: list[NeedProfile], thes: Thesaurus
    ) -> None:
        self.thesaurus = thes
        self.vendor_profiles = vendors
        self.need_profiles = needs
        self.vendor_rows = {v.id: i for i, v in enumerate(vendors)}
        self.need_rows = {n.id: i for i, n in enumerate(needs)}
        self.vendors = Candidates.build(
            [v.id for v in vendors],
            [v.text for v in vendors],
            [v.sectors for v in vendors],
            [v.markets for v in vendors],
            thes,
        )
        self.needs = Candidates.build(
            [n.id for n in needs],
            [n.text for n in needs],
            [n.sectors for n in needs],
            [[n.country] for n in needs],
            thes,
        )

    @classmethod
    def from_database(cls) -> LeadsModel:
        return cls(list(verified_vendors()), list(open_needs()), thesaurus())

    def query_for_need(self, need: NeedProfile) -> Query:
        return Query(
            terms(need.text),
            self.thesaurus.match(phrase_terms(need.text)),
            bits(need.sectors, SECTOR_BITS),
            COUNTRY_BITS.get(need.country, 0),
        )

    def query_for_vendor(self, vendor: VendorProfile) -> Query:
        return Query(
            terms(vendor.text),
            self.thesaurus.match(phrase_terms(vendor.text)),
            bits(vendor.sectors, SECTOR_BITS),
            bits(vendor.markets, COUNTRY_BITS),
        )

    def vendors_for(
        self,
        need: NeedProfile,
        limit: int = DEFAULT_LIMIT,
        exclude: set[int] | frozenset[int] = frozenset(),
        weights: Weights = DEFAULT_WEIGHTS,
        adjust: ScoreAdjuster | None = None,
    ) -> list[Lead]:
        """The best vendors for ``need``, skipping the ids in ``exclude``."""
        if not len(self.vendors):
            return []
        scores = combine(signals(self.vendors, self.query_for_need(need), self.thesaurus), weights)
        if adjust is not None:
            scores = adjust(self.vendors.ids, scores)
        allowed = ~np.isin(self.vendors.ids, list(exclude)) if exclude else None
        leads = []
        for row in top(scores, limit, allowed):
            vendor = self.vendor_profiles[row]
            reasons = lead_reasons(need, vendor, self.thesaurus)
            leads.append(Lead(vendor, need, float(scores[row]), reasons))
        return leads

    def needs_for(
        self,
        vendor: VendorProfile,
        limit: int = DEFAULT_LIMIT,
        exclude: set[int] | frozenset[int] = frozenset(),
        weights: Weights = DEFAULT_WEIGHTS,
    ) -> list[Lead]:
        if not len(self.needs):
            return []
        scores = combine(
            signals(self.needs, self.query_for_vendor(vendor), self.thesaurus), weights
        )
        allowed = ~np.isin(self.needs.ids, list(exclude)) if exclude else None
        leads = []
        for row in top(scores, limit, allowed):
            need = self.need_profiles[row]
            reasons = lead_reasons(need, vendor, self.thesaurus)
            leads.append(Lead(vendor, need, float(scores[row]), reasons))
        return leads


_cache: dict[str, tuple[tuple[int, int], LeadsModel]] = {}


def _database_version() -> tuple[int, int]:
    """Changes whenever something searchable changes (every such change writes an event)."""
    last, count = db.session.execute(
        sa.select(sa.func.max(IndexEvent.id), sa.func.count(IndexEvent.id))
    ).one()
    return (last or 0, count or 0)


def current_model() -> LeadsModel:
    """The model of the database as it is now, rebuilt only when something changed."""
    key = str(db.engine.url)
    version = _database_version()
    cached = _cache.get(key)
    if cached is None or cached[0] != version:
        cached = (version, LeadsModel.from_database())
        _cache[key] = cached
    return cached[1]


def export_leads(
    direction: str,
    out: IO[str],
    limit: int = DEFAULT_LIMIT,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write one JSON line per open need (or verified vendor) with its leads, best first."""
    model = current_model()
    count = 0
    if direction == "needs":
        for need in model.need_profiles:
            leads = model.vendors_for(need, limit)
            row = {"need": need.ref, "leads": [lead.as_json("vendor") for lead in leads]}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
            if progress:
                progress(1)
    else:
        for vendor in model.vendor_profiles:
            leads = model.needs_for(vendor, limit)
            row = {"vendor": vendor.ref, "leads": [lead.as_json("need") for lead in leads]}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
            if progress:
                progress(1)
    return count


def export_to_file(direction: str, path: Path, limit: int = DEFAULT_LIMIT) -> int:
    with path.open("w", encoding="utf-8") as handle:
        return export_leads(direction, handle, limit)
