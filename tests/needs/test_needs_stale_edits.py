"""No silently lost edits of a need: a buyer member and trade staff who open its edit form
and both save; the second save is refused (409) and changes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from edit_forms import TAIL, hidden, named, open_form
from exchange.exchange_factories import buyer as buyer_record
from exchange.exchange_factories import need as need_record
from exchange.exchange_factories import write_file
from flask import Flask
from organizations.directory_factories import log_in, make_member, make_need, make_org, make_user

from portal.accounts.models import Role
from portal.db import utc_today
from portal.exchange.importer import import_file
from portal.extensions import db
from portal.needs.models import Need, NeedStatus
from portal.needs.services import close_need, update_need
from portal.organizations.models import OrganizationKind
from portal.timezones import UTC_ZONE, format_local
from portal.versioning import IMPORT_EDITOR, EditConflict

BUYER = OrganizationKind.BUYER


def _reload(need: Need) -> Need:
    db.session.expire_all()
    return db.session.get(Need, need.id)  # type: ignore[return-value]


def _need_form(title: str, hidden: dict[str, str], **overrides: object) -> dict[str, object]:
    return {
        "title": title,
        "description": "Replace 20,000 sodium lamps with connected LEDs.",
        "sectors": ["energy"],
        "budget_min": "100000",
        "budget_max": "2500000",
        "closes_on": (utc_today() + dt.timedelta(days=30)).isoformat(),
        **hidden,
        **overrides,
    }


@pytest.mark.usefixtures("app")
def test_a_stale_need_save_through_the_service_changes_nothing() -> None:
    need = make_need(make_org(BUYER, "Service City"), "Original")
    update_need(need, title="First save", expected_version=1)
    db.session.commit()

    with pytest.raises(EditConflict) as raised:
        update_need(need, title="Second save", budget_min=1, budget_max=2, expected_version=1)
    db.session.rollback()

    assert raised.value.what == "need"
    need = _reload(need)
    assert (need.title, need.budget_min, need.version) == ("First save", None, 2)


@pytest.mark.usefixtures("app")
def test_status_buttons_do_not_move_the_version() -> None:
    """Closing or awarding is not in the edit form, so it does not make the form stale."""
    need = make_need(make_org(BUYER, "Closing City"), "Open for now")
    close_need(need)
    db.session.commit()

    update_need(need, title="Edited while closed", expected_version=1)
    db.session.commit()
    need = _reload(need)
    assert (need.title, need.status, need.version) == ("Edited while closed", NeedStatus.CLOSED, 2)


@pytest.mark.usefixtures("app")
def test_an_import_of_the_need_makes_an_older_form_stale(tmp_path: Path) -> None:
    buyer = make_org(BUYER, "Imported City")
    need = make_need(buyer, "Before the import")
    path = write_file(
        tmp_path / "needs.jsonl",
        buyer_record(buyer.ref, name=buyer.name),
        need_record(need.ref, buyer=buyer.ref, title="From the import"),
    )

    import_file(path)
    db.session.commit()

    need = _reload(need)
    assert (need.title, need.version, need.edited_by) == ("From the import", 2, IMPORT_EDITOR)
    with pytest.raises(EditConflict):
        update_need(need, title="From a form opened before", expected_version=1)
    db.session.rollback()
    assert _reload(need).title == "From the import"


def test_staff_and_the_buyer_edit_one_need_the_second_save_gets_409(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    buyer = make_org(BUYER, "Contested City")
    need = make_need(buyer, "Street lighting")
    member = named(make_member(buyer), "Linh Buyer")
    staff_user = named(make_user(Role.STAFF), "Sam Staff")
    member_client, staff_client = app.test_client(), app.test_client()
    log_in(member_client, member)
    log_in(staff_client, staff_user)
    url = f"/needs/{need.ref}/edit"
    member_form, staff_form = open_form(member_client, url), open_form(staff_client, url)

    saved = staff_client.post(url, data=_need_form("Street lighting (staff)", staff_form))
    refused = member_client.post(
        url, data=_need_form("Street lighting (buyer)", member_form, budget_max="3000000")
    )

    assert saved.status_code == 302
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    when = format_local(_reload(need).edited_at, UTC_ZONE)
    assert f"This need was changed by Sam Staff at {when} {TAIL}" in html
    assert 'value="Street lighting (buyer)"' in html and 'value="3000000"' in html
    assert "<td>Street lighting (staff)</td>" in html and "<td>2,500,000</td>" in html
    # funding stated on neither side (None saved, "" in the form) is the same, not a change
    funding = html.partition('<th scope="row">Funding source</th>')[2].partition("</tr>")[0]
    assert "(empty)" in funding and "the same" in funding
    need = _reload(need)
    assert (need.title, need.budget_max, need.version) == ("Street lighting (staff)", 2_500_000, 2)

    # The buyer saves the 409 page's form again (it carries the current version): accepted.
    again = {"csrf_token": hidden(html, "csrf_token"), "version": hidden(html, "version")}
    resaved = member_client.post(url, data=_need_form("Street lighting (both)", again))
    assert resaved.status_code == 302
    need = _reload(need)
    assert (need.title, need.version, need.edited_by) == ("Street lighting (both)", 3, "Linh Buyer")
