"""Option 5, line 4 (a bank account) dialed over AT's protocol: the bank, what is shared,
the consent stored with its version and time, the SMS, one open request per bank."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from menus.banks import BANK_NAMES, CONSENT, CONSENT_VERSION
from menus.i18n import Translator
from models import BankLead, OutboxMessage
from tests.helpers import Dialer, FrozenClock

FATIMA, AICHA = "+212600000001", "+212600000003"


def ask(dial: type[Dialer], phone_number: str, bank_choice: str) -> Dialer:
    phone = dial(phone_number)
    phone.start()
    phone.send("5", "4", bank_choice)
    return phone


@pytest.mark.parametrize(("phone_number", "language"), [(FATIMA, "ar"), (AICHA, "fr")])
@pytest.mark.parametrize(("choice", "bank"), [("1", "cam"), ("2", "awb")])
def test_a_bank_account_request_with_consent(
    dial: type[Dialer], demo: Session, clock: FrozenClock, phone_number: str, language: str, choice: str, bank: str
) -> None:
    t = Translator(language)
    name = t(BANK_NAMES[bank])
    phone = dial(phone_number)
    phone.start()
    menu = phone.send("5")
    if t("4 A bank account") not in menu:  # on the next page (Arabic pages hold 80 characters)
        assert "\n98 " in menu
        menu = phone.send("98")
    assert t("4 A bank account") in menu
    banks = phone.send("4")
    assert t(BANK_NAMES["cam"]) in banks and t(BANK_NAMES["awb"]) in banks
    consent = phone.send(choice)
    # What is shared, with whom, and the agreement: on the first page.
    assert consent.startswith("CON ") and t(CONSENT, bank=name) in consent and "1 " + t("I agree") in consent
    assert demo.scalar(select(func.count()).select_from(BankLead)) == 0  # nothing before the agreement
    done = phone.send("1")
    assert done == "END " + t("Recorded. {bank} will contact you. You will get an SMS.", bank=name)
    lead = demo.scalar(select(BankLead))
    assert lead is not None
    assert (lead.bank, lead.status, lead.consent_version) == (bank, "new", CONSENT_VERSION)
    assert lead.consented_at == clock() and lead.first_fetched_at is None
    sms = demo.scalar(select(OutboxMessage).where(OutboxMessage.recipient == phone_number))
    assert sms is not None and sms.template == "bank_lead" and sms.language == language and sms.segments <= 2
    assert name in sms.body


def test_back_from_the_consent_stores_nothing(dial: type[Dialer], demo: Session) -> None:
    phone = ask(dial, AICHA, "2")
    back = phone.send("0")
    assert Translator("fr")("A bank account: choose the bank") in back
    assert demo.scalar(select(func.count()).select_from(BankLead)) == 0
    assert phone.send("9").startswith("CON ")  # a wrong answer: the screen again, nothing stored
    assert demo.scalar(select(func.count()).select_from(BankLead)) == 0


def test_asking_the_same_bank_again_shows_the_date(dial: type[Dialer], demo: Session, clock: FrozenClock) -> None:
    ask(dial, AICHA, "2").send("1")
    clock.advance(days=3)
    again = ask(dial, AICHA, "2")
    expected = Translator("fr")("You already asked {bank} on {when}.", bank="Attijariwafa bank", when="24/11/2026")
    assert again.send("1") == "END " + expected
    assert demo.scalar(select(func.count()).select_from(BankLead)) == 1
    assert demo.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    ask(dial, AICHA, "1").send("1")  # the other bank is another request
    assert demo.scalar(select(func.count()).select_from(BankLead)) == 2
