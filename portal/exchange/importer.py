"""Importing an exchange file: validate all of it first, then write it in batches.

The file is streamed twice (three times, counting the needs' own pass) rather than
held in memory: the first pass checks every line and keeps only refs, kinds and errors;
the write passes re-read it and write organizations, then needs, 1,000 rows at a time
with SQLAlchemy Core (no ORM objects, one SELECT per batch to look refs up; new rows by
``COPY`` on PostgreSQL, ``portal.bulk``). Core bypasses the ORM's flush hook,
so each batch records its search index events itself.
Nothing here commits: the caller commits once, so an import is one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.bulk import insert_rows, one_of
from portal.db import utc_now
from portal.exchange import missions as mission_exchange
from portal.exchange.records import (
    REF_PATTERN,
    ExchangeError,
    NeedRecord,
    OrganizationRecord,
    RecordError,
    check_header,
    check_record,
    is_header,
    read_lines,
)
from portal.extensions import db
from portal.languages.detect import detect_need_language
from portal.needs.models import Need
from portal.organizations.models import (
    Capability,
    Contact,
    Organization,
    OrganizationKind,
    VerificationStatus,
)
from portal.outbox import record_events
from portal.versioning import IMPORT_EDITOR

BATCH_SIZE = 1000
LOOKUP_CHUNK = 1000

# (phase, records done so far, records in all or None when not known yet); phases are
# "check" and "write". The CLI draws a progress bar; tests raise from it to interrupt.
ProgressCallback = Callable[[str, int, int | None], None]

_organizations = Organization.__table__
_capabilities = Capability.__table__
_contacts = Contact.__table__
_needs = Need.__table__

T = TypeVar("T")
MISSION_TYPES = ("event", "participant", "meeting_request")


@dataclass
class ValidationReport:
    """What the first pass found: every error, and how many records are good."""

    errors: list[RecordError] = field(default_factory=list)
    # A file without the right header is not an exchange file: never imported, even
    # with --skip-bad.
    header_error: RecordError | None = None
    organizations: int = 0
    needs: int = 0
    bad_lines: set[int] = field(default_factory=set)
    # event, participant and meeting_request records, kept from the checking pass
    missions: mission_exchange.MissionRecords = field(
        default_factory=mission_exchange.MissionRecords
    )

    @property
    def ok(self) -> bool:
        return self.header_error is None and not self.errors

    @property
    def all_errors(self) -> list[RecordError]:
        head = [self.header_error] if self.header_error else []
        return head + self.errors

    @property
    def importable(self) -> int:
        """Records that would be written with --skip-bad."""
        return self.organizations + self.needs + self.missions.importable


@dataclass
class ImportReport:
    organizations_new: int = 0
    organizations_updated: int = 0
    needs_new: int = 0
    needs_updated: int = 0
    # With --skip-bad: every error found, and how many records (lines) they left out; a
    # record can have several errors.
    skipped: list[RecordError] = field(default_factory=list)
    skipped_records: int = 0
    events: int = 0
    participants: int = 0
    meeting_requests: int = 0

    @property
    def organizations(self) -> int:
        return self.organizations_new + self.organizations_updated

    @property
    def needs(self) -> int:
        return self.needs_new + self.needs_updated

    def summary(self) -> str:
        text = (
            f"imported {self.organizations} organizations ({self.organizations_new} new, "
            f"{self.organizations_updated} updated) and {self.needs} needs "
            f"({self.needs_new} new, {self.needs_updated} updated)"
        )
        if self.events or self.participants or self.meeting_requests:
            text += (
                f"; {self.events} events, {self.participants} participants and "
                f"{self.meeting_requests} meeting requests"
            )
        if self.skipped_records:
            text += f"; skipped {self.skipped_records} bad record(s)"
        return text


class InvalidFile(ExchangeError):
    """The file has errors (and --skip-bad was not asked for, or the header is wrong)."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        count = len(report.all_errors)
        super().__init__(f"{count} error{'s' if count != 1 else ''} in the file; nothing imported")


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _kinds_in_database(session: Session, refs: Iterable[str]) -> dict[str, str]:
    """ref -> kind of the organizations the database already holds among ``refs``."""
    kinds: dict[str, str] = {}
    for chunk in _chunks(refs, LOOKUP_CHUNK):
        query = sa.select(_organizations.c.ref, _organizations.c.kind).where(
            one_of(_dialect(session), _organizations.c.ref, chunk)
        )
        kinds.update(session.execute(query).all())
    return kinds


