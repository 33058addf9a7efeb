"""Builders of exchange files holding an event, its participants and their requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HEADER = {"type": "header", "format": "smartcity-matchmaking/1"}
SESSIONS = [
    {"start": "2027-03-09T09:00", "end": "2027-03-09T10:00"},
    {"start": "2027-03-09T14:00", "end": "2027-03-09T15:00"},
]


def organization(ref: str, kind: str = "vendor") -> dict[str, Any]:
    country = "US" if kind == "vendor" else "TH"
    return {
        "type": "organization",
        "ref": ref,
        "kind": kind,
        "name": f"Org {ref}",
        "country": country,
    }


def event(ref: str = "ev-1", **fields: Any) -> dict[str, Any]:
    record = {
        "type": "event",
        "ref": ref,
        "name": f"Matchmaking {ref}",
        "city": "Bangkok",
        "country": "TH",
        "time_zone": "Asia/Bangkok",
        "sessions": SESSIONS,
        "meeting_minutes": 20,
        "tables": 2,
        "online": True,
        "registration_closes": "2027-03-02",
    }
    record.update(fields)
    return record


def participant(organization: str, event: str = "ev-1", **fields: Any) -> dict[str, Any]:
    return {"type": "participant", "event": event, "organization": organization, **fields}


def request(frm: str, to: str, event: str = "ev-1", **fields: Any) -> dict[str, Any]:
    record = {"type": "meeting_request", "event": event, "from": frm, "to": to}
    record.setdefault("status", "accepted")
    record.update(fields)
    return record


def write_file(path: Path, *lines: dict[str, Any] | str) -> Path:
    text = "".join(
        (item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)) + "\n"
        for item in [HEADER, *lines]
    )
    path.write_text(text, encoding="utf-8")
    return path


def small_event(path: Path) -> Path:
    """Three vendors, two buyers, an event; acme online; four accepted requests, one must."""
    return write_file(
        path,
        organization("acme"),
        organization("bolt"),
        organization("cog"),
        organization("city", "buyer"),
        organization("port", "buyer"),
        event(),
        participant("acme", mode="online", max_meetings=3),
        participant("bolt"),
        participant("cog", attends=[1]),
        participant("city"),
        participant("port", attends=[0]),
        request("acme", "city", priority="must", message="Signals for the bridge"),
        request("bolt", "city"),
        request("cog", "city"),
        request("bolt", "port"),
        request("cog", "port"),  # no session in common
        request("acme", "port", status="declined"),
        request("port", "city", status="requested"),
    )
