"""The staff pipeline dashboard: introductions counted, funnelled and timed, and a CSV export.

Everything is computed from the introductions and their audit trail with plain queries
and Python; charts are drawn here as inline SVG (no script, no style attribute, so they
pass the strict CSP), each with a title, a description and a table beside it.
"""

from __future__ import annotations

import csv
import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

import sqlalchemy as sa
from markupsafe import Markup, escape
from sqlalchemy.orm import selectinload

from portal.cleaning import spreadsheet_safe
from portal.extensions import db
from portal.introductions.models import (
    OPEN_STATES,
    EventKind,
    Introduction,
    IntroductionEvent,
    IntroState,
)
from portal.organizations.models import Organization, VerificationStatus
from portal.vocab import country_name, sector_short_label

OLDEST_LIMIT = 10


@dataclass(frozen=True)
class Filters:
    date_from: dt.date | None = None  # on the day the introduction was requested
    date_to: dt.date | None = None
    sector: str = ""
    country: str = ""  # the buyer's country
    state: str = ""


def sectors_of(introduction: Introduction) -> list[str]:
    """An introduction's sectors: its need's, or else the vendor's."""
    if introduction.need is not None and introduction.need.sectors:
        return list(introduction.need.sectors)
    return list(introduction.vendor.sectors or [])


def introductions(filters: Filters) -> list[Introduction]:
    query = (
        sa.select(Introduction)
        .join(Organization, Organization.id == Introduction.buyer_id)
        .options(
            selectinload(Introduction.vendor),
            selectinload(Introduction.buyer),
            selectinload(Introduction.need),
        )
        .order_by(Introduction.id)
    )
    if filters.date_from:
        start = dt.datetime.combine(filters.date_from, dt.time(), tzinfo=dt.UTC)
        query = query.where(Introduction.created_at >= start)
    if filters.date_to:
        end = dt.datetime.combine(filters.date_to + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        query = query.where(Introduction.created_at < end)
    if filters.country:
        query = query.where(Organization.country == filters.country)
    if filters.state:
        query = query.where(Introduction.state == filters.state)
    rows = list(db.session.scalars(query))
    if filters.sector:
        rows = [row for row in rows if filters.sector in sectors_of(row)]
    return rows


@dataclass
class FunnelMonth:
    month: str
    requested: int = 0
    approved: int = 0
    introduced: int = 0
    won: int = 0


@dataclass
class Pipeline:
    total: int
    by_state: list[tuple[IntroState, int]]
    funnel: list[FunnelMonth]
    by_sector: list[tuple[str, int]]
    by_country: list[tuple[str, int]]
    median_days: list[tuple[IntroState, float, int]]  # state, median days, how many stays
    oldest_waiting: list[Introduction]
    pending_organizations: int
    funnel_totals: list[tuple[str, int]] = field(default_factory=list)


def _funnel(rows: list[Introduction]) -> list[FunnelMonth]:
    months: dict[str, FunnelMonth] = {}
    for row in rows:
        key = f"{row.created_at:%Y-%m}"
        month = months.setdefault(key, FunnelMonth(key))
        month.requested += 1
        month.approved += row.approved_at is not None
        month.introduced += row.introduced_at is not None
        month.won += row.state == IntroState.WON
    return [months[key] for key in sorted(months)]


def median_days_in_state(ids: Iterable[int]) -> list[tuple[IntroState, float, int]]:
    """How long introductions stayed in each state, from the audit trail: a stay starts
    at the transition into a state and ends at the transition out of it."""
    wanted = set(ids)
    if not wanted:
        return []
    events = db.session.execute(
        sa.select(
            IntroductionEvent.introduction_id,
            IntroductionEvent.to_state,
            IntroductionEvent.created_at,
        )
        .where(IntroductionEvent.kind == EventKind.TRANSITION)
        .order_by(IntroductionEvent.introduction_id, IntroductionEvent.id)
    ).all()
    stays: dict[str, list[float]] = defaultdict(list)
    entered: dict[int, tuple[str, dt.datetime]] = {}
    for introduction_id, to_state, created_at in events:
        if introduction_id not in wanted:
            continue
        previous = entered.get(introduction_id)
        if previous is not None:
            state, since = previous
            stays[state].append((created_at - since).total_seconds() / 86400)
        entered[introduction_id] = (to_state, created_at)
    return [
        (state, round(statistics.median(stays[state]), 1), len(stays[state]))
        for state in IntroState
        if stays.get(state)
    ]


def pipeline(filters: Filters) -> Pipeline:
    rows = introductions(filters)
    states = Counter(row.state for row in rows)
    sectors: Counter[str] = Counter()
    for row in rows:
        sectors.update(set(sectors_of(row)))
    countries = Counter(row.buyer.country for row in rows)
    waiting = sorted(
        (row for row in rows if row.state in OPEN_STATES), key=lambda row: row.state_changed_at
    )[:OLDEST_LIMIT]
    pending = (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Organization)
            .where(Organization.status == VerificationStatus.PENDING)
        )
        or 0
    )
    funnel = _funnel(rows)
    return Pipeline(
        total=len(rows),
        by_state=[(state, states[state]) for state in IntroState if states.get(state)],
        funnel=funnel,
        by_sector=[(sector_short_label(code), n) for code, n in sectors.most_common()],
        by_country=[(country_name(code), n) for code, n in countries.most_common()],
        median_days=median_days_in_state(row.id for row in rows),
        oldest_waiting=waiting,
        pending_organizations=pending,
        funnel_totals=[
            ("Requested", sum(m.requested for m in funnel)),
            ("Approved", sum(m.approved for m in funnel)),
            ("Introduced", sum(m.introduced for m in funnel)),
            ("Won", sum(m.won for m in funnel)),
        ],
    )


