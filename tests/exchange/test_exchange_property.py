"""Whatever the lines hold: a clean import or errors with line numbers, never half of one."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support import count_rows

from portal.exchange.importer import InvalidFile, import_file
from portal.extensions import db
from portal.needs.models import Need
from portal.organizations.models import Capability, Contact, Organization

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["\x00", "\ud800", "mobility", "VN", "US", "2027-01-31"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
refs = st.sampled_from(["city", "acme", "n1", "n2", "bad ref", "", "x" * 65]) | json_values
capability = st.fixed_dictionaries(
    {"title": st.text(max_size=5) | json_values},
    optional={
        "description": st.text(max_size=5),
        "sectors": st.lists(st.sampled_from(["energy", "nope"]), max_size=2),
    },
)
contact = st.fixed_dictionaries(
    {"name": st.text(max_size=5) | json_values},
    optional={"email": st.sampled_from(["a@b.example.com", "broken", ""]), "phone": scalars},
)
organization = st.fixed_dictionaries(
    {"type": st.just("organization"), "ref": refs},
    optional={
        "kind": st.sampled_from(["vendor", "buyer", "other"]),
        "name": st.text(max_size=8) | json_values,
        "country": st.sampled_from(["US", "VN", "SG", "ZZ"]) | json_values,
        "city": st.text(max_size=5),
        "website": st.sampled_from(["https://a.example.com", "ftp://x", "nope"]),
        "sectors": st.lists(st.sampled_from(["mobility", "water", "nope"]), max_size=3),
        "markets": st.lists(st.sampled_from(["VN", "US"]), max_size=2) | json_values,
        "capabilities": st.lists(capability, max_size=2) | json_values,
        "contacts": st.lists(contact, max_size=2),
        "typo": json_values,
    },
)
need = st.fixed_dictionaries(
    {"type": st.just("need"), "ref": refs, "buyer": refs},
    optional={
        "title": st.text(max_size=8) | json_values,
        "description": st.text(max_size=8) | json_values,
        "budget_usd": st.none()
        | st.fixed_dictionaries({"min": scalars, "max": scalars})
        | json_values,
        "closes_on": st.sampled_from(["2027-02-28", "2027-02-30", None]) | json_values,
        "status": st.sampled_from(["open", "closed", "awarded", "pending"]),
        "notice": st.sampled_from(["concept", "rfp", "tender"]) | json_values,
        "funding": st.none()
        | st.fixed_dictionaries(
            {
                "source": st.sampled_from(["adb", "imf"]) | json_values,
                "stage": st.sampled_from(["funded", "signed"]) | json_values,
            }
        )
        | json_values,
    },
)
valid = st.sampled_from(
    [
        {"type": "organization", "ref": "city", "kind": "buyer", "name": "City", "country": "VN"},
        {
            "type": "organization",
            "ref": "acme",
            "kind": "vendor",
            "name": "Acme",
            "country": "US",
            "capabilities": [{"title": "Signals"}],
            "contacts": [{"name": "Jo"}],
        },
        {"type": "need", "ref": "n1", "buyer": "city", "title": "Queues", "description": "Long."},
        {
            "type": "need",
            "ref": "n2",
            "buyer": "city",
            "title": "Floods",
            "description": "Deep.",
            "budget_usd": {"min": 1, "max": 2},
            "closes_on": "2027-02-28",
            "status": "closed",
        },
    ]
)
lines = st.one_of(
    valid.map(json.dumps),
    valid.map(json.dumps),
    organization.map(json.dumps),
    need.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=12),
)
GOOD_HEADER = '{"type": "header", "format": "smartcity-matchmaking/1"}'
# Mostly the right header, so that the records themselves get exercised.
header = st.one_of(
    st.just(GOOD_HEADER),
    st.just(GOOD_HEADER),
    st.just(GOOD_HEADER),
    st.sampled_from(['{"type": "header", "format": "smartcity-matchmaking/2"}', ""]),
)


def model_counts() -> tuple[int, ...]:
    return tuple(count_rows(model) for model in (Organization, Capability, Contact, Need))


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(first=header, body=st.lists(lines, max_size=8), skip_bad=st.booleans())
def test_any_file_imports_cleanly_or_reports_lines(
    app: Flask, tmp_path: Path, first: str, body: list[str], skip_bad: bool
) -> None:
    path = tmp_path / "random.jsonl"
    content = "\n".join([first, *body]) + "\n"
    path.write_text(content, encoding="utf-8", errors="surrogatepass")
    line_count = path.read_bytes().count(b"\n")
    try:
        report = import_file(path, skip_bad=skip_bad)
    except InvalidFile as exc:
        event("rejected")
        errors = exc.report.all_errors
        assert errors
        assert all(1 <= error.line <= line_count for error in errors)
        assert all(str(error).startswith(f"line {error.line}: ") for error in errors)
        assert model_counts() == (0, 0, 0, 0)
    else:
        event(f"imported {report.organizations} organizations, {report.needs} needs")
        assert count_rows(Organization) == report.organizations_new
        assert count_rows(Need) == report.needs_new
        assert all(1 <= error.line <= line_count for error in report.skipped)
        assert skip_bad or not report.skipped
    finally:
        db.session.rollback()
