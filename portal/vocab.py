"""The shared vocabulary of the exchange format: sector codes and ASEAN countries."""

from __future__ import annotations

from typing import NamedTuple


class Sector(NamedTuple):
    label: str
    focal_area: str


SECTORS: dict[str, Sector] = {
    "mobility": Sector("Mobility: transport, traffic, parking, transit", "built infrastructure"),
    "energy": Sector("Energy: grids, renewables, efficiency, lighting", "built infrastructure"),
    "buildings": Sector("Buildings: green buildings, construction", "built infrastructure"),
    "urban-planning": Sector(
        "Urban planning: GIS, digital twins, land use", "built infrastructure"
    ),
    "water": Sector("Water: supply, wastewater, drainage", "quality environment"),
    "waste": Sector("Waste: solid waste, recycling, circular economy", "quality environment"),
    "environment": Sector("Environment: air quality, climate, green space", "quality environment"),
    "public-safety": Sector("Public safety: CCTV, emergency response", "safety and security"),
    "disaster-resilience": Sector(
        "Disaster resilience: early warning, floods", "safety and security"
    ),
    "cybersecurity": Sector("Cybersecurity of city systems and data", "safety and security"),
    "digital-government": Sector(
        "Digital government: e-services, open data, ID", "civic and social"
    ),
    "education": Sector("Education: schools, skills, training", "civic and social"),
    "health": Sector("Health: telemedicine, hospitals, public health", "health and well-being"),
    "connectivity": Sector(
        "Connectivity: broadband, 5G, IoT, data centres", "industry and innovation"
    ),
    "finance": Sector("Finance: project finance, PPP, fintech", "industry and innovation"),
    "tourism": Sector("Tourism, culture and heritage", "industry and innovation"),
}

ASEAN_COUNTRIES: dict[str, str] = {
    "BN": "Brunei Darussalam",
    "KH": "Cambodia",
    "ID": "Indonesia",
    "LA": "Lao PDR",
    "MY": "Malaysia",
    "MM": "Myanmar",
    "PH": "Philippines",
    "SG": "Singapore",
    "TH": "Thailand",
    "VN": "Viet Nam",
}

COUNTRY_NAMES: dict[str, str] = {"US": "United States", **ASEAN_COUNTRIES}


def sector_short_label(code: str) -> str:
    """The sector's name without its examples, for badges and filters."""
    sector = SECTORS.get(code)
    return sector.label.split(":")[0] if sector else code


def country_name(code: str) -> str:
    return COUNTRY_NAMES.get(code, code)


# What kind of procurement notice a need is (exchange format: `notice`), in the order a
# notice usually goes through: shaped, sounded, asked about, tendered.
NOTICE_TYPES: dict[str, str] = {
    "concept": "Concept (problem being shaped)",
    "sources-sought": "Sources sought (market sounding)",
    "rfi": "Request for information",
    "rfp": "Request for proposals (tender)",
}
DEFAULT_NOTICE = "concept"

# Where the money behind a need comes from, and how far it has got (exchange format:
# `funding.source` and `funding.stage`).
FUNDING_SOURCES: dict[str, str] = {
    "own-budget": "City or agency budget",
    "adb": "Asian Development Bank",
    "world-bank": "World Bank",
    "aiib": "Asian Infrastructure Investment Bank",
    "ustda": "USTDA grant",
    "jica": "JICA",
    "ppp": "Public-private partnership",
    "grant": "Grant",
    "other": "Other",
}
FUNDING_STAGES: dict[str, str] = {
    "idea": "Idea",
    "feasibility": "Feasibility study",
    "funded": "Funded",
    "procurement": "In procurement",
    "awarded": "Awarded",
}
