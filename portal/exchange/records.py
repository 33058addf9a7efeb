"""Reading and checking the records of the ``smartcity-matchmaking/1`` exchange format.

Everything here is pure: no database. A line is parsed and checked on its own and turned
into a plain record ready to be written; what needs the whole file or the database (are
refs unique, is a need's buyer a buyer) is the importer's job.

Unknown fields are errors, not warnings: a typo such as ``"sumary"`` would otherwise
drop data silently, and the import is all or nothing, so the user fixes it once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from portal.cleaning import one_line
from portal.vocab import (
    ASEAN_COUNTRIES,
    DEFAULT_NOTICE,
    FUNDING_SOURCES,
    FUNDING_STAGES,
    NOTICE_TYPES,
    SECTORS,
)

FORMAT = "smartcity-matchmaking/1"
HEADER: dict[str, str] = {"type": "header", "format": FORMAT}

REF_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Syntax only: a local part, an @, and a domain with a dot; deliverability is not our call.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
MAX_BIGINT = 2**63 - 1

ORGANIZATION_FIELDS = frozenset(
    {
        "type",
        "ref",
        "kind",
        "name",
        "country",
        "city",
        "website",
        "summary",
        "sectors",
        "markets",
        "capabilities",
        "contacts",
    }
)
NEED_FIELDS = frozenset(
    {
        "type",
        "ref",
        "buyer",
        "title",
        "description",
        "sectors",
        "budget_usd",
        "closes_on",
        "status",
        "notice",
        "funding",
    }
)
FUNDING_FIELDS = frozenset({"source", "stage"})
CAPABILITY_FIELDS = frozenset({"title", "description", "sectors"})
CONTACT_FIELDS = frozenset({"name", "email", "phone", "title"})
KINDS = ("vendor", "buyer")
NEED_STATUSES = ("open", "closed", "awarded")
EVENT_FIELDS = frozenset(
    {
        "type",
        "ref",
        "name",
        "city",
        "country",
        "time_zone",
        "sessions",
        "meeting_minutes",
        "tables",
        "online",
        "registration_closes",
    }
)
PARTICIPANT_FIELDS = frozenset({"type", "event", "organization", "attends", "mode", "max_meetings"})
MEETING_REQUEST_FIELDS = frozenset({"type", "event", "from", "to", "status", "priority", "message"})
MODES = ("on-site", "online")
REQUEST_STATUSES = ("requested", "accepted", "declined")
PRIORITIES = ("must", "normal")
LOCAL_TIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")
RECORD_TYPES = ("organization", "need", "event", "participant", "meeting_request")


class ExchangeError(ValueError):
    """A file that cannot be imported as a whole; the message says why."""


@dataclass(frozen=True, slots=True)
class RecordError:
    """One problem with one line, printed as ``line N: <type> "<ref>": <field> ...``."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(slots=True)
class OrganizationRecord:
    ref: str
    kind: str
    name: str
    country: str
    city: str = ""
    website: str = ""
    summary: str = ""
    sectors: list[str] = field(default_factory=list)
    markets: list[str] = field(default_factory=list)
    capabilities: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class NeedRecord:
    ref: str
    buyer: str
    title: str
    description: str
    sectors: list[str] = field(default_factory=list)
    budget_min: int | None = None
    budget_max: int | None = None
    closes_on: dt.date | None = None
    status: str = "open"
    notice: str = DEFAULT_NOTICE
    funding_source: str | None = None  # both set or both None
    funding_stage: str | None = None


@dataclass(slots=True)
class EventRecord:
    ref: str
    name: str
    time_zone: str
    sessions: list[tuple[dt.datetime, dt.datetime]]  # naive local times
    meeting_minutes: int
    city: str = ""
    country: str = ""
    tables: int = 0
    online: bool = False
    registration_closes: dt.date | None = None


@dataclass(slots=True)
class ParticipantRecord:
    event: str
    organization: str
    attends: list[int] | None = None  # None: every session
    mode: str = "on-site"
    max_meetings: int | None = None


@dataclass(slots=True)
class MeetingRequestRecord:
    event: str
    requester: str  # "from"
    requested: str  # "to"
    status: str = "requested"
    priority: str = "normal"
    message: str = ""


MissionRecord = EventRecord | ParticipantRecord | MeetingRequestRecord


@dataclass(slots=True)
class ParsedLine:
    """A non-blank line: its JSON value (or None) and the syntax error, if any."""

    number: int
    value: Any
    error: str | None = None


