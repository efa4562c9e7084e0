"""How many answers each main task takes, from the dial to its result screen, in Arabic
and in French, on the demo data (the README's "Key presses" table: these numbers)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.cashpoints import service as cashpoints
from menus.i18n import Translator
from menus.trades import BY_CODE
from models import Artisan, PaymentReference, PhonePreference
from tests.helpers import Dialer

FATIMA, YOUSSEF = "+212600000001", "+212600000002"
NEWCOMER = "+212600000010"  # no artisan, not in the RNA
WAFACASH_AGENT = "+212700000001"
REFERENCE = re.compile(r"\b(\d{3})-(\d{3})-(\d{4})\b")


class Find:
    """Type the number of the item named so, paging on with `98` until it shows."""

    def __init__(self, name: Callable[[str], str]) -> None:
        self.name = name


def walk(phone: Dialer, language: str, steps: list[str | Find]) -> str:
    screen = phone.start()
    for step in steps:
        if isinstance(step, str):
            screen = phone.send(step)
            continue
        pattern = re.compile(rf"^(\d+) {re.escape(step.name(language))}$", re.MULTILINE)
        while (found := pattern.search(screen[4:])) is None:
            assert "\n98 " in screen, (step.name(language), screen)
            screen = phone.send("98")
        screen = phone.send(found.group(1))
    return screen


def region(code: str) -> Callable[[str], str]:
    return lambda language: next(area for area in cashpoints.regions() if area.code == code).name(language)


def province(code: str) -> Callable[[str], str]:
    def name(language: str) -> str:
        found = cashpoints.province(code)
        assert found is not None
        return found.name(language)

    return name


def commune(code: str) -> Callable[[str], str]:
    def name(language: str) -> str:
        found = cashpoints.commune(code)
        assert found is not None
        return found.name(language)

    return name


def trade(code: str) -> Callable[[str], str]:
    return BY_CODE[code].name


# A potter of Tiznit town: trade, region, province, commune (each found on its page), CIN,
# year of birth, then `1` to send.
REGISTRATION: list[str | Find] = [
    "5", "5", Find(trade("pottery")), Find(region("09")), Find(province("09.581")), Find(commune("09.581.01.07")),
    "ZX123456", "1990", "1",
]  # fmt: skip


# Each main task: who dials, the answers, and what the result screen shows.
TASKS: dict[str, tuple[str, list[str | Find], Callable[[Translator, str], bool]]] = {
    "status": (FATIMA, ["1"], lambda t, s: t("AMO: covered") in s and t("Paid up to {month}", month="10/2026") in s),
    "pay all due": (YOUSSEF, ["2", "1", "1", "1"], lambda t, s: REFERENCE.search(s) is not None),
    "pay 2 months": (YOUSSEF, ["2", "2", "2", "1", "1"], lambda t, s: REFERENCE.search(s) is not None),
    "find a cash point": (
        FATIMA,
        ["4", Find(region("03")), Find(province("03.231"))],
        lambda t, s: "Fellah Cash Fès Ville Nouvelle" in s,  # the first of the list
    ),
    "see a reimbursement": (FATIMA, ["3", "1"], lambda t, s: "FC-4821-7730" in s),
    "ask a call-back": (YOUSSEF, ["5", "1"], lambda t, s: s.startswith("END ")),
    "ask a bank": (YOUSSEF, ["5", "4", "2", "1"], lambda t, s: s.startswith("END ")),
    "ask registration": (
        NEWCOMER,
        [
            "5",
            "5",
            Find(trade("pottery")),
            Find(region("09")),
            Find(province("09.581")),
            Find(commune("09.581.01.07")),
            "ZX123456",
            "1990",
            "1",
        ],
        lambda t, s: s.startswith("END "),
    ),
}
# The numbers of the README's "Key presses" table: (Arabic, French).
PRESSES = {
    "status": (1, 1),
    "pay all due": (4, 4),
    "pay 2 months": (5, 5),
    "find a cash point": (4, 3),  # Arabic: the title and "1 by SMS" fill the first page
    "see a reimbursement": (2, 2),
    "ask a call-back": (2, 2),
    "ask a bank": (4, 4),
    "ask registration": (12, 12),  # the commune list of a province is long: paged
    "agent confirms": (4, 4),
}


def speak(demo: Session, phone: str, language: str) -> None:
    if phone == NEWCOMER:
        demo.add(PhonePreference(phone=phone, language=language))
    demo.execute(update(Artisan).where(Artisan.phone == phone).values(language=language))
    demo.commit()


@pytest.mark.parametrize("language", ["ar", "fr"])
@pytest.mark.parametrize("task", list(TASKS))
def test_key_presses_of_each_task(dial: type[Dialer], demo: Session, task: str, language: str) -> None:
    who, steps, reached = TASKS[task]
    speak(demo, who, language)
    phone = dial(who)
    result = walk(phone, language, steps)
    t = Translator(language)
    while not reached(t, result) and "\n98 " in result:  # the result may need its next page
        result = phone.send("98")
    assert reached(t, result), result
    assert len(phone.typed) == PRESSES[task][("ar", "fr").index(language)], phone.typed


@pytest.mark.parametrize("language", ["ar", "fr"])
def test_key_presses_of_an_agent_confirming(dial: type[Dialer], demo: Session, language: str) -> None:
    artisan = dial(YOUSSEF)
    walk(artisan, "ar", ["2", "1", "1", "1"])
    reference = demo.scalar(select(PaymentReference.reference))
    assert reference is not None
    demo.add(PhonePreference(phone=WAFACASH_AGENT, language=language))
    demo.commit()
    agent = dial(WAFACASH_AGENT)
    result = walk(agent, language, ["1234", "1", reference, "1"])
    assert Translator(language)("Payment recorded.") in result, result
    assert len(agent.typed) == PRESSES["agent confirms"][("ar", "fr").index(language)], agent.typed
