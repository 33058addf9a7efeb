"""No silently lost edits: a save on a profile, capability or contact form opened before
someone else's save is refused (409), changes nothing and shows both versions.

Through the services, through HTTP with CSRF on (two members, each their own client and
session), and with real commits: two saves at once, and on PostgreSQL a save whose
transaction read the row before another one committed.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from edit_forms import TAIL, hidden, named, open_form
from exchange.exchange_factories import vendor as vendor_record
from exchange.exchange_factories import write_file
from flask import Flask
from flask.testing import FlaskClient
from organizations.directory_factories import log_in, make_member, make_org, make_user
from support import TEST_DB

from portal.accounts.models import Role, User
from portal.exchange.importer import import_file
from portal.extensions import db
from portal.organizations.models import Capability, Contact, Organization, OrganizationKind
from portal.organizations.services import (
    add_capability,
    add_contact,
    update_capability,
    update_contact,
    update_profile,
)
from portal.timezones import UTC_ZONE, format_local
from portal.versioning import IMPORT_EDITOR, EditConflict

VENDOR = OrganizationKind.VENDOR


def _reload(organization: Organization) -> Organization:
    db.session.expire_all()
    return db.session.get(Organization, organization.id)  # type: ignore[return-value]


# --- through the services ---------------------------------------------------------------


@pytest.mark.usefixtures("app")
def test_a_save_on_the_current_version_bumps_it_and_records_the_editor() -> None:
    vendor = make_org(VENDOR, "Versioned Vendor")
    editor = named(make_member(vendor), "Ada Editor")
    assert vendor.version == 1 and vendor.edited_by == "" and vendor.edited_at is None

    update_profile(vendor, name="Versioned Vendor Inc", expected_version=1, editor=editor)
    db.session.commit()

    vendor = _reload(vendor)
    assert vendor.name == "Versioned Vendor Inc"
    assert (vendor.version, vendor.edited_by) == (2, "Ada Editor")
    assert vendor.edited_at is not None


@pytest.mark.usefixtures("app")
def test_a_save_on_a_stale_version_changes_nothing() -> None:
    vendor = make_org(VENDOR, "First Name", city="Austin")
    first, second = make_member(vendor), make_member(vendor)
    update_profile(vendor, name="Saved First", city="Boston", expected_version=1, editor=first)
    db.session.commit()

    with pytest.raises(EditConflict) as raised:
        update_profile(
            vendor, name="Saved Second", city="Chicago", expected_version=1, editor=second
        )
    db.session.rollback()

    assert raised.value.row is vendor and raised.value.what == "profile"
    vendor = _reload(vendor)
    assert (vendor.name, vendor.city, vendor.version) == ("Saved First", "Boston", 2)
    # Saving again on the version read now is accepted.
    update_profile(vendor, name="Saved Second", expected_version=2, editor=second)
    db.session.commit()
    assert (_reload(vendor).name, _reload(vendor).version) == ("Saved Second", 3)


@pytest.mark.usefixtures("app")
def test_without_an_expected_version_a_save_still_bumps_the_version() -> None:
    """Callers without a form (scripts, tests) are last-writer-wins, but a form opened
    before their save is still refused."""
    vendor = make_org(VENDOR, "Scripted")
    update_profile(vendor, name="Scripted Twice")
    db.session.commit()

    assert _reload(vendor).version == 2
    with pytest.raises(EditConflict):
        update_profile(vendor, name="From an old form", expected_version=1)
    db.session.rollback()


@pytest.mark.usefixtures("app")
def test_capabilities_and_contacts_carry_their_own_versions() -> None:
    vendor = make_org(VENDOR, "Listed Vendor")
    capability = add_capability(vendor, title="Meters")
    contact = add_contact(vendor, name="Ana")
    db.session.commit()

    update_capability(capability, title="Smart meters", expected_version=1)
    update_contact(contact, name="Ana Lima", expected_version=1)
    db.session.commit()
    with pytest.raises(EditConflict) as stale_capability:
        update_capability(capability, title="Dumb meters", expected_version=1)
    db.session.rollback()
    with pytest.raises(EditConflict) as stale_contact:
        update_contact(contact, name="Someone else", expected_version=1)
    db.session.rollback()

    assert (stale_capability.value.what, stale_contact.value.what) == ("capability", "contact")
    db.session.expire_all()
    assert (db.session.get(Capability, capability.id).title, capability.version) == (
        "Smart meters",
        2,
    )
    assert (db.session.get(Contact, contact.id).name, contact.version) == ("Ana Lima", 2)
    assert _reload(vendor).version == 1  # the profile itself was not edited


@pytest.mark.usefixtures("app")
def test_an_import_bumps_the_version_so_an_older_form_cannot_overwrite_it(tmp_path: Path) -> None:
    vendor = make_org(VENDOR, "Imported Later")
    path = write_file(tmp_path / "update.jsonl", vendor_record(vendor.ref, name="From the import"))

    report = import_file(path)
    db.session.commit()

    assert report.organizations_updated == 1
    vendor = _reload(vendor)
    assert (vendor.name, vendor.version, vendor.edited_by) == ("From the import", 2, IMPORT_EDITOR)
    with pytest.raises(EditConflict):
        update_profile(vendor, name="From a form opened before", expected_version=1)
    db.session.rollback()
    assert _reload(vendor).name == "From the import"


# --- through HTTP, CSRF on --------------------------------------------------------------


@pytest.fixture
def csrf_on(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def _two_members(app: Flask, vendor: Organization) -> tuple[FlaskClient, FlaskClient, User]:
    first_user = named(make_member(vendor), "Ada First")
    second_user = named(make_member(vendor), "Bo Second")
    first, second = app.test_client(), app.test_client()
    log_in(first, first_user)
    log_in(second, second_user)
    return first, second, first_user


def _profile(name: str, summary: str, hidden: dict[str, str]) -> dict[str, object]:
    return {
        "name": name,
        "city": "Denver",
        "website": "",
        "summary": summary,
        "sectors": ["energy"],
        "markets": ["VN"],
        **hidden,
    }


@pytest.mark.usefixtures("csrf_on")
def test_two_members_save_one_profile_the_second_gets_409_and_loses_nothing(
    app: Flask,
) -> None:
    vendor = make_org(VENDOR, "Shared Vendor", summary="We build grids.")
    first, second, first_user = _two_members(app, vendor)
    url = f"/organizations/{vendor.ref}/edit"
    first_form, second_form = open_form(first, url), open_form(second, url)
    assert first_form["version"] == second_form["version"] == "1"

    saved = first.post(url, data=_profile("Shared Vendor", "First summary.", first_form))
    refused = second.post(url, data=_profile("Renamed Vendor", "Second summary.", second_form))

    assert saved.status_code == 302
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    when = format_local(_reload(vendor).edited_at, UTC_ZONE)
    assert f"This profile was changed by Ada First at {when} {TAIL}" in html
    # The reader's own values stay in the form; the saved ones are shown above it.
    assert 'value="Renamed Vendor"' in html and "Second summary.</textarea>" in html
    assert "Saved now" in html and "<td>First summary.</td>" in html
    assert hidden(html, "version") == "2"  # the form now carries the current version
    vendor = _reload(vendor)
    assert (vendor.name, vendor.summary, vendor.version) == ("Shared Vendor", "First summary.", 2)
    assert vendor.edited_by == first_user.full_name

    # Reloading and saving again is accepted (so is saving the 409 page's form).
    again = open_form(second, url)
    resaved = second.post(url, data=_profile("Renamed Vendor", "Both summaries.", again))
    assert resaved.status_code == 302
    vendor = _reload(vendor)
    assert (vendor.name, vendor.summary, vendor.version) == ("Renamed Vendor", "Both summaries.", 3)
    assert vendor.edited_by == "Bo Second"


@pytest.mark.usefixtures("csrf_on")
def test_staff_saving_over_a_member_gets_409_too(app: Flask) -> None:
    vendor = make_org(VENDOR, "Helped Vendor")
    member = named(make_member(vendor), "Mia Member")
    staff_user = named(make_user(Role.STAFF), "Sam Staff")
    member_client, staff_client = app.test_client(), app.test_client()
    log_in(member_client, member)
    log_in(staff_client, staff_user)
    url = f"/organizations/{vendor.ref}/edit"
    staff_form, member_form = open_form(staff_client, url), open_form(member_client, url)

    assert member_client.post(url, data=_profile("Mia's Name", "", member_form)).status_code == 302
    refused = staff_client.post(url, data=_profile("Staff Name", "", staff_form))

    assert refused.status_code == 409
    assert "This profile was changed by Mia Member at " in refused.get_data(as_text=True)
    assert _reload(vendor).name == "Mia's Name"


@pytest.mark.usefixtures("csrf_on")
def test_a_form_without_its_version_is_refused_not_saved(app: Flask) -> None:
    vendor = make_org(VENDOR, "Unversioned")
    member = make_member(vendor)
    client = app.test_client()
    log_in(client, member)
    url = f"/organizations/{vendor.ref}/edit"
    hidden = open_form(client, url)

    for version in ("", "abc", "9" * 30):
        data = _profile("Overwritten", "", {**hidden, "version": version})
        response = client.post(url, data=data)
        assert response.status_code == 409
        assert "the form did not say which version of it you opened" in response.get_data(
            as_text=True
        )
    response = client.post(
        url, data=_profile("Overwritten", "", {"csrf_token": hidden["csrf_token"]})
    )
    assert response.status_code == 409
    assert _reload(vendor).name == "Unversioned"


@pytest.mark.usefixtures("csrf_on")
def test_stale_capability_and_contact_saves_get_409(app: Flask) -> None:
    vendor = make_org(VENDOR, "Two Editors")
    capability = add_capability(vendor, title="Signals")
    contact = add_contact(vendor, name="Ana")
    db.session.commit()
    first, second, _ = _two_members(app, vendor)
    base = f"/organizations/{vendor.ref}"
    cases = [
        (f"{base}/capabilities/{capability.id}/edit", "title", "capability"),
        (f"{base}/contacts/{contact.id}/edit", "name", "contact"),
    ]
    for url, field, what in cases:
        first_form, second_form = open_form(first, url), open_form(second, url)
        assert first.post(url, data={field: "First", **first_form}).status_code == 302
        refused = second.post(url, data={field: "Second", **second_form})
        assert refused.status_code == 409
        html = refused.get_data(as_text=True)
        assert f"This {what} was changed by Ada First at " in html
        assert 'value="Second"' in html
        assert second.post(url, data={field: "Second", **open_form(second, url)}).status_code == 302

    db.session.expire_all()
    assert db.session.get(Capability, capability.id).title == "Second"
    assert db.session.get(Contact, contact.id).name == "Second"


# --- real commits: two saves at once ----------------------------------------------------


def _save_in_own_session(
    app: Flask, org_id: int, name: str, version: int, start: threading.Barrier
) -> object:
    """One save as a request would make it: its own session and connection."""
    with app.app_context():
        try:
            start.wait(timeout=60)
            organization = db.session.get(Organization, org_id)
            assert organization is not None
            update_profile(organization, name=name, expected_version=version)
            db.session.commit()
            return "ok"
        except Exception as exc:  # returned to the test, which asserts on it
            db.session.rollback()
            return exc
        finally:
            db.session.remove()


@pytest.mark.real_commits
def test_two_saves_of_one_version_at_once_exactly_one_wins(committing_app: Flask) -> None:
    organization = make_org(VENDOR, "Raced Vendor")
    org_id = organization.id
    db.session.remove()
    start = threading.Barrier(2)
    results: dict[str, object] = {}

    def run(name: str) -> None:
        results[name] = _save_in_own_session(committing_app, org_id, name, 1, start)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("Left Name", "Right Name")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [name for name, result in results.items() if result == "ok"]
    losers = [result for result in results.values() if isinstance(result, EditConflict)]
    assert len(winners) == 1 and len(losers) == 1, results
    final = db.session.get(Organization, org_id)
    assert final is not None and (final.name, final.version) == (winners[0], 2)


@pytest.mark.real_commits
@pytest.mark.skipif(TEST_DB != "postgresql", reason="overlapping transactions need PostgreSQL")
def test_a_save_that_read_before_another_committed_is_refused_on_postgresql(
    committing_app: Flask,
) -> None:
    """B reads version 1, A saves version 2 and commits, B saves on version 1: the check is
    the UPDATE's own WHERE on the committed row, not the value B read, so B is refused."""
    organization = make_org(VENDOR, "Overlapped Vendor")
    org_id = organization.id
    db.session.remove()
    b_has_read, a_committed = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def run_b() -> None:
        with committing_app.app_context():
            try:
                stale = db.session.get(Organization, org_id)
                assert stale is not None and stale.version == 1  # read in B's transaction
                b_has_read.set()
                a_committed.wait(timeout=60)
                update_profile(stale, name="B's Name", expected_version=stale.version)
                db.session.commit()
                results["b"] = "ok"
            except Exception as exc:  # asserted on below
                db.session.rollback()
                results["b"] = exc
            finally:
                db.session.remove()

    thread = threading.Thread(target=run_b)
    thread.start()
    assert b_has_read.wait(timeout=60)
    with committing_app.app_context():
        fresh = db.session.get(Organization, org_id)
        assert fresh is not None
        update_profile(fresh, name="A's Name", expected_version=1)
        db.session.commit()
        db.session.remove()
    a_committed.set()
    thread.join()

    assert isinstance(results["b"], EditConflict), results
    final = db.session.get(Organization, org_id)
    assert final is not None and (final.name, final.version) == ("A's Name", 2)
