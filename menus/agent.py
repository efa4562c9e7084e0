"""The cash-point agent's menu: PIN once per session, then confirm, check, total, PIN.

No PIN is ever kept between hops: the typed PIN is checked in the hop it arrives in,
and a new PIN waits for its confirmation only as a keyed mark (`Agents.prepare_pin`)."""

from __future__ import annotations

from menus.engine import Context, End, Go, Home, Invalid, Screen, Session, Step, View
from menus.i18n import N_, Translator
from menus.payments import refusal
from menus.ports import AgentInfo, PinOutcome, Refused

LOCKED = N_("Your agent access is locked. Ask Hirfa staff to unlock it.")
PIN_FORMAT = N_("A PIN is 4 to 6 digits.")
STATES = {
    "open": N_("open"),
    "paid": N_("paid"),
    "cancelled": N_("cancelled"),
    "expired": N_("expired"),
}


def _agent(ctx: Context, session: Session) -> AgentInfo | None:
    return ctx.ports.agents.agent(int(session.data["agent"]))


def _digits(value: str) -> bool:
    """A PIN is typed in digits: anything else is a slip to show again, not a wrong PIN
    (it can never match, so not counting it gives a guesser nothing)."""
    return value.isascii() and value.isdigit()


class AgentHome:
    OPTIONS = (N_("1 Confirm a payment"), N_("2 Check a reference"), N_("3 Today's total"), N_("4 Change PIN"))

    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        if session.data.get("pin_ok"):
            return View([t("Hirfa agent")], actions=[t(option) for option in self.OPTIONS])
        agent = _agent(ctx, session)
        if agent is None or agent.locked:
            return View([t(LOCKED)], final=True)
        return View([t("Hirfa agent {code}", code=agent.code), t("Enter your PIN:")], typed=True)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if not session.data.get("pin_ok"):
            if not _digits(value):
                return Invalid(PIN_FORMAT)
            outcome, tries_left = ctx.ports.agents.check_pin(int(session.data["agent"]), value)
            if outcome is PinOutcome.OK:
                session.data["pin_ok"] = True
                return Home()
            if outcome is PinOutcome.LOCKED:
                return End([t(LOCKED)])
            return Invalid(t("Wrong PIN. Tries left: {n}", n=tries_left))
        targets = {
            "1": "agent_confirm_reference",
            "2": "agent_check_reference",
            "3": "agent_total",
            "4": "agent_pin_old",
        }
        if value in targets:
            return Go(targets[value])
        return Invalid()


class AskReference:
    def __init__(self, next_screen: str) -> None:
        self.next_screen = next_screen

    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View([t("Reference (10 digits):")], typed=True)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        agent = _agent(ctx, session)
        if agent is None:
            return End([t(LOCKED)])
        try:
            info = ctx.ports.payments.look_up(value, network=agent.network)
        except Refused as refused:
            return Invalid(refusal(refused.code))
        if self.next_screen == "agent_confirm" and info.state != "open":
            return Invalid(refusal(f"reference_{info.state}"))
        return Go(self.next_screen, {"reference": info.reference})


class ConfirmCash:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        agent = _agent(ctx, session)
        if agent is None:
            return View([t(LOCKED)], final=True)
        try:
            info = ctx.ports.payments.look_up(session.params["reference"], network=agent.network)
        except Refused as refused:
            return View([t(refusal(refused.code))])
        return View(
            [
                t.data(info.artisan_name),
                t("{n} months: {months}", n=info.month_count, months=t.months(info.first_month, info.month_count)),
                t("Amount: {amount}", amount=t.money(info.amount_centimes)),
            ],
            actions=[t("1 Cash received")],
        )

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if value != "1":
            return Invalid()
        try:
            receipt = ctx.ports.payments.confirm_cash(
                agent_id=int(session.data["agent"]), typed=session.params["reference"]
            )
        except Refused as refused:
            return End([t(refusal(refused.code))])
        return Go("agent_done", {"receipt": receipt}, replace=True)


class PaymentRecorded:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        receipt = session.params["receipt"]
        return View(
            [
                t("Payment recorded."),
                t("Receipt: {receipt}", receipt=t.reference(receipt)),
                t("SMS sent to the artisan."),
            ],
            final=True,
        )

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        return Invalid()


class CheckReference:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        agent = _agent(ctx, session)
        if agent is None:
            return View([t(LOCKED)], final=True)
        try:
            info = ctx.ports.payments.look_up(session.params["reference"], network=agent.network)
        except Refused as refused:
            return View([t(refusal(refused.code))])
        return View(
            [
                t.keep_order(t.reference(info.reference)) + " " + t(STATES.get(info.state, info.state)),
                t.data(info.artisan_name),
                t("{n} months: {months}", n=info.month_count, months=t.months(info.first_month, info.month_count)),
                t("Amount: {amount}", amount=t.money(info.amount_centimes)),
            ]
        )

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        return Invalid()


class TodayTotal:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        count, centimes = ctx.ports.payments.today_total(int(session.data["agent"]))
        return View([t("Today: {n} payments", n=count), t("Total: {amount}", amount=t.money(centimes))])

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        return Invalid()


class PinOld:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View([t("Current PIN:")], typed=True)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if not _digits(value):
            return Invalid(PIN_FORMAT)
        outcome, tries_left = ctx.ports.agents.check_pin(int(session.data["agent"]), value)
        if outcome is PinOutcome.LOCKED:
            return End([t(LOCKED)])
        if outcome is PinOutcome.WRONG:
            return Invalid(t("Wrong PIN. Tries left: {n}", n=tries_left))
        return Go("agent_pin_new", replace=True)


class PinNew:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View([t("New PIN (4 to 6 digits):")], typed=True)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        pin_mark = ctx.ports.agents.prepare_pin(value)
        if pin_mark is None:
            return Invalid(PIN_FORMAT)
        return Go("agent_pin_again", {"mark": pin_mark}, replace=True)


class PinAgain:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View([t("Type the new PIN again:")], typed=True)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        changed = ctx.ports.agents.set_pin(
            agent_id=int(session.data["agent"]), pin_mark=session.params.get("mark", ""), typed_again=value
        )
        if not changed:
            return Go("agent_pin_new", replace=True, notice=t("The two PINs differ. Start again."))
        return Home(notice=t("PIN changed."))


SCREENS: dict[str, Screen] = {
    "agent_home": AgentHome(),
    "agent_confirm_reference": AskReference("agent_confirm"),
    "agent_check_reference": AskReference("agent_check"),
    "agent_confirm": ConfirmCash(),
    "agent_done": PaymentRecorded(),
    "agent_check": CheckReference(),
    "agent_total": TodayTotal(),
    "agent_pin_old": PinOld(),
    "agent_pin_new": PinNew(),
    "agent_pin_again": PinAgain(),
}