def _open_lines(path: str | Path) -> Iterator[Any]:
    try:
        yield from read_lines(path)
    except OSError as exc:
        raise ExchangeError(f"cannot read {path}: {exc.strerror or exc}") from exc


def validate_file(
    path: str | Path,
    progress: ProgressCallback | None = None,
    session: Session | None = None,
) -> ValidationReport:
    """Check every line of the file against the format and the database; change nothing."""
    session = session or db.session
    report = ValidationReport()
    organization_lines: dict[str, int] = {}  # every legible organization ref -> its line
    need_lines: dict[str, int] = {}
    file_kinds: dict[str, str] = {}  # good organizations only
    needs_to_resolve: list[tuple[int, str, str]] = []  # (line, need ref, buyer ref)
    errors: list[RecordError] = report.errors

    def fail(line: int, message: str) -> None:
        errors.append(RecordError(line, message))
        report.bad_lines.add(line)

    seen_header = False
    lines_read = 0
    for parsed in _open_lines(path):
        lines_read += 1
        if progress is not None and lines_read % BATCH_SIZE == 0:
            progress("check", lines_read, None)
        if not seen_header:
            seen_header = True
            problem = check_header(parsed.value) if parsed.error is None else parsed.error
            if problem is not None:
                report.header_error = RecordError(parsed.number, problem)
            if parsed.error is not None or is_header(parsed.value):
                continue
        if parsed.error is not None:
            fail(parsed.number, parsed.error)
            continue

        value = parsed.value
        record, messages = check_record(value)
        for message in messages:
            fail(parsed.number, message)
        if isinstance(value, dict) and value.get("type") in MISSION_TYPES:
            report.missions.see(parsed.number, value, record, fail)
            continue
        if not isinstance(value, dict) or value.get("type") not in ("organization", "need"):
            continue
        ref = value.get("ref")
        if not isinstance(ref, str) or not REF_PATTERN.match(ref):
            continue
        registry = organization_lines if value["type"] == "organization" else need_lines
        if ref in registry:
            fail(
                parsed.number,
                f'{value["type"]} "{ref}": ref duplicates the {value["type"]} on line '
                f"{registry[ref]}",
            )
            continue
        registry[ref] = parsed.number
        if isinstance(record, OrganizationRecord):
            file_kinds[ref] = record.kind
        buyer_ref = value.get("buyer")
        if value["type"] == "need" and isinstance(buyer_ref, str) and REF_PATTERN.match(buyer_ref):
            # Checked even when the need has other errors, so that one run shows them all.
            needs_to_resolve.append((parsed.number, ref, buyer_ref))

    if not seen_header:
        report.header_error = RecordError(1, "the file is empty; it needs at least the header")
    if progress is not None:
        progress("check", lines_read, lines_read)

    # An organization keeps its kind: vendors' needs or buyers' capabilities would break.
    database_kinds = _kinds_in_database(session, file_kinds)
    for ref, kind in list(file_kinds.items()):
        before = database_kinds.get(ref)
        if before is not None and before != kind:
            fail(
                organization_lines[ref],
                f'organization "{ref}": kind cannot change from {before} to {kind}',
            )
            del file_kinds[ref]

    outside_buyers = {buyer for _, _, buyer in needs_to_resolve if buyer not in file_kinds}
    database_kinds.update(_kinds_in_database(session, outside_buyers))
    for line, ref, buyer in needs_to_resolve:
        kind = file_kinds.get(buyer) or database_kinds.get(buyer)
        if kind == OrganizationKind.BUYER:
            continue
        if kind is not None:
            problem = f'buyer "{buyer}" is not an organization of kind buyer'
        elif buyer in organization_lines:
            problem = (
                f'buyer "{buyer}" is not imported: its line {organization_lines[buyer]} has errors'
            )
        else:
            problem = f'buyer "{buyer}" is not an organization in the file or the portal'
        fail(line, f'need "{ref}": {problem}')

    report.missions.check(session, organization_lines, set(file_kinds), report.bad_lines, fail)

    errors.sort(key=lambda error: error.line)
    report.organizations = sum(
        1 for line in organization_lines.values() if line not in report.bad_lines
    )
    report.needs = sum(1 for line in need_lines.values() if line not in report.bad_lines)
    return report


