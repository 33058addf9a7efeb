"""Search by a need's notice type and funding (facets and filters), and an index built
with an older schema: refused clearly, never written to, rebuilt by the CLI or worker."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from whoosh import index as whoosh_index

from portal.db import utc_now
from portal.extensions import db
from portal.needs.models import Need
from portal.organizations.models import Organization, VerificationStatus
from portal.outbox import Position
from portal.search.index import VERSION_FILE, IndexOutdated, IndexStore, write_state
from portal.search.queries import SearchFilters, search
from portal.search.schema import SCHEMA_VERSION, make_schema
from portal.search.sync import apply_pending_events, check, rebuild
from portal.worker import index_events_pass


def _org(kind: str, name: str, country: str) -> Organization:
    record = Organization(
        ref=name.lower().replace(" ", "-"),
        kind=kind,
        name=name,
        country=country,
        summary="Flood pumps and drainage.",
        sectors=["water"],
        status=VerificationStatus.VERIFIED,
        verified_at=utc_now(),
    )
    db.session.add(record)
    return record


def _need(buyer: Organization, ref: str, notice: str, funding: tuple[str, str] | None) -> Need:
    source, stage = funding or (None, None)
    need = Need(
        ref=ref,
        buyer=buyer,
        title=f"Flood pumps {ref}",
        description="Pumps for the flooded canal district.",
        sectors=["water"],
        notice=notice,
        funding_source=source,
        funding_stage=stage,
    )
    db.session.add(need)
    return need


@pytest.fixture
def notices(app: Flask) -> None:
    _org("vendor", "Pump Works", "US")
    buyer = _org("buyer", "Can Tho Drainage", "VN")
    _need(buyer, "tender-adb", "rfp", ("adb", "procurement"))
    _need(buyer, "tender-city", "rfp", ("own-budget", "funded"))
    _need(buyer, "rfi-adb", "rfi", ("adb", "feasibility"))
    _need(buyer, "concept", "concept", None)
    db.session.commit()
    apply_pending_events()


def _refs(results) -> set[str]:
    return {hit.record.ref for hit in results.hits}


def test_notice_and_funding_are_facets_of_needs(notices: None) -> None:
    results = search("flood pumps")
    assert dict(results.facets["notice"]) == {"rfp": 2, "rfi": 1, "concept": 1}
    assert dict(results.facets["funding_source"]) == {"adb": 2, "own-budget": 1}
    assert dict(results.facets["funding_stage"]) == {
        "procurement": 1,
        "funded": 1,
        "feasibility": 1,
    }
    assert dict(results.facets["kind"]) == {"vendor": 1, "buyer": 1, "need": 4}


def test_filters_narrow_to_needs_with_that_notice_or_funding(notices: None) -> None:
    assert _refs(search("flood", SearchFilters(notice="rfp"))) == {"tender-adb", "tender-city"}
    assert _refs(search("flood", SearchFilters(funding_source="adb"))) == {"tender-adb", "rfi-adb"}
    both = SearchFilters(notice="rfp", funding_stage="procurement")
    results = search("", both)
    assert _refs(results) == {"tender-adb"}
    assert dict(results.facets["kind"]) == {"need": 1}  # vendors and buyers have no notice


def test_the_page_offers_the_facets_and_keeps_the_filters(
    notices: None, client: FlaskClient
) -> None:
    page = html.unescape(client.get("/search?q=flood").get_data(as_text=True))
    for label in ("Notice type", "Funding source", "Funding stage"):
        assert f"<h3>{label}</h3>" in page
    assert "Request for proposals (tender)" in page and "Asian Development Bank" in page
    assert "notice=rfp" in page

    response = client.get("/search?q=flood&notice=rfp&funding_source=adb")
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "Flood pumps tender-adb" in page and "Flood pumps tender-city" not in page
    assert '<input type="hidden" name="notice" value="rfp">' in page
    assert '<input type="hidden" name="funding_source" value="adb">' in page
    assert "Funding: Asian Development Bank, in procurement" in page

    response = client.get("/search?q=flood&funding_stage=signed")
    assert response.status_code == 200
    assert "Ignored the unknown funding stage “signed”." in html.unescape(
        response.get_data(as_text=True)
    )


# --- an index written by an older version -------------------------------------------------


def _install_old_index(store: IndexStore) -> Path:
    """A live generation as version 1 wrote it: no notice or funding fields, no version
    file; it has applied no events yet."""
    schema = make_schema()
    for name in ("notice", "funding_source", "funding_stage"):
        schema.remove(name)
    store.root.mkdir(parents=True, exist_ok=True)
    generation = store.root / "gen-00000000T000000000000"
    generation.mkdir()
    ix = whoosh_index.create_in(generation, schema)
    with ix.writer() as writer:
        write_state(writer, Position())
    store.make_live(generation)
    return generation


def test_an_old_index_is_refused_clearly_and_rebuilt(app: Flask, client: FlaskClient) -> None:
    store = IndexStore.from_app()
    old = _install_old_index(store)
    assert store.schema_version(old) == 1
    buyer = _org("buyer", "Hue Water", "VN")
    _need(buyer, "hue-tender", "rfp", ("jica", "funded"))
    db.session.commit()  # its events wait: nothing is written into the old index

    assert apply_pending_events(store).outdated == 1
    with pytest.raises(IndexOutdated, match="run `portal index rebuild`"):
        search("hue")
    response = client.get("/search?q=hue")
    assert response.status_code == 503
    assert "Search is being rebuilt after an upgrade" in response.get_data(as_text=True)
    assert response.headers["Retry-After"]
    assert not check(store).ok
    assert store.current_generation() == old

    report = rebuild(store)
    assert store.current_generation() != old
    assert store.schema_version(store.current_generation()) == SCHEMA_VERSION
    assert report.documents == 2
    assert _refs(search("hue", SearchFilters(funding_source="jica"))) == {"hue-tender"}
    assert client.get("/search?q=hue").status_code == 200
    assert check(store).ok


def test_the_cli_says_to_rebuild_and_rebuild_fixes_it(app: Flask, runner) -> None:
    _install_old_index(IndexStore.from_app())
    result = runner.invoke(args=["index", "sync"])
    assert result.exit_code == 1
    assert "schema version 1" in result.output and "portal index rebuild" in result.output
    result = runner.invoke(args=["index", "check"])
    assert result.exit_code == 1 and "portal index rebuild" in result.output
    result = runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["index", "sync"]).exit_code == 0


def test_rebuild_if_outdated_rebuilds_only_an_old_index(app: Flask, runner) -> None:
    """What `make run` does: a developer's old index is rebuilt once, a current one kept."""
    store = IndexStore.from_app()
    old = _install_old_index(store)
    args = ["index", "rebuild", "--if-outdated", "--procs", "1", "--no-progress"]

    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    rebuilt = store.current_generation()
    assert rebuilt != old and store.schema_version(rebuilt) == SCHEMA_VERSION

    again = runner.invoke(args=args)
    assert again.exit_code == 0 and "up to date" in again.output
    assert store.current_generation() == rebuilt


def test_the_worker_rebuilds_an_old_index_by_itself(app: Flask) -> None:
    store = IndexStore.from_app()
    old = _install_old_index(store)
    _need(_org("buyer", "Vinh Water", "VN"), "vinh", "rfi", None)
    db.session.commit()
    index_events_pass()
    live = store.current_generation()
    assert live != old and store.schema_version(live) == SCHEMA_VERSION
    assert (live / VERSION_FILE).read_text() == str(SCHEMA_VERSION)
    assert _refs(search("vinh")) == {"vinh", "vinh-water"}  # the need and its buyer
