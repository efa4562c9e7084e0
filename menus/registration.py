"""Asking to be registered in the RNA: trade, region, province, commune, CIN, year of
birth, then a last screen that repeats the request and `1` sends it to the chamber of
crafts of the region. Offered on the failed-identification screen (where a first-time
caller lands after "1 My registration") and in option 5 (help and services)."""

from __future__ import annotations

from menus.cashpoints import Provinces, Regions, chosen, numbered
from menus.engine import Choice, Context, End, Go, Invalid, Screen, Session, Step, View
from menus.i18n import N_, Translator
from menus.ports import Place, RequestOutcome
from menus.trades import TRADES, trade_name
from menus.typed import mask_tail, read_birth_year, read_cin, read_day, store_day

LIMITED = N_("You have made too many registration requests today. Please try again tomorrow.")
ALREADY_OPEN = N_("You already have an open registration request, since {when}. Your chamber of crafts will call you.")


def start_request(ctx: Context, session: Session, t: Translator) -> Step:
    """The way in: refused politely over the tries limit or with a request open already."""
    desk = ctx.ports.registrations
    if desk.limited(ctx.phone):
        return End([t(LIMITED)])
    since = desk.open_since(ctx.phone)
    if since is not None:
        return End([t(ALREADY_OPEN, when=t.day(since))])
    return Go("rna_trade")


def _trades(language: str) -> list[Place]:
    return [Place(trade.code, trade.name(language)) for trade in TRADES]


class Trade:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View([t("Registration in the RNA: your trade"), *numbered(_trades(session.written), t)])

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        trade = chosen(_trades(session.written), value)
        if trade is None:
            return Invalid()
        return Go("rna_region", {"trade": trade.code})


class Commune:
    def _communes(self, ctx: Context, session: Session) -> list[Place]:
        province = str(session.params["province"])
        return ctx.ports.registrations.communes(province_code=province, language=session.written)

    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View([t("Choose your commune"), *numbered(self._communes(ctx, session), t)])

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        commune = chosen(self._communes(ctx, session), value)
        if commune is None:
            return Invalid()
        return Go("rna_cin", {**session.params, "commune": commune.code})


class Cin:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View([t("Enter your CIN number (e.g. AB123456):")], typed=True)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        cin = read_cin(value)
        if cin is None:
            return Invalid(N_("A CIN is 1 or 2 letters then digits."))
        # Each CIN typed here counts against the phone (a refusal for a CIN with an open
        # request must not become a way to test CINs), and waits sealed, never in clear.
        sealed = ctx.ports.registrations.seal_cin(phone=ctx.phone, cin=cin)
        if sealed is None:
            return End([t(LIMITED)])
        return Go("rna_year", {**session.params, "cin": sealed})


class Year:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View([t("Enter your year of birth (e.g. 1980):")], typed=True)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        year = read_birth_year(value, ctx.today)
        if year is None:
            return Invalid(N_("Enter 4 digits, e.g. 1980."))
        return Go("rna_confirm", {**session.params, "year": year})


class Confirm:
    """What will be sent, with `1` first: the choice stands on the first page."""

    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        params, desk = session.params, ctx.ports.registrations
        commune = desk.commune_name(commune_code=str(params["commune"]), language=session.written)
        cin = desk.reveal_cin(str(params["cin"]))
        if cin is None:
            return View([t("This session took too long. Please dial again.")], final=True)
        return View(
            [
                Choice("1", t("Send my registration request")),
                t("Trade: {trade}", trade=trade_name(str(params["trade"]), session.written)),
                t("Commune: {commune}", commune=commune or str(params["commune"])),
                # The CIN's last digits only: the screen's text is kept in the session
                # record (to answer a retried hop), which must not hold the CIN.
                t("CIN: {cin}, born in {year}", cin=mask_tail(cin), year=params["year"]),
            ]
        )

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if value != "1":
            return Invalid()
        params = session.params
        answer = ctx.ports.registrations.submit(
            phone=ctx.phone,
            trade=str(params["trade"]),
            commune_code=str(params["commune"]),
            sealed_cin=str(params["cin"]),
            birth_year=int(params["year"]),
            language=session.written,
        )
        if answer.outcome is RequestOutcome.EXPIRED:
            return End([t("This session took too long. Please dial again.")])
        since = store_day(answer.since) if answer.since else None
        return Go("rna_done", {"number": answer.number, "since": since})


class Done:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        since = read_day(str(session.params.get("since") or ""))
        if since:
            return View([t(ALREADY_OPEN, when=t.day(since))], final=True)
        number = session.params.get("number", "")
        return View(
            [t("Request {number} sent to the chamber of crafts of your region. You will get an SMS.", number=number)],
            final=True,
        )

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        return Invalid()


SCREENS: dict[str, Screen] = {
    "rna_trade": Trade(),
    "rna_region": Regions(N_("Choose your region"), "rna_province"),
    "rna_province": Provinces("rna_commune"),
    "rna_commune": Commune(),
    "rna_cin": Cin(),
    "rna_year": Year(),
    "rna_confirm": Confirm(),
    "rna_done": Done(),
}
# Screens that hold the sealed CIN or come after the request was stored: never resumed.
NO_RESUME = frozenset({"rna_cin", "rna_year", "rna_confirm", "rna_done"})
