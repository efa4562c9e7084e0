"""Numbers read right in Arabic: every Arabic screen and SMS, laid out by the Unicode
bidi algorithm (python-bidi, as a right-to-left display does it), shows each number's
digits in the order they were written (issue 12, point 4)."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest
from bidi import get_display

from gateway.help.service import CHAMBER_CONTACTS
from gateway.sms.outbox import TEMPLATES, render
from gateway.ussd.adapters.africastalking import adapter as at_adapter
from menus.engine import Engine
from menus.i18n import LRM, format_amount, grouped, keep_order, months_label
from menus.menu import SCREENS
from tests.unit.test_screen_budgets import AMO_STATUSES, WORST_REFERENCE, worst_cases

# A value as written: digits joined by / . , : or hyphens (a reference, a month range,
# an amount, a date), a time after its date, a phone number in pairs.
NUMBER = re.compile(r"\d{2}(?: \d{2}){3,}|\d[\d/.,:-]*\d(?: \d{2}:\d{2})?|\d")
PICK_UP_CODE = "FC-4821-7730"


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def misread(text: str, known: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """The numbers of `text` (and the `known` values it shows) whose digits a right-to-left
    display does not show in order, each with the line as displayed."""
    wrong = []
    for line in text.split("\n"):
        shown = digits(get_display(line, base_dir="R"))
        plain = line.replace(LRM, "")
        values = NUMBER.findall(plain) + [value for value in known if value in plain]
        wrong += [(value, get_display(line, base_dir="R")) for value in values if digits(value) not in shown]
    return wrong


def test_the_check_sees_what_the_issue_saw() -> None:
    # Youssef's reference grouped with spaces, after Arabic words, shows 9149 485 298;
    # a hyphen alone does no better there (the digits are Arabic numbers, rule W2).
    assert misread("المرجع: 298 485 9149", known=("298 485 9149",))
    assert misread("المرجع: 298-485-9149")
    assert misread("الأشهر: 01/2026-03/2026")
    assert misread("قبل 31/12 23:59")
    assert not misread(keep_order("المرجع: 298-485-9149 قبل 31/12 23:59 الأشهر 01/2026-03/2026", "ar"))


def test_marks_only_where_the_order_would_break_and_never_in_french() -> None:
    assert keep_order("135.00 درهم", "ar") == "135.00 درهم"  # one run already: no character spent
    assert keep_order("12/2026", "ar") == "12/2026"
    assert keep_order("298-485-9149", "ar") == LRM + "298-485-9149"
    assert keep_order("298-485-9149", "fr") == "298-485-9149"  # French stays GSM-7


@pytest.mark.parametrize(("screen", "amo_status"), list(itertools.product(SCREENS, AMO_STATUSES)))
def test_every_arabic_screen_reads_its_numbers_in_order(screen: str, amo_status: str) -> None:
    engine = Engine(SCREENS, home="main", agent_home="agent_home")
    known = (grouped(WORST_REFERENCE.reference), PICK_UP_CODE)
    for ctx, session in worst_cases(at_adapter.budget, "ar", screen, amo_status, code=PICK_UP_CODE):
        pages, _final = engine.pages(ctx, session)
        for page in pages:
            assert not misread(page, known), f"{screen}: {misread(page, known)}"


WORST_VALUES = {
    "reference": grouped("2984859149"),
    "months": months_label(dt.date(2026, 1, 1), 12),
    "amount": format_amount(123_456_789, "ar"),
    "expires": "31/12 23:59",
    "when": "30/11 08:45",
    "until": "31/12/2026",
    "receipt": "WF2026123456",
    "claim": "CL-2026-004512",
    "code": PICK_UP_CODE,
    "tail": "0341",
    "contact": CHAMBER_CONTACTS["03"],
    "network": "Fellah Cash",
    "province": "فاس",
    "points": "وفاكاش فاس البطحاء، ساحة البطحاء 12، 08:30-18:00",
    "reason": "ملف ناقص",
    "bank": "التجاري وفا بنك",
    "number": "RNA-2026-000123",
    "rna": "RNA-09-2026-004512",
    "chamber": "غرفة الصناعة التقليدية لجهة سوس ماسة",
    "address": "شارع محمد الخامس 12، أكادير",
    "phone": "0528-22-33-44",
}


NUMBERS = (
    "reference", "months", "amount", "expires", "when", "until", "receipt", "claim", "code", "tail", "number", "rna",
    "phone",
)  # fmt: skip


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_arabic_sms_reads_its_numbers_in_order(template: str) -> None:
    text = render(template, "ar", **WORST_VALUES)
    known = tuple(WORST_VALUES[name] for name in NUMBERS)
    assert not misread(text, known), misread(text, known)
