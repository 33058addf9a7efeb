"""A Thai buyer posts a need in Thai, in the Thai interface, and sees English vendors with
reasons (issue 14): the language switch, the translated pages, and a need ranked in the
multilingual space once the workers have embedded it."""

from __future__ import annotations

import re

from e2e_helpers import leads_panel, log_in_as, unique
from flask_babel import force_locale, gettext
from live_portal import LiveServer
from playwright.sync_api import Page, expect

from portal.matching.store.queue import sentence_encoder, update_vectors

# "Street lights in the old town fail often and the electricity bill for street lighting
# grows every month. We want to change to energy-saving LED street lamps that report when
# a lamp fails." (Thai writes "LED" as it is.)
LAMPS_TH = (
    "ไฟถนนในเขตเมืองเก่าเสียบ่อยและค่าไฟฟ้าสำหรับไฟส่องสว่างถนนสูงขึ้นทุกเดือน "
    "เราต้องการเปลี่ยนเป็นโคมไฟถนน LED ที่ประหยัดพลังงานและแจ้งเตือนเมื่อโคมไฟเสีย"
)
THAI = re.compile(r"[\u0e00-\u0e7f]")


def _in_thai(server: LiveServer, message: str) -> str:
    with server.app.test_request_context(), force_locale("th"):
        return gettext(message)


def _workers_catch_up(server: LiveServer) -> None:
    """What `portal worker` does next: embed the new need and, as it is the first one not
    in English, the map into the English space (real models, in-process)."""

    def work() -> None:
        encoder = sentence_encoder(prepare=True)
        assert encoder is not None
        update_vectors(encoder.encode, wait_for_others=True)

    server.run(work)


def test_a_thai_buyer_posts_in_thai_and_sees_english_vendors_with_reasons(
    page: Page, live_server: LiveServer
) -> None:
    log_in_as(page, "buyer")
    # the switch at the foot of every page; a member's choice becomes their setting
    page.locator("#language-switch").select_option("th")
    page.locator("form.language-switch button").click()
    expect(page.locator("html")).to_have_attribute("lang", "th")
    expect(page.get_by_role("navigation", name=re.compile(".+")).first).to_contain_text(THAI)

    page.get_by_role("link", name=_in_thai(live_server, "My organization")).first.click()
    page.get_by_role("link", name=_in_thai(live_server, "Post a need")).click()
    title = unique("เปลี่ยนไฟถนนเป็น LED")  # "Change the street lights to LED"
    page.locator("[name=title]").fill(title)
    page.locator("[name=description]").fill(LAMPS_TH)
    page.locator("[name=sectors]").select_option(value=["energy"])
    page.get_by_role("button", name=_in_thai(live_server, "Post need")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator(".flashes")).to_contain_text(_in_thai(live_server, "Need posted."))

    _workers_catch_up(live_server)
    page.reload()
    leads = page.get_by_role("region", name=_in_thai(live_server, "Vendors who could solve this"))
    expect(leads).to_be_visible()
    first = leads.get_by_role("listitem").filter(has=page.get_by_role("heading", level=3)).first
    # an English vendor that lights streets comes first...
    expect(first.get_by_role("heading", level=3)).to_contain_text(
        re.compile(r"Light|LED|Lumen", re.IGNORECASE)
    )
    # ...and its reasons quote the need's own Thai words beside the vendor's English
    reasons = first.get_by_role("list").first
    expect(reasons).to_contain_text(THAI)
    expect(reasons).to_contain_text(re.compile(r"LED|lighting|retrofit", re.IGNORECASE))
    # the English interface's leads panel name is nowhere: the page is Thai
    expect(leads_panel(page)).to_have_count(0)
