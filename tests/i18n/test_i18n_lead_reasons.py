"""Lead reasons name the thesaurus concept a capability answers in the reader's language:
the labels of ``concepts.toml`` reach the catalogs through a Babel extractor (message
context "concept"). Without a request (``portal leads``, its export), or to an API client
that asks for no language, they stay English."""

from __future__ import annotations

import io
import json
import tomllib
from dataclasses import replace

import pytest
from api.api_factories import make_token
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from matching.feedback_factories import Market, build_market, log_in

from portal.i18n.catalogs import TRANSLATIONS_DIR
from portal.i18n.extract import concept_labels
from portal.i18n.locales import TRANSLATED_LOCALES
from portal.matching.concepts import CONCEPTS_FILE, LABEL_CONTEXT, thesaurus
from portal.matching.profiles import need_profiles, vendor_profiles
from portal.matching.reasons import Answer, answer_reason
from portal.matching.services import export_leads

# The small market's leads are under the shown threshold: their capability "relates to"
# the need (portal.matching.reasons.answer_reason); a shown lead's "answers" is below.
ENGLISH = "“LED streetlight retrofit” relates to the need's street lighting problem"
READ_AS = {
    "th": "“LED streetlight retrofit” เกี่ยวข้องกับปัญหาด้านไฟส่องสว่างถนน ของความต้องการ",
    "vi": "“LED streetlight retrofit” liên quan đến vấn đề về chiếu sáng đường phố của nhu cầu",
}
ANSWERS_AS = {
    "th": "“LED streetlight retrofit” ตอบโจทย์ปัญหาด้านไฟส่องสว่างถนน ของความต้องการ",
    "vi": "“LED streetlight retrofit” giải quyết vấn đề về chiếu sáng đường phố của nhu cầu",
}


def _speak(client: FlaskClient, locale: str) -> None:
    """The language switch: a member's own setting changes with it."""
    assert client.post("/language", data={"locale": locale, "next": "/"}).status_code == 302


@pytest.fixture
def market(app: Flask) -> Market:
    return build_market()


@pytest.mark.parametrize("locale", sorted(READ_AS))
def test_a_buyer_reads_the_concept_in_a_lead_reason_in_their_language(
    client: FlaskClient, market: Market, locale: str
) -> None:
    log_in(client, market.buyer_member)
    _speak(client, locale)

    page = client.get(f"/needs/{market.lamps.ref}").text

    assert READ_AS[locale] in page
    # The concept is no longer English inside the translated sentence (the need's own
    # text, quoted on the page, says "street lighting" and stays as written).
    assert "street lighting problem" not in page


@pytest.mark.parametrize("locale", sorted(ANSWERS_AS))
def test_a_shown_lead_answers_and_a_weak_one_relates_in_the_readers_language(
    app: Flask, market: Market, locale: str
) -> None:
    """Both verbs of the concept form are translated: "answers" for a lead a page shows,
    "relates to" for one it folds away."""
    need = need_profiles([market.lamps.id])[market.lamps.id]
    vendor = vendor_profiles([market.lumenark.id])[market.lumenark.id]
    lighting = [c.title for c in vendor.capabilities].index("LED streetlight retrofit")
    part = "Street lamps along the canal keep failing and whole blocks are left with dark streets."
    need = replace(need, language="en")
    with force_locale(locale):
        shown = answer_reason(need, vendor, thesaurus(), Answer(lighting, part))
        weak = answer_reason(need, vendor, thesaurus(), Answer(lighting, part), weak=True)
    assert shown.startswith(ANSWERS_AS[locale])
    assert weak.startswith(READ_AS[locale])


def test_without_a_request_lead_reasons_stay_english(
    app: Flask, client: FlaskClient, runner, market: Market
) -> None:
    # A Thai page in the same process first: the commands do not inherit its language.
    log_in(client, market.buyer_member)
    _speak(client, "th")
    assert READ_AS["th"] in client.get(f"/needs/{market.lamps.ref}").text

    # The API answers a client by its own headers, not the member's setting: none, English.
    secret = make_token(market.buyer_member)
    api = app.test_client().get(
        "/api/v1/me/leads?all=true&limit=100", headers={"Authorization": f"Bearer {secret}"}
    )
    assert api.status_code == 200, api.text
    reasons = [r for item in api.get_json()["items"] for r in item["reasons"]]
    assert any(reason.startswith(ENGLISH) for reason in reasons)

    shown = runner.invoke(args=["leads", "need", market.lamps.ref])
    assert shown.exit_code == 0, shown.output
    assert ENGLISH in shown.output

    # What `portal leads export --for needs` writes (the command first computes sentence
    # vectors, which takes the encoder half a minute to load: not needed here).
    out = io.StringIO()
    export_leads("needs", out)
    rows = {row["need"]: row for row in map(json.loads, out.getvalue().splitlines())}
    reasons = [r for lead in rows[market.lamps.ref]["leads"] for r in lead["reasons"]]
    assert any(reason.startswith(ENGLISH) for reason in reasons)
    assert not any("ไฟส่องสว่างถนน" in reason for reason in reasons)


def test_every_concept_label_is_extracted_at_its_line_and_translated() -> None:
    """The extractor reads concepts.toml, the one source of the English labels; each
    shipped catalog translates every label."""
    raw = CONCEPTS_FILE.read_bytes()
    concepts = tomllib.loads(raw.decode("utf-8"))["concept"]
    lines = raw.decode("utf-8").splitlines()
    found = list(concept_labels(io.BytesIO(raw), ["pgettext"], [], {}))

    assert [message for _, _, message, _ in found] == [
        (LABEL_CONTEXT, concept["label"]) for concept in concepts
    ]
    for (line, funcname, (_, label), comments), concept in zip(found, concepts, strict=True):
        assert funcname == "pgettext"
        assert lines[line - 1].strip() == f"label = {json.dumps(label, ensure_ascii=False)}"
        assert concept["id"] in comments[0]

    for locale in TRANSLATED_LOCALES:
        with (TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
            catalog = read_po(handle)
        for concept in concepts:
            message = catalog.get(concept["label"], context=LABEL_CONTEXT)
            assert message is not None and message.string and not message.fuzzy, (
                locale,
                concept["label"],
            )