_TYPE_NAMES: dict[type, str] = {OrganizationRecord: "organization", NeedRecord: "need"}


def _good_records(path: str | Path, bad_lines: set[int], record_type: type[T]) -> Iterator[T]:
    """Re-read the file, yielding the good records of one type (validated already).

    Lines of other types are passed over before they are checked: checking is what
    reading a line costs most, and each write pass wants one type of the file's lines.
    """
    type_name = _TYPE_NAMES[record_type]
    header_skipped = False
    for parsed in _open_lines(path):
        if not header_skipped:
            header_skipped = True
            if is_header(parsed.value):
                continue
        if parsed.number in bad_lines or parsed.error is not None:
            continue
        if not isinstance(parsed.value, dict) or parsed.value.get("type") != type_name:
            continue
        record, _ = check_record(parsed.value)
        if isinstance(record, record_type):
            yield record


def _write_organizations(
    session: Session, batch: list[OrganizationRecord], report: ImportReport
) -> None:
    now = utc_now()
    refs = [record.ref for record in batch]
    existing: dict[str, int] = dict(
        session.execute(
            sa.select(_organizations.c.ref, _organizations.c.id).where(
                one_of(_dialect(session), _organizations.c.ref, refs)
            )
        ).all()
    )
    fields = ("name", "country", "city", "website", "summary", "sectors", "markets")
    new_rows = []
    changed_rows = []
    for record in batch:
        row = {name: getattr(record, name) for name in fields}
        row["updated_at"] = now
        if record.ref in existing:
            row.update(org_id=existing[record.ref], edited_by=IMPORT_EDITOR, edited_at=now)
            changed_rows.append(row)
        else:
            row.update(
                ref=record.ref,
                kind=record.kind,
                # Trade staff import attendee lists they vouch for: verified at once.
                status=VerificationStatus.VERIFIED.value,
                verified_at=now,
                rejection_reason="",
                created_at=now,
            )
            new_rows.append(row)

    ids = dict(existing)
    ids.update(insert_rows(session, _organizations, new_rows, key="ref"))
    if changed_rows:
        # An existing organization keeps its status and its kind (checked in validation).
        # Its version moves on, so an edit form opened before the import cannot overwrite
        # it (portal.versioning); its capabilities and contacts are new rows.
        session.execute(
            sa.update(_organizations)
            .where(_organizations.c.id == sa.bindparam("org_id"))
            .values(version=_organizations.c.version + 1),
            changed_rows,
        )
        changed_ids = [row["org_id"] for row in changed_rows]
        for table in (_capabilities, _contacts):
            session.execute(sa.delete(table).where(table.c.organization_id.in_(changed_ids)))

    capability_rows = []
    contact_rows = []
    for record in batch:
        organization_id = ids[record.ref]
        for position, capability in enumerate(record.capabilities):
            capability_rows.append(
                {"organization_id": organization_id, "position": position, **capability}
            )
        for position, contact in enumerate(record.contacts):
            contact_rows.append(
                {"organization_id": organization_id, "position": position, **contact}
            )
    insert_rows(session, _capabilities, capability_rows)
    insert_rows(session, _contacts, contact_rows)
    record_events(session, [(record.kind, ids[record.ref]) for record in batch])
    report.organizations_new += len(new_rows)
    report.organizations_updated += len(changed_rows)


