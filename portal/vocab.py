"""The shared vocabulary of the exchange format: sector codes and ASEAN countries."""

from __future__ import annotations

from typing import NamedTuple

from flask_babel import gettext

from portal.i18n.lazy import LazyText, lazy_gettext

# The labels here are English, as the search index and the exchange format hold them; they
# are marked for the catalog with N_ and shown in the reader's language through the
# helpers and the lazy ``*_LABELS`` views below (read in each request's or mail's language).
# Code compares and stores the codes (the keys), never a label.


def N_(message: str) -> str:
    """Marks a message for the catalog; translated where it is shown."""
    return message


class Sector(NamedTuple):
    label: str  # English, as marked; shown translated by sector_short_label
    focal_area: str


SECTORS: dict[str, Sector] = {
    "mobility": Sector(
        N_("Mobility: transport, traffic, parking, transit"), "built infrastructure"
    ),
    "energy": Sector(N_("Energy: grids, renewables, efficiency, lighting"), "built infrastructure"),
    "buildings": Sector(N_("Buildings: green buildings, construction"), "built infrastructure"),
    "urban-planning": Sector(
        N_("Urban planning: GIS, digital twins, land use"), "built infrastructure"
    ),
    "water": Sector(N_("Water: supply, wastewater, drainage"), "quality environment"),
    "waste": Sector(N_("Waste: solid waste, recycling, circular economy"), "quality environment"),
    "environment": Sector(
        N_("Environment: air quality, climate, green space"), "quality environment"
    ),
    "public-safety": Sector(N_("Public safety: CCTV, emergency response"), "safety and security"),
    "disaster-resilience": Sector(
        N_("Disaster resilience: early warning, floods"), "safety and security"
    ),
    "cybersecurity": Sector(N_("Cybersecurity of city systems and data"), "safety and security"),
    "digital-government": Sector(
        N_("Digital government: e-services, open data, ID"), "civic and social"
    ),
    "education": Sector(N_("Education: schools, skills, training"), "civic and social"),
    "health": Sector(N_("Health: telemedicine, hospitals, public health"), "health and well-being"),
    "connectivity": Sector(
        N_("Connectivity: broadband, 5G, IoT, data centres"), "industry and innovation"
    ),
    "finance": Sector(N_("Finance: project finance, PPP, fintech"), "industry and innovation"),
    "tourism": Sector(N_("Tourism, culture and heritage"), "industry and innovation"),
}

ASEAN_COUNTRIES: dict[str, str] = {
    "BN": N_("Brunei Darussalam"),
    "KH": N_("Cambodia"),
    "ID": N_("Indonesia"),
    "LA": N_("Lao PDR"),
    "MY": N_("Malaysia"),
    "MM": N_("Myanmar"),
    "PH": N_("Philippines"),
    "SG": N_("Singapore"),
    "TH": N_("Thailand"),
    "VN": N_("Viet Nam"),
}

COUNTRY_NAMES: dict[str, str] = {"US": N_("United States"), **ASEAN_COUNTRIES}


def sector_short_label(code: str) -> str:
    """The sector's name without its examples, for badges and filters."""
    sector = SECTORS.get(code)
    return gettext(sector.label).split(":")[0] if sector else code


# The short names as choices show them, read in each request's language.
SECTOR_LABELS: dict[str, LazyText] = {code: LazyText(sector_short_label, code) for code in SECTORS}


def country_name(code: str) -> str:
    """The country's name in the current language (the code when it is not one of ours)."""
    name = COUNTRY_NAMES.get(code)
    return gettext(name) if name is not None else code


# What kind of procurement notice a need is (exchange format: `notice`), in the order a
# notice usually goes through: shaped, sounded, asked about, tendered.
NOTICE_TYPES: dict[str, str] = {
    "concept": N_("Concept (problem being shaped)"),
    "sources-sought": N_("Sources sought (market sounding)"),
    "rfi": N_("Request for information"),
    "rfp": N_("Request for proposals (tender)"),
}
DEFAULT_NOTICE = "concept"

# Where the money behind a need comes from, and how far it has got (exchange format:
# `funding.source` and `funding.stage`).
FUNDING_SOURCES: dict[str, str] = {
    "own-budget": N_("City or agency budget"),
    "adb": N_("Asian Development Bank"),
    "world-bank": N_("World Bank"),
    "aiib": N_("Asian Infrastructure Investment Bank"),
    "ustda": N_("USTDA grant"),
    "jica": N_("JICA"),
    "ppp": N_("Public-private partnership"),
    "grant": N_("Grant"),
    "other": N_("Other"),
}
FUNDING_STAGES: dict[str, str] = {
    "idea": N_("Idea"),
    "feasibility": N_("Feasibility study"),
    "funded": N_("Funded"),
    "procurement": N_("In procurement"),
    "awarded": N_("Awarded"),
}


# The status words a badge or a sentence shows (needs, organizations, their reviews,
# meeting requests at events, webhook deliveries), where a sentence says "it is %(status)s".
STATUS_LABELS: dict[str, LazyText] = {
    "open": lazy_gettext("open"),
    "closed": lazy_gettext("closed"),
    "awarded": lazy_gettext("awarded"),
    "expired": lazy_gettext("expired"),
    "pending": lazy_gettext("pending"),
    "verified": lazy_gettext("verified"),
    "rejected": lazy_gettext("rejected"),
    "accepted": lazy_gettext("accepted"),
    "declined": lazy_gettext("declined"),
    "withdrawn": lazy_gettext("withdrawn"),
    "delivered": lazy_gettext("delivered"),
    "failed": lazy_gettext("failed"),
}


def _translated(labels: dict[str, str]) -> dict[str, LazyText]:
    """The same labels, each read in the current language when shown."""
    return {code: LazyText(gettext, label) for code, label in labels.items()}


# What pages and forms show (the templates' NOTICE_TYPES, FUNDING_SOURCES... are these).
COUNTRY_LABELS = _translated(COUNTRY_NAMES)
ASEAN_COUNTRY_LABELS = _translated(ASEAN_COUNTRIES)
NOTICE_LABELS = _translated(NOTICE_TYPES)
FUNDING_SOURCE_LABELS = _translated(FUNDING_SOURCES)
FUNDING_STAGE_LABELS = _translated(FUNDING_STAGES)


def status_label(code: str) -> str:
    """A status code in words of the current language (the code when it is not known)."""
    label = STATUS_LABELS.get(code)
    return str(label) if label is not None else code
