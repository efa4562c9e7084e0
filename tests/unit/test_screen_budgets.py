"""Every screen of every menu, in every language, with worst-case data, fits its budget."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from babel.messages.pofile import read_po

from gateway.ussd.adapters.africastalking import adapter as at_adapter
from gateway.ussd.service import NOT_MOROCCAN, UNAVAILABLE, UNKNOWN_CODE, bilingual
from menus.artisan import SCREENS, TRADES, Engine
from menus.engine import Context, Session
from menus.i18n import LOCALE_DIR, Translator
from menus.paging import Budget
from menus.ports import Caller, Identification, IdentifyOutcome, Ports, RegistrationStatus

BUDGETS = {"africastalking": at_adapter.budget}
LANGUAGES = ("ar", "fr")


def _longest(language: str, candidates: list[str]) -> str:
    t = Translator(language)
    return max(candidates, key=lambda message: len(t(message)))


def _longest_trade(language: str) -> str:
    return _longest(language, list(TRADES))


class WorstCaseRegistry:
    """Longest names and numbers the models allow, the widest AMO status."""

    def __init__(self, language: str, amo_status: str) -> None:
        self.language = language
        self.amo_status = amo_status

    def caller(self, phone: str) -> Caller:
        return Caller(artisan_id=1, language=self.language)

    def registration_status(self, artisan_id: int) -> RegistrationStatus:
        return RegistrationStatus(
            first_name="W" * 80,
            rna_number="9" * 32,
            rna_status="struck_off",
            trade=_longest_trade(self.language),
            amo_status=self.amo_status,
            waiting_until=dt.date(2026, 12, 1),
            months_unpaid=120,
            paid_through=dt.date(2026, 10, 1),
        )

    def identification_locked(self, phone: str) -> bool:
        return False

    def identify(self, *, phone: str, cin: str, birth_year: int, language: str) -> Identification:
        return Identification(IdentifyOutcome.MISMATCH, tries_left=2)

    def save_language(self, *, phone: str, artisan_id: int | None, language: str) -> None:
        pass

    def send_registration_help(self, *, phone: str, language: str) -> None:
        pass


def _messages(language: str) -> dict[str, str]:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle) if m.id}


def _screen_messages(language: str) -> list[str]:
    """Every translated text that can stand on a screen (SMS templates excluded)."""
    return [text for msgid, text in _messages(language).items() if not msgid.startswith("Hirfa:")]


@pytest.mark.parametrize(
    ("aggregator", "language", "screen", "amo_status"),
    [
        (aggregator, language, screen, amo)
        for aggregator, language, screen in itertools.product(BUDGETS, LANGUAGES, SCREENS)
        for amo in ("not_registered", "pre_registered", "waiting", "covered", "suspended")
    ],
)
def test_every_page_fits(aggregator: str, language: str, screen: str, amo_status: str) -> None:
    budget: Budget = BUDGETS[aggregator]
    engine = Engine(SCREENS, home="main")
    ctx = Context(
        phone="+212600000001",
        ports=Ports(registry=WorstCaseRegistry(language, amo_status)),
        budget=budget,
        today=dt.date(2026, 11, 24),
        default_language=language,
    )
    stack = [{"s": "main"}] + ([{"s": screen, "p": {"cin": "AB1234567", "next": "status"}}] if screen != "main" else [])
    session = Session({"lang": language, "aid": 1, "stack": stack, "page": 0, "err": 0})
    # The longest error and notice lines any screen may carry, together.
    longest = max(_screen_messages(language), key=len)
    for error, notice in ((None, None), (longest, None), (longest, longest)):
        pages, _final = engine.pages(ctx, session, error=error, notice=notice)
        for page in pages:
            assert budget.fits(page), f"{screen}/{language}: {budget.length(page)} > {budget.limit(page)}: {page!r}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_single_message_fits_an_end_screen(language: str) -> None:
    budget = at_adapter.budget
    for text in _screen_messages(language):
        worst = (
            text.format(n=120, month="12/2026", status="x" * 12, number="**9999", trade="x" * 28)
            if "{" in text
            else text
        )
        assert budget.fits(worst), f"{budget.length(worst)} > {budget.limit(worst)}: {worst!r}"


@pytest.mark.parametrize("message", [UNAVAILABLE, NOT_MOROCCAN, UNKNOWN_CODE])
def test_bilingual_messages_fit(message: str) -> None:
    text = bilingual(message)
    assert at_adapter.budget.fits(text), (len(text), text)
    assert Translator("ar")(message) in text and Translator("fr")(message) in text
