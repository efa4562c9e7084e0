"""Option 5, line 4: a bank account. The artisan chooses the bank, reads what is shared
with it, and agrees; the bank then contacts them (the conventions' account offers)."""

from __future__ import annotations

from menus.engine import Choice, Context, Go, Invalid, Screen, Session, Step, View
from menus.i18n import N_, Translator
from menus.typed import read_day, store_day

BANK_OPTIONS = {"1": "cam", "2": "awb"}
# models/banks.py BANKS lists the same codes (the models may not import the menus).
BANK_NAMES = {"cam": N_("Crédit Agricole du Maroc"), "awb": N_("Attijariwafa bank")}

# The consent shown, and its version, stored with each request: change the text, change
# the version, so that what every artisan agreed to can be told.
CONSENT = N_("{bank} will get your name, phone, CIN and commune.")
CONSENT_VERSION = "bank-consent-v1"


def _bank(session: Session) -> str:
    bank = str(session.params.get("bank", "cam"))
    return bank if bank in BANK_NAMES else "cam"


class ChooseBank:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        options = [Choice(number, t(BANK_NAMES[bank])) for number, bank in BANK_OPTIONS.items()]
        return View([t("A bank account: choose the bank"), *options])

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        bank = BANK_OPTIONS.get(value)
        if bank is None:
            return Invalid()
        return Go("bank_consent", {"bank": bank})


class Consent:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        # What is shared comes before the agreement, on one page (tested in both languages).
        return View([t(CONSENT, bank=t(BANK_NAMES[_bank(session)])), Choice("1", t("I agree"))])

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if value != "1" or session.artisan_id is None:
            return Invalid()
        bank = _bank(session)
        answer = ctx.ports.banks.request(artisan_id=session.artisan_id, bank=bank, consent_version=CONSENT_VERSION)
        # The outcome travels in the params: showing a page again must not ask twice.
        since = None if answer.created else store_day(answer.since)
        return Go("bank_done", {"bank": bank, "since": since})


class BankDone:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        name = t(BANK_NAMES[_bank(session)])
        since = read_day(str(session.params.get("since") or ""))
        if since:
            return View([t("You already asked {bank} on {when}.", bank=name, when=t.day(since))], final=True)
        return View([t("Recorded. {bank} will contact you. You will get an SMS.", bank=name)], final=True)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        return Invalid()


SCREENS: dict[str, Screen] = {
    "bank_choose": ChooseBank(),
    "bank_consent": Consent(),
    "bank_done": BankDone(),
}