def read_lines(path: str | Path) -> Iterator[ParsedLine]:
    """Yield every non-blank line of ``path`` parsed as JSON, one at a time.

    The file is read in binary so that a byte that is not UTF-8 is reported with its
    line number instead of stopping the whole read.
    """
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield ParsedLine(number, None, f"not valid UTF-8 (byte {exc.start + 1})")
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield ParsedLine(number, None, f"invalid JSON: {exc.msg} (column {exc.colno})")
                continue
            except RecursionError:
                yield ParsedLine(number, None, "invalid JSON: nested too deeply")
                continue
            yield ParsedLine(number, value)


def is_header(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "header"


def check_header(value: Any) -> str | None:
    """Why ``value`` is not the header this importer reads, or None when it is."""
    expected = json.dumps(HEADER)
    if not is_header(value):
        return f"the first line must be the header {expected}"
    if value.get("format") != FORMAT:
        return f"format {_show(value.get('format'))} is not supported; expected {FORMAT!r}"
    unknown = sorted(set(value) - {"type", "format"})
    if unknown:
        return f"header: unknown field {_show(unknown[0])}"
    return None


def _show(value: Any) -> str:
    """A value as it would appear in the file, shortened for an error message."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Checker:
    """Collects the messages about one record, each prefixed with what the record is."""

    def __init__(self, record_type: str, value: dict[str, Any]) -> None:
        ref = value.get("ref")
        shown_ref = f' "{ref}"' if isinstance(ref, str) and REF_PATTERN.match(ref) else ""
        self.prefix = f"{record_type}{shown_ref}: "
        self.value = value
        self.messages: list[str] = []

    def error(self, message: str) -> None:
        self.messages.append(self.prefix + message)

    def unknown_fields(self, allowed: frozenset[str], where: str = "") -> None:
        for name in sorted(set(self.value) - allowed):
            self.error(f"{where}unknown field {_show(name)}")

    def string(
        self,
        data: dict[str, Any],
        name: str,
        *,
        required: bool = False,
        max_length: int | None = None,
        label: str | None = None,
        line: bool = False,
    ) -> str:
        """The string field ``name`` of ``data`` ("" when absent), or "" after an error.

        ``line``: a one-line value (a name, a title, a city), whose line breaks and tabs
        are folded into spaces as a web form's text box does, so that it can go into a
        mail subject or a CSV cell as it is.
        """
        label = label or name
        value = data.get(name)
        if value is None:
            if required:
                self.error(f"{label} is required")
            return ""
        if not isinstance(value, str):
            self.error(f"{label} must be a string, not {_show(value)}")
            return ""
        if required and not value.strip():
            self.error(f"{label} must not be empty")
            return ""
        if max_length is not None and len(value) > max_length:
            self.error(f"{label} is {len(value)} characters long; at most {max_length} allowed")
            return ""
        if not _storable(value):
            self.error(f"{label} contains a NUL character or an unpaired surrogate")
            return ""
        if line:
            value = one_line(value)
            if required and not value:  # only control characters
                self.error(f"{label} must not be empty")
        return value

    def codes(
        self, data: dict[str, Any], name: str, allowed: dict[str, Any], what: str, label: str
    ) -> list[str]:
        value = data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(f"{label} must be a list of {what}, not {_show(value)}")
            return []
        unknown = [code for code in value if not isinstance(code, str) or code not in allowed]
        if unknown:
            self.error(f"{label}: {_show(unknown[0])} is not one of the {what}")
            return []
        return list(value)

    def sectors(self, data: dict[str, Any], label: str = "sectors") -> list[str]:
        return self.codes(data, "sectors", SECTORS, "sector codes", label)

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str:
        value = self.value.get(name, default)
        if value is None:
            self.error(f"{name} is required")
            return ""
        if value not in choices:
            self.error(f"{name} {_show(value)} is not one of {', '.join(choices)}")
            return ""
        return value

    def ref(self, name: str = "ref") -> str:
        value = self.value.get(name)
        if value is None:
            self.error(f"{name} is required")
            return ""
        if not isinstance(value, str) or not REF_PATTERN.match(value):
            self.error(f"{name} {_show(value)} must be 1-64 characters of A-Z a-z 0-9 . _ -")
            return ""
        return value


def _storable(text: str) -> bool:
    """PostgreSQL refuses NUL characters, and an unpaired surrogate is not UTF-8."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _website(checker: _Checker) -> str:
    url = checker.string(checker.value, "website", max_length=500)
    if not url:
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        checker.error(f"website {_show(url)} is not an http(s) URL")
        return ""
    return url


def _objects(checker: _Checker, name: str) -> list[dict[str, Any]]:
    value = checker.value.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        checker.error(f"{name} must be a list of objects")
        return []
    return value


def check_organization(value: dict[str, Any]) -> tuple[OrganizationRecord | None, list[str]]:
    """The record ready to be written, or None and every message about it."""
    checker = _Checker("organization", value)
    checker.unknown_fields(ORGANIZATION_FIELDS)
    ref = checker.ref()
    kind = checker.choice("kind", KINDS)
    name = checker.string(value, "name", required=True, max_length=200, line=True)
    country = value.get("country")
    if country is None:
        checker.error("country is required")
    elif kind == "vendor" and country != "US":
        checker.error(f"country {_show(country)}: vendors must be in the United States (US)")
    elif kind == "buyer" and (not isinstance(country, str) or country not in ASEAN_COUNTRIES):
        codes = " ".join(ASEAN_COUNTRIES)
        checker.error(f"country {_show(country)}: buyers must be in an ASEAN country ({codes})")
    city = checker.string(value, "city", max_length=120, line=True)
    website = _website(checker)
    summary = checker.string(value, "summary", max_length=5000)
    sectors = checker.sectors(value)
    markets = checker.codes(value, "markets", ASEAN_COUNTRIES, "ASEAN country codes", "markets")

    capabilities = []
    for index, item in enumerate(_objects(checker, "capabilities"), start=1):
        where = f"capabilities[{index}]"
        for unknown in sorted(set(item) - CAPABILITY_FIELDS):
            checker.error(f"{where}: unknown field {_show(unknown)}")
        capabilities.append(
            {
                "title": checker.string(
                    item, "title", required=True, max_length=200, label=f"{where}.title", line=True
                ),
                "description": checker.string(
                    item, "description", max_length=10000, label=f"{where}.description"
                ),
                "sectors": checker.sectors(item, label=f"{where}.sectors"),
            }
        )

    contacts = []
    for index, item in enumerate(_objects(checker, "contacts"), start=1):
        where = f"contacts[{index}]"
        for unknown in sorted(set(item) - CONTACT_FIELDS):
            checker.error(f"{where}: unknown field {_show(unknown)}")
        email = checker.string(item, "email", max_length=254, label=f"{where}.email")
        if email and not EMAIL_PATTERN.match(email):
            checker.error(f"{where}.email {_show(email)} is not an email address")
        contacts.append(
            {
                "name": checker.string(
                    item, "name", required=True, max_length=200, label=f"{where}.name", line=True
                ),
                "email": email,
                "phone": checker.string(
                    item, "phone", max_length=64, label=f"{where}.phone", line=True
                ),
                "title": checker.string(
                    item, "title", max_length=200, label=f"{where}.title", line=True
                ),
            }
        )

    if checker.messages:
        return None, checker.messages
    record = OrganizationRecord(
        ref=ref,
        kind=kind,
        name=name,
        country=country,  # type: ignore[arg-type]  # checked above
        city=city,
        website=website,
        summary=summary,
        sectors=sectors,
        markets=markets,
        capabilities=capabilities,
        contacts=contacts,
    )
    return record, []


def _budget(checker: _Checker) -> tuple[int | None, int | None]:
    value = checker.value.get("budget_usd")
    if value is None:
        return None, None
    if not isinstance(value, dict) or set(value) != {"min", "max"}:
        checker.error(f'budget_usd must be null or {{"min": int, "max": int}}, not {_show(value)}')
        return None, None
    low, high = value["min"], value["max"]
    for name, amount in (("min", low), ("max", high)):
        if not isinstance(amount, int) or isinstance(amount, bool):
            checker.error(f"budget_usd.{name} must be a whole number, not {_show(amount)}")
            return None, None
        if not 0 <= amount <= MAX_BIGINT:
            checker.error(f"budget_usd.{name} {amount} is out of range")
            return None, None
    if low > high:
        checker.error(f"budget_usd: min {low} is greater than max {high}")
        return None, None
    return low, high


def _closes_on(checker: _Checker) -> dt.date | None:
    value = checker.value.get("closes_on")
    if value is None:
        return None
    if isinstance(value, str) and DATE_PATTERN.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    checker.error(f"closes_on {_show(value)} is not a date YYYY-MM-DD")
    return None


def _funding(checker: _Checker) -> tuple[str | None, str | None]:
    """``funding``: null, or a source and a stage from the format's lists, both given."""
    value = checker.value.get("funding")
    if value is None:
        return None, None
    if not isinstance(value, dict) or set(value) != FUNDING_FIELDS:
        shape = '{"source": str, "stage": str}'
        checker.error(f"funding must be null or {shape}, not {_show(value)}")
        return None, None
    found = []
    for name, allowed in (("source", FUNDING_SOURCES), ("stage", FUNDING_STAGES)):
        code = value[name]
        if not isinstance(code, str) or code not in allowed:
            checker.error(f"funding.{name} {_show(code)} is not one of {', '.join(allowed)}")
            return None, None
        found.append(code)
    return found[0], found[1]


def check_need(value: dict[str, Any]) -> tuple[NeedRecord | None, list[str]]:
    """The record ready to be written (its buyer not yet resolved), or the messages."""
    checker = _Checker("need", value)
    checker.unknown_fields(NEED_FIELDS)
    ref = checker.ref()
    buyer = checker.ref("buyer")
    title = checker.string(value, "title", required=True, max_length=200, line=True)
    description = checker.string(value, "description", required=True, max_length=10000)
    sectors = checker.sectors(value)
    low, high = _budget(checker)
    closes_on = _closes_on(checker)
    status = checker.choice("status", NEED_STATUSES, default="open")
    notice = checker.choice("notice", tuple(NOTICE_TYPES), default=DEFAULT_NOTICE)
    funding_source, funding_stage = _funding(checker)
    if checker.messages:
        return None, checker.messages
    record = NeedRecord(
        ref=ref,
        buyer=buyer,
        title=title,
        description=description,
        sectors=sectors,
        budget_min=low,
        budget_max=high,
        closes_on=closes_on,
        status=status,
        notice=notice,
        funding_source=funding_source,
        funding_stage=funding_stage,
    )
    return record, []


def _local_time(checker: _Checker, value: Any, label: str) -> dt.datetime | None:
    if isinstance(value, str) and LOCAL_TIME_PATTERN.match(value):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    checker.error(f"{label} {_show(value)} is not a local time YYYY-MM-DDTHH:MM")
    return None


def _whole_number(
    checker: _Checker, name: str, low: int, high: int, *, default: int | None = None
) -> int | None:
    value = checker.value.get(name)
    if value is None:
        if default is None:
            checker.error(f"{name} is required")
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        checker.error(f"{name} {_show(value)} must be a whole number from {low} to {high}")
        return None
    return value


def _sessions(checker: _Checker) -> list[tuple[dt.datetime, dt.datetime]]:
    """The sessions as naive local (start, end) pairs; sessions are named by their index
    from 0, as participants' ``attends`` name them."""
    value = checker.value.get("sessions")
    if value is None:
        checker.error("sessions is required")
        return []
    if not isinstance(value, list) or not value or not all(isinstance(s, dict) for s in value):
        checker.error('sessions must be a list of at least one {"start": ..., "end": ...}')
        return []
    sessions = []
    for index, item in enumerate(value):
        where = f"sessions[{index}]"
        unknown = sorted(set(item) - {"start", "end"})
        if unknown:
            checker.error(f"{where}: unknown field {_show(unknown[0])}")
            continue
        start = _local_time(checker, item.get("start"), f"{where}.start")
        end = _local_time(checker, item.get("end"), f"{where}.end")
        if start is None or end is None:
            continue
        if end <= start:
            checker.error(f"{where} ends at {item['end']}, not after its start {item['start']}")
            continue
        sessions.append((index, start, end))
    for (i, start, end), (j, other_start, other_end) in _overlaps(sessions):
        checker.error(
            f"sessions[{j}] ({other_start:%Y-%m-%dT%H:%M}-{other_end:%H:%M}) overlaps "
            f"sessions[{i}] ({start:%Y-%m-%dT%H:%M}-{end:%H:%M})"
        )
    return [(start, end) for _, start, end in sessions]


def _overlaps(sessions: list[tuple[int, dt.datetime, dt.datetime]]) -> Iterator[tuple[Any, Any]]:
    ordered = sorted(sessions, key=lambda s: (s[1], s[0]))
    for earlier, later in itertools.pairwise(ordered):
        if later[1] < earlier[2]:
            first, second = sorted((earlier, later))
            yield first, second


def _time_zone(checker: _Checker) -> str:
    value = checker.value.get("time_zone")
    if value is None:
        checker.error("time_zone is required")
        return ""
    if not isinstance(value, str) or value not in _zones():
        checker.error(f"time_zone {_show(value)} is not an IANA time zone such as Asia/Bangkok")
        return ""
    return value


def _zones() -> set[str]:
    import zoneinfo

    global _ZONES
    if _ZONES is None:
        _ZONES = zoneinfo.available_timezones()
    return _ZONES


_ZONES: set[str] | None = None


def check_event(value: dict[str, Any]) -> tuple[EventRecord | None, list[str]]:
    checker = _Checker("event", value)
    checker.unknown_fields(EVENT_FIELDS)
    ref = checker.ref()
    name = checker.string(value, "name", required=True, max_length=200, line=True)
    city = checker.string(value, "city", max_length=120, line=True)
    country = value.get("country")
    if country is not None and (not isinstance(country, str) or not COUNTRY_PATTERN.match(country)):
        checker.error(f"country {_show(country)} is not an ISO 3166-1 alpha-2 code")
    time_zone = _time_zone(checker)
    sessions = _sessions(checker)
    minutes = _whole_number(checker, "meeting_minutes", 10, 120)
    tables = _whole_number(checker, "tables", 0, 1000, default=0)
    online = value.get("online", False)
    if not isinstance(online, bool):
        checker.error(f"online {_show(online)} must be true or false")
    closes = value.get("registration_closes")
    closes_on = None
    if closes is not None:
        if isinstance(closes, str) and DATE_PATTERN.match(closes):
            with contextlib.suppress(ValueError):
                closes_on = dt.date.fromisoformat(closes)
        if closes_on is None:
            checker.error(f"registration_closes {_show(closes)} is not a date YYYY-MM-DD")
    if checker.messages:
        return None, checker.messages
    record = EventRecord(
        ref=ref,
        name=name,
        time_zone=time_zone,
        sessions=sessions,
        meeting_minutes=minutes or 0,
        city=city,
        country=country or "",
        tables=tables or 0,
        online=online,
        registration_closes=closes_on,
    )
    return record, []


def _mission_prefix(checker: _Checker, text: str) -> None:
    checker.prefix = f"{text}: "


def check_participant(value: dict[str, Any]) -> tuple[ParticipantRecord | None, list[str]]:
    checker = _Checker("participant", value)
    event, organization = value.get("event"), value.get("organization")
    if isinstance(event, str) and isinstance(organization, str):
        _mission_prefix(checker, f'participant "{organization}" of event "{event}"')
    checker.unknown_fields(PARTICIPANT_FIELDS)
    event = checker.ref("event")
    organization = checker.ref("organization")
    attends = value.get("attends")
    if attends is not None and (
        not isinstance(attends, list)
        or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in attends)
        or len(set(attends)) != len(attends)
    ):
        checker.error(f"attends {_show(attends)} must be a list of distinct session indexes")
        attends = None
    mode = checker.choice("mode", MODES, default="on-site")
    cap = value.get("max_meetings")
    if cap is not None:
        cap = _whole_number(checker, "max_meetings", 1, 100)
    if checker.messages:
        return None, checker.messages
    return ParticipantRecord(event, organization, attends, mode, cap), []