def _write_needs(session: Session, batch: list[NeedRecord], report: ImportReport) -> None:
    now = utc_now()
    buyers: dict[str, tuple[int, str | None]] = {
        ref: (buyer_id, country)  # the country settles Indonesian against Malay
        for ref, buyer_id, country in session.execute(
            sa.select(_organizations.c.ref, _organizations.c.id, _organizations.c.country).where(
                one_of(_dialect(session), _organizations.c.ref, {r.buyer for r in batch})
            )
        )
    }
    existing: dict[str, int] = dict(
        session.execute(
            sa.select(_needs.c.ref, _needs.c.id).where(
                one_of(_dialect(session), _needs.c.ref, [record.ref for record in batch])
            )
        ).all()
    )
    new_rows = []
    changed_rows = []
    for record in batch:
        row = {
            "buyer_id": buyers[record.buyer][0],
            "language": detect_need_language(
                record.title, record.description, buyers[record.buyer][1]
            ),
            "title": record.title,
            "description": record.description,
            "sectors": record.sectors,
            "budget_min": record.budget_min,
            "budget_max": record.budget_max,
            "closes_on": record.closes_on,
            "status": record.status,
            "notice": record.notice,
            "funding_source": record.funding_source,
            "funding_stage": record.funding_stage,
            "updated_at": now,
        }
        if record.ref in existing:
            row.update(need_id=existing[record.ref], edited_by=IMPORT_EDITOR, edited_at=now)
            changed_rows.append(row)
        else:
            row.update(ref=record.ref, created_at=now)
            new_rows.append(row)
    ids = dict(existing)
    ids.update(insert_rows(session, _needs, new_rows, key="ref"))
    if changed_rows:
        session.execute(  # the version moves on, as for organizations above
            sa.update(_needs)
            .where(_needs.c.id == sa.bindparam("need_id"))
            .values(version=_needs.c.version + 1),
            changed_rows,
        )
    record_events(session, [("need", ids[record.ref]) for record in batch])
    report.needs_new += len(new_rows)
    report.needs_updated += len(changed_rows)


def import_file(
    path: str | Path,
    skip_bad: bool = False,
    progress: ProgressCallback | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    session: Session | None = None,
) -> ImportReport:
    """Validate the whole file, then write it; raises InvalidFile and writes nothing when
    it has errors (with ``skip_bad``, only a wrong header stops it). Never commits."""
    session = session or db.session
    validation = validate_file(path, progress=progress, session=session)
    if validation.header_error is not None or (validation.errors and not skip_bad):
        raise InvalidFile(validation)

    report = ImportReport(
        skipped=list(validation.errors), skipped_records=len(validation.bad_lines)
    )
    total = validation.importable
    done = 0
    if progress is not None:
        progress("write", done, total)
    bad_lines = validation.bad_lines
    # Organizations first, so that every need finds its buyer whatever the file's order.
    for batch in _chunks(_good_records(path, bad_lines, OrganizationRecord), batch_size):
        _write_organizations(session, batch, report)
        done += len(batch)
        if progress is not None:
            progress("write", done, total)
    for batch in _chunks(_good_records(path, bad_lines, NeedRecord), batch_size):
        _write_needs(session, batch, report)
        done += len(batch)
        if progress is not None:
            progress("write", done, total)
    # Events, participants and requests last: they name organizations.
    counts = mission_exchange.write(session, validation.missions, bad_lines)
    report.events = counts.events
    report.participants = counts.participants
    report.meeting_requests = counts.meeting_requests
    if progress is not None:
        progress("write", total, total)
    return report
