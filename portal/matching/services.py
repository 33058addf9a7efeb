"""Leads in both directions: the vendors most likely to solve a need, and the open needs
a vendor could win, each with a score and reasons."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TypeVar

import numpy as np
from flask import g, has_request_context

from portal.matching.asks import asking_pieces
from portal.matching.calibration import calibration
from portal.matching.concepts import Thesaurus, thesaurus
from portal.matching.crosslingual import (
    MULTILINGUAL,
    MultilingualSpace,
    multilingual_space,
    need_pieces,
)
from portal.matching.live import LiveModel
from portal.matching.pieces import (
    CONSENSUS_LEADS,
    Consensus,
    best_answer,
    centred,
    unit_rows,
)
from portal.matching.profiles import (
    NeedProfile,
    VendorProfile,
    need_profiles,
    open_needs,
    vendor_profiles,
    verified_vendors,
)
from portal.matching.ranking import (
    COUNTRY_BITS,
    SECTOR_BITS,
    CandidateSet,
    Query,
    Scored,
    bits,
    score,
    top,
)
from portal.matching.reasons import MIN_CONCEPT_STRENGTH, Answer, lead_reasons
from portal.matching.store.snapshot import (
    Snapshot,
    attach_vectors,
    events_version,
    live_snapshot,
    need_candidates,
    process_cache,
    vendor_candidates,
)
from portal.matching.store.vectors import is_multilingual, stored_pieces, vectors_version
from portal.matching.text import terms

DEFAULT_LIMIT = 10
P = TypeVar("P", VendorProfile, NeedProfile)

# Given the candidates' ids (in row order) and their scores, return adjusted scores: how
# feedback (dismissed leads) reaches the ranking without the ranking knowing about it.
# Scores are values to the buyer (0 or more; -inf off the candidate pool).
ScoreAdjuster = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Lead:
    vendor: VendorProfile
    need: NeedProfile
    score: float  # the value to the buyer (calibration.expected_value), after feedback
    reasons: list[str]
    probability: float = 0.0  # that the vendor solves the need

    @property
    def strength(self) -> str:
        """ "strong", "possible" or "weak", in words a person reads on the page."""
        return calibration().strength(self.probability)

    @property
    def shown(self) -> bool:
        """Whether a page shows this lead by default (the rest are behind "show more")."""
        return calibration().shows(self.probability)

    def as_json(self, side: str) -> dict[str, object]:
        other = self.vendor.ref if side == "vendor" else self.need.ref
        return {
            side: other,
            "score": round(self.score, 4),
            "probability": round(self.probability, 4),
            "strength": self.strength,
            "shown": self.shown,
            "reasons": self.reasons,
        }


class LeadsModel:
    """Both sides, ready to rank: a query is a few sparse products over each side."""

    def __init__(
        self,
        vendors: CandidateSet,
        needs: CandidateSet,
        thes: Thesaurus,
        multilingual: Callable[[], MultilingualSpace | None] | None = None,
    ) -> None:
        self.vendors = vendors
        self.needs = needs
        self.thesaurus = thes
        # read on first use: only a need not in English needs the multilingual space
        self._multilingual = functools.cache(multilingual) if multilingual else None

    def multilingual(self) -> MultilingualSpace | None:
        """The multilingual space (``portal.matching.crosslingual``), when it is ready."""
        return self._multilingual() if self._multilingual is not None else None

    def word_weight(self, term: str) -> float:
        """A stemmed word's idf over the vendors (0 if no vendor uses it)."""
        bm25 = self.vendors.snapshot.bm25
        column = bm25.vocabulary.get(term)
        return float(bm25.idf[column]) if column is not None else 0.0

    @classmethod
    def from_profiles(
        cls, vendors: list[VendorProfile], needs: list[NeedProfile], thes: Thesaurus
    ) -> LeadsModel:
        """A model of exactly these profiles (tests and experiments)."""
        return cls(
            CandidateSet(vendor_candidates(vendors, thes)),
            CandidateSet(need_candidates(needs, thes)),
            thes,
        )

    @classmethod
    def from_live(cls, live: LiveModel, thes: Thesaurus) -> LeadsModel:
        """Both sides of a process's live matrices (``portal.matching.live``)."""
        return cls(live.vendors.candidate_set(), live.needs.candidate_set(), thes)

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot, thes: Thesaurus) -> LeadsModel:
        """The snapshot and every change since it, read afresh (tests and commands; pages
        go through ``current_model``, which follows the changes in place)."""
        return cls.from_live(LiveModel.read(snapshot, thes), thes)

    def _pieces(
        self,
        side: CandidateSet,
        own_side: CandidateSet,
        kind: str,
        profile: VendorProfile | NeedProfile,
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The query's piece vectors centred on its own side's mean, and their pooled
        vector, if both sides have vectors: the ones the model holds, else the ones stored
        for the record's current text (a record that is not a candidate, such as a
        draft). Never computed here: without them the query ranks on the lexical model,
        as it does while a changed record waits for the workers (its piece is neutral)."""
        if not side.has_pieces or not own_side.has_pieces:
            return None, None
        found = own_side.pieces_of(profile.id)
        if found is None:
            found = stored_pieces(kind, [profile]).get(profile.id)
        # waiting for its vectors (a neutral piece centres to nothing): nothing to compare
        return self._centred(found, own_side.mean) or (None, None)

    def _query(
        self,
        profile: NeedProfile | VendorProfile,
        market_bits: int,
        pieces: tuple[np.ndarray | None, np.ndarray | None],
        space: str = "english",
    ) -> Query:
        return Query(
            terms(profile.text),
            self.thesaurus.match_text(profile.text),
            bits(profile.sectors, SECTOR_BITS),
            market_bits,
            isinstance(profile, NeedProfile),
            *pieces,
            space,
        )

    @staticmethod
    def _centred(
        found: np.ndarray | None, mean: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """A record's pieces centred on its side's mean, and their pooled vector; None
        without pieces, or while they are the neutral mean."""
        if found is None:
            return None
        mine = centred(found, mean)
        return (mine, unit_rows(mine.sum(axis=0))) if mine.any() else None

    def query_for_need(self, need: NeedProfile) -> Query:
        """A need not in English is ranked by its e5 pieces mapped into the English space
        once they and the map are stored (and by its own calibrated model); until then
        (or without e5 installed) on its words, concepts and sector."""
        market = COUNTRY_BITS.get(need.country, 0)
        if is_multilingual(need) and self.vendors.has_pieces:
            space = self.multilingual()
            if space is not None:
                pieces = self._centred(space.pieces(need_pieces(need)), space.need_mean)
                if pieces is not None:
                    return self._query(need, market, pieces, MULTILINGUAL)
        return self._query(need, market, self._pieces(self.vendors, self.needs, "need", need))

    def query_for_vendor(self, vendor: VendorProfile) -> Query:
        pieces = self._pieces(self.needs, self.vendors, "vendor", vendor)
        return self._query(vendor, bits(vendor.markets, COUNTRY_BITS), pieces)

    def answer(
        self,
        need: np.ndarray | None,
        need_profile: NeedProfile,
        vendor_id: int,
        consensus: Consensus | None = None,
        asks: Sequence[bool] | None = None,
    ) -> Answer | None:
        """Which of the vendor's capabilities best answers which part of the need, by their
        centred piece vectors (``need``: the need's), when the model holds both; with
        ``consensus``, also by what the need's other best vendors offer. With ``asks``
        (which of the need's pieces state the city's ask: ``asking_pieces``, found once per
        need by the caller), the part is the ask unless another is clearly closer, as a
        reason quotes it; without, simply the closest (what each concept answers)."""
        vendors = self.vendors
        if need is None or not vendors.has_pieces:
            return None
        raw = vendors.pieces_of(vendor_id)
        if raw is None:
            return None
        others = consensus.without(vendor_id) if consensus is not None else None
        parts = need_profile.pieces
        piece, part, _ = best_answer(need, centred(raw, vendors.mean), consensus=others, asks=asks)
        if piece < 1:
            return None
        return Answer(piece - 1, parts[part] if part < len(parts) else need_profile.title)

    def consensus(self, ranked: list[tuple[int, float, float]]) -> Consensus | None:
        """What the most probable vendors of a need's ranking offer, for choosing which
        capability of each lead answers it (``best_answer``)."""
        vendors = self.vendors
        if not vendors.has_pieces:
            return None
        best = sorted(ranked, key=lambda row: -row[2])[: CONSENSUS_LEADS + 1]
        vectors: dict[int, tuple[np.ndarray, float]] = {}
        for record_id, _, probability in best:
            raw = vendors.pieces_of(record_id)
            if raw is not None and probability > 0:
                pooled_vector = unit_rows(centred(raw, vendors.mean).sum(axis=0))
                vectors[record_id] = (pooled_vector, probability)
        return Consensus(vectors) if vectors else None

    def _need_scored(self, need: NeedProfile) -> tuple[Query, Scored | None]:
        """A need's query and its vendors' scores, kept for the rest of the request.

        A need page ranks the need's leads and, for a need not in English, reads the need
        through them (``understood.read_need``): without this it would map the need into
        the multilingual space and score every vendor twice. Only the last need is kept,
        and only within a request, so nothing outlives the model or grows with a loop."""
        key = (need.id, need.text, need.language, need.country, tuple(need.sectors))
        kept = g.get("need_scored") if has_request_context() else None
        # the model itself is kept, not its id: a newer model may not reuse it
        if kept is not None and kept[0] is self and kept[1] == key:
            return kept[2], kept[3]  # type: ignore[no-any-return]
        query = self.query_for_need(need)
        scored = score(self.vendors, query, self.thesaurus) if len(self.vendors.ids) else None
        if has_request_context():
            g.need_scored = (self, key, query, scored)
        return query, scored

    def _rank(
        self,
        side: CandidateSet,
        query: Query,
        limit: int,
        exclude: set[int] | frozenset[int],
        adjust: ScoreAdjuster | None,
        only: np.ndarray | None = None,
        scored: Scored | None = None,
    ) -> list[tuple[int, float, float]]:
        """(record id, value, probability) of the best candidates, best first (with
        ``only``, among those ids alone; ``scored``: the query's scores, if known)."""
        ids = side.ids
        if not len(ids):
            return []
        if scored is None:
            scored = score(side, query, self.thesaurus)
        values = scored.value
        if adjust is not None:
            values = adjust(ids, values)
        allowed = side.active & scored.pool
        if exclude:
            allowed &= ~np.isin(ids, np.fromiter(exclude, dtype=np.int64))
        if only is not None:
            allowed &= np.isin(ids, only)
        # A few more than asked, in case a record changed since the model was made.
        rows = top(values, limit + 5, allowed)
        return [(int(ids[row]), float(values[row]), float(scored.probability[row])) for row in rows]

    def _leads(
        self,
        ranked: list[tuple[int, float, float]],
        limit: int,
        load: Callable[[list[int]], dict[int, P]],
        make: Callable[[P, float, float], Lead],
    ) -> list[Lead]:
        """Read the ranked records' profiles (skipping any that stopped being candidates
        since the model was made) and turn the best ``limit`` into leads."""
        profiles = load([record_id for record_id, _, _ in ranked])
        leads: list[Lead] = []
        for record_id, value, probability in ranked:
            profile = profiles.get(record_id)
            if profile is not None and len(leads) < limit:
                leads.append(make(profile, value, probability))
        return leads

    def _lead(
        self,
        need: NeedProfile,
        vendor: VendorProfile,
        value: float,
        probability: float,
        answer: Answer | None,
    ) -> Lead:
        """A lead of either direction with its reasons: a lead a page folds away (under the
        shown threshold) is worded as relating to the need, not answering it."""
        weak = not calibration().shows(probability)
        reasons = lead_reasons(need, vendor, self.thesaurus, self.word_weight, answer, weak)
        return Lead(vendor, need, value, reasons, probability)

    def vendors_for(
        self,
        need: NeedProfile,
        limit: int = DEFAULT_LIMIT,
        exclude: set[int] | frozenset[int] = frozenset(),
        adjust: ScoreAdjuster | None = None,
    ) -> list[Lead]:
        """The best vendors for ``need``, skipping the vendor ids in ``exclude``."""
        query, scored = self._need_scored(need)
        ranked = self._rank(self.vendors, query, limit, exclude, adjust, scored=scored)
        consensus = self.consensus(ranked) if query.pieces is not None else None
        asks = asking_pieces(need.pieces, need.language)

        def make(vendor: VendorProfile, value: float, probability: float) -> Lead:
            answer = self.answer(query.pieces, need, vendor.id, consensus, asks)
            return self._lead(need, vendor, value, probability, answer)

        return self._leads(ranked, limit, vendor_profiles, make)

    def concepts_answered(
        self, need: NeedProfile, leads: int = 3, min_probability: float | None = None
    ) -> list[tuple[int, str]]:
        """The thesaurus concepts through which the need's confident leads answer it: for
        each of its best ``leads`` shown by default (or of ``min_probability`` or more),
        the concept the capability that answers it names most strongly, if it names it
        clearly (as a reason would), with the part of the need it answers (in the need's
        own words). How a need in a language the reader does not know can be read in
        concepts: the vendors' side is English, where the thesaurus's phrases hold."""
        query, scored = self._need_scored(need)
        if query.pieces is None:
            return []
        floor = calibration().shown if min_probability is None else min_probability
        ranked = self._rank(self.vendors, query, leads, frozenset(), None, scored=scored)
        ranked = [r for r in ranked if r[2] >= floor][:leads]
        consensus = self.consensus(ranked)
        vendors = vendor_profiles([record_id for record_id, _, _ in ranked])
        found: dict[int, str] = {}
        for record_id, _, _ in ranked:
            vendor = vendors.get(record_id)
            # the part each concept answers, not the ask every lead's reason quotes
            answer = self.answer(query.pieces, need, record_id, consensus) if vendor else None
            if vendor is None or answer is None:
                continue
            capability = vendor.capabilities[answer.capability]
            named = self.thesaurus.match_text(f"{capability.title}. {capability.description}")
            if not named.strengths:
                continue
            concept, strength = min(named.strengths.items(), key=lambda item: (-item[1], item[0]))
            if strength >= MIN_CONCEPT_STRENGTH:
                found.setdefault(concept, answer.need_part)
        return list(found.items())

    def needs_for(
        self,
        vendor: VendorProfile,
        limit: int = DEFAULT_LIMIT,
        exclude: set[int] | frozenset[int] = frozenset(),
        adjust: ScoreAdjuster | None = None,
    ) -> list[Lead]:
        """The open needs ``vendor`` could win, skipping the need ids in ``exclude``. Needs
        written in another language are scored by their e5 pieces mapped into the English
        space and by their own calibrated model, the others by the English one, and the
        two lists merged by value to the buyer."""
        query = self.query_for_vendor(vendor)
        space = self.multilingual() if query.pieces is not None else None
        elsewhere = space.need_ids if space is not None else np.zeros(0, dtype=np.int64)
        spaced = replace(query, space=MULTILINGUAL)

        def make(need: NeedProfile, value: float, probability: float) -> Lead:
            asks = asking_pieces(need.pieces, need.language)  # each lead its own need
            if space is not None and need.id in here:
                found = space.pieces(need_pieces(need))
                pieces = centred(found, space.need_mean) if found is not None else None
                answer = self.answer(pieces, need, vendor.id, asks=asks)
            else:
                english, _ = self._pieces(self.vendors, self.needs, "need", need)
                answer = self.answer(english, need, vendor.id, asks=asks)
            return self._lead(need, vendor, value, probability, answer)

        # A vendor's needs are chosen without a consensus: it would take ranking every
        # need's vendors, and one vendor's capabilities against one need is what is asked.
        here = set(elsewhere.tolist())
        ranked = self._rank(self.needs, query, limit, exclude | here, adjust)
        if space is not None and space.need_side is not None and len(elsewhere):
            ranked += self._rank(space.need_side, spaced, limit, exclude, adjust, only=elsewhere)
            ranked.sort(key=lambda row: -row[1])
        return self._leads(ranked, limit, need_profiles, make)


def current_model() -> LeadsModel:
    """The live snapshot plus whatever changed since it, kept up to date in place: a new
    event costs the records it names, stored vectors are read when they arrive, and while
    nothing changed a request pays two indexed ``max()`` queries."""
    generation, snapshot = live_snapshot()
    attached = attach_vectors(generation, snapshot)
    key = (events_version(), vectors_version(), attached)
    cached = process_cache.models.get(generation)
    if cached is not None and cached[0] == key:
        return cached[1]  # type: ignore[no-any-return]
    thes = thesaurus()
    if cached is None:
        live = LiveModel.read(snapshot, thes)
    else:
        live = cached[2]
        followed = live.follow(thes)
        if cached[0][2] != attached:
            live.vectors_attached()
        elif followed or cached[0][1] != key[1]:
            live.read_vectors()
    model = LeadsModel(
        live.vendors.candidate_set(),
        live.needs.candidate_set(),
        thes,
        functools.partial(multilingual_space, generation, live),
    )
    process_cache.models[generation] = (key, model, live)
    return model


def export_leads(
    direction: str,
    out: IO[str],
    limit: int = DEFAULT_LIMIT,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write one JSON line per open need (or verified vendor) with its leads, best first."""
    model = current_model()
    if direction == "needs":
        records: Iterable[NeedProfile | VendorProfile] = open_needs()
        key, other = "need", "vendor"
    else:
        records = verified_vendors()
        key, other = "vendor", "need"
    count = 0
    for record in records:
        if isinstance(record, NeedProfile):
            leads = model.vendors_for(record, limit)
        else:
            leads = model.needs_for(record, limit)
        row = {key: record.ref, "leads": [lead.as_json(other) for lead in leads]}
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
        if progress:
            progress(1)
    return count


def export_to_file(direction: str, path: Path, limit: int = DEFAULT_LIMIT) -> int:
    with path.open("w", encoding="utf-8") as handle:
        return export_leads(direction, handle, limit)