# --- charts ----------------------------------------------------------------------------------

# The chart is drawn at its natural size in CSS pixels (its width attribute) and only
# shrinks when its column is narrower, so its text stays at the 14px of portal.css
# (.chart-label) instead of being scaled down with a wide drawing into a narrow column.
BAR_HEIGHT = 26
BAR_AREA = 170
VALUE_WIDTH = 44
CHAR_WIDTH = 8  # a generous average width of one character of the 14px label
LONGEST_LABEL = 26  # characters; longer labels are cut with "…" (the table has them whole)


def _label(text: str) -> str:
    return text if len(text) <= LONGEST_LABEL else text[: LONGEST_LABEL - 1].rstrip() + "…"


def bar_chart(chart_id: str, title: str, desc: str, items: list[tuple[str, float]]) -> Markup:
    """A horizontal bar chart as inline SVG: presentation attributes and CSS classes only."""
    labels = [_label(label) for label, _ in items]
    label_width = max((len(label) for label in labels), default=4) * CHAR_WIDTH + 10
    height = max(len(items), 1) * BAR_HEIGHT + 8
    width = label_width + BAR_AREA + VALUE_WIDTH
    top = max((value for _, value in items), default=0) or 1
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    for i, ((full, value), label) in enumerate(zip(items, labels, strict=True)):
        y = 4 + i * BAR_HEIGHT
        bar = round(BAR_AREA * value / top, 1)
        parts.append(
            f'<text class="chart-label" x="{label_width - 8}" y="{y + 18}" '
            f'text-anchor="end">{escape(label)}<title>{escape(full)}</title></text>'
            f'<rect class="chart-bar" x="{label_width}" y="{y + 4}" width="{bar}" '
            f'height="{BAR_HEIGHT - 8}"></rect>'
            f'<text class="chart-value" x="{label_width + bar + 5}" y="{y + 18}">'
            f"{escape(_number(value))}</text>"
        )
    parts.append("</svg>")
    # Every piece of text above was escaped as it was added (ruff S704, bandit B704).
    return Markup("".join(parts))  # noqa: S704 # nosec B704


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


# --- CSV export ------------------------------------------------------------------------------

CSV_COLUMNS = (
    "id",
    "requested_at",
    "state",
    "outcome",
    "vendor",
    "buyer",
    "buyer_country",
    "need",
    "sectors",
    "approved_at",
    "introduced_at",
    "state_changed_at",
)
OUTCOME_STATES = frozenset(
    {
        IntroState.MEETING_HELD,
        IntroState.PROPOSAL_SUBMITTED,
        IntroState.WON,
        IntroState.LOST,
        IntroState.STALLED,
    }
)


def _when(value: dt.datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def csv_rows(rows: Iterable[Introduction]) -> Iterator[dict[str, str]]:
    for row in rows:
        yield {
            "id": str(row.id),
            "requested_at": _when(row.created_at),
            "state": row.state,
            "outcome": row.state if row.state in OUTCOME_STATES else "",
            "vendor": row.vendor.name,
            "buyer": row.buyer.name,
            "buyer_country": row.buyer.country,
            "need": row.need.title if row.need is not None else "",
            "sectors": " ".join(sectors_of(row)),
            "approved_at": _when(row.approved_at),
            "introduced_at": _when(row.introduced_at),
            "state_changed_at": _when(row.state_changed_at),
        }


def write_csv(out: IO[str], filters: Filters) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    count = 0
    for record in csv_rows(introductions(filters)):
        writer.writerow({key: spreadsheet_safe(value) for key, value in record.items()})
        count += 1
    return count