def check_meeting_request(value: dict[str, Any]) -> tuple[MeetingRequestRecord | None, list[str]]:
    checker = _Checker("meeting_request", value)
    event, requester, requested = value.get("event"), value.get("from"), value.get("to")
    if all(isinstance(v, str) for v in (event, requester, requested)):
        _mission_prefix(
            checker, f'meeting_request "{requester}" -> "{requested}" of event "{event}"'
        )
    checker.unknown_fields(MEETING_REQUEST_FIELDS)
    event = checker.ref("event")
    requester = checker.ref("from")
    requested = checker.ref("to")
    if requester and requester == requested:
        checker.error("from and to must be different organizations")
    status = checker.choice("status", REQUEST_STATUSES, default="requested")
    priority = checker.choice("priority", PRIORITIES, default="normal")
    message = checker.string(value, "message", max_length=2000)
    if checker.messages:
        return None, checker.messages
    return MeetingRequestRecord(event, requester, requested, status, priority, message), []


def check_record(
    value: Any,
) -> tuple[OrganizationRecord | NeedRecord | MissionRecord | None, list[str]]:
    """Dispatch on ``type``: the checked record, or the messages about it."""
    if not isinstance(value, dict):
        return None, [f"a record must be a JSON object, not {_show(value)}"]
    record_type = value.get("type")
    if record_type == "organization":
        return check_organization(value)
    if record_type == "need":
        return check_need(value)
    if record_type == "event":
        return check_event(value)
    if record_type == "participant":
        return check_participant(value)
    if record_type == "meeting_request":
        return check_meeting_request(value)
    if record_type == "header":
        return None, ["header: only the first line may be a header"]
    types = ", ".join(RECORD_TYPES)
    if record_type is None:
        return None, [f"type is required ({types})"]
    return None, [f"type {_show(record_type)} is not one of {types}"]
