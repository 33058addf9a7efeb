"""Small builders of exchange-format records and files for the exchange tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HEADER = {"type": "header", "format": "smartcity-matchmaking/1"}


def vendor(ref: str = "acme", **fields: Any) -> dict[str, Any]:
    record = {
        "type": "organization",
        "ref": ref,
        "kind": "vendor",
        "name": f"Vendor {ref}",
        "country": "US",
        "sectors": ["mobility"],
        "markets": ["VN"],
        "capabilities": [{"title": "Signals", "description": "Adaptive", "sectors": ["mobility"]}],
        "contacts": [{"name": "Jane Roe", "email": "jane@acme.example.com"}],
    }
    record.update(fields)
    return record


def buyer(ref: str = "city", **fields: Any) -> dict[str, Any]:
    record = {
        "type": "organization",
        "ref": ref,
        "kind": "buyer",
        "name": f"Buyer {ref}",
        "country": "VN",
        "city": "Da Nang",
    }
    record.update(fields)
    return record


def need(ref: str = "need-1", buyer: str = "city", **fields: Any) -> dict[str, Any]:
    record = {
        "type": "need",
        "ref": ref,
        "buyer": buyer,
        "title": f"Problem {ref}",
        "description": "Queues at the bridge.",
        "sectors": ["mobility"],
        "budget_usd": {"min": 1000, "max": 5000},
        "closes_on": "2030-06-30",
        "status": "open",
    }
    record.update(fields)
    return record


def write_file(path: Path, *lines: dict[str, Any] | str, header: bool = True) -> Path:
    """Write records (dicts as JSON, strings verbatim) one a line, after the header."""
    items = [HEADER, *lines] if header else list(lines)
    text = "".join(
        (item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)) + "\n"
        for item in items
    )
    path.write_text(text, encoding="utf-8")
    return path


def records_by_ref(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The records of an exchange file keyed by (type, ref), the header left out."""
    records = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            if record["type"] != "header":
                records[(record["type"], record["ref"])] = record
    return records


OPTIONAL_DEFAULTS: dict[str, Any] = {
    "city": "",
    "website": "",
    "summary": "",
    "sectors": [],
    "markets": [],
    "capabilities": [],
    "contacts": [],
    "budget_usd": None,
    "closes_on": None,
    "funding": None,
}


def canonical(record: dict[str, Any]) -> dict[str, Any]:
    """A record with absent optional fields and their empty values made the same."""
    result = {key: value for key, value in record.items() if value != OPTIONAL_DEFAULTS.get(key, 0)}
    if record["type"] == "need":
        result.setdefault("status", "open")
        result.setdefault("notice", "concept")
    if "contacts" in result:
        result["contacts"] = [
            {key: value for key, value in contact.items() if value != ""}
            for contact in result["contacts"]
        ]
    if "capabilities" in result:
        result["capabilities"] = [
            {"description": "", "sectors": [], **capability}
            for capability in result["capabilities"]
        ]
    return result
