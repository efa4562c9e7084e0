"""Option 2, pay AMO: dues, number of months, network, confirmation, the reference."""

from __future__ import annotations

from menus.engine import Choice, Context, Go, Home, Invalid, Screen, Session, Step, View
from menus.i18n import N_, Translator
from menus.networks import NETWORK_NAMES, NETWORK_OPTIONS
from menus.ports import ReferenceInfo, Refused

MAX_MONTHS = 12

REFUSALS = {
    "nothing_due": N_("Nothing is due."),
    "not_registered": N_("You are not registered for AMO yet."),
    "invalid_months": N_("Choose 1 to 12 months."),
    "invalid_reference": N_("Wrong reference: check the 10 digits."),
    "reference_not_found": N_("Unknown reference for your network."),
    "reference_paid": N_("This reference is already paid."),
    "reference_expired": N_("This reference has expired."),
    "reference_cancelled": N_("This reference was cancelled."),
    "months_already_paid": N_("These months are already paid."),
    "amount_mismatch": N_("The amount does not match."),
}


def refusal(code: str) -> str:
    return REFUSALS.get(code, N_("This cannot be done now."))


def reference_lines(info: ReferenceInfo, t: Translator) -> list[str]:
    return [
        t("Reference: {reference}", reference=t.reference(info.reference)),
        t("Amount: {amount}", amount=t.money(info.amount_centimes)),
        t("Pay at {network} before {when}", network=t(NETWORK_NAMES[info.network]), when=t.moment(info.expires_at)),
    ]


class Dues:
    """The render keeps the choices it offered in the screen's params, so that the
    answer is checked against what the artisan saw, without reading it all again
    (the next screens check afresh: a quote, a reference)."""

    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        dues = ctx.ports.payments.dues(session.artisan_id or 0)
        session.params["offered"] = offered = []
        if not dues.registered:
            return View([t("You are not registered for AMO yet."), t("Ask your chamber of crafts.")])
        offered.append("2")
        lines: list[str] = []
        actions: list[str] = []
        if dues.months:
            first, last = dues.months[0], dues.months[-1]
            span = t.month_span(first, last)
            lines.append(t("Total: {amount}", amount=t.money(dues.total_centimes)))
            lines.append(t("Due: {n} months ({months})", n=len(dues.months), months=span))
            actions.append(t("1 Pay all due"))
            offered.append("1")
        else:
            lines.append(t("Nothing is due."))
        lines.append(t("Monthly: {amount}", amount=t.money(dues.monthly_centimes)))
        actions.append(t("2 Choose the months"))
        if dues.open_reference is not None:
            actions.append(t("3 My open reference"))
            session.params["open"] = dues.open_reference.id
            offered.append("3")
        return View(lines, actions=actions)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if value not in session.params.get("offered", ()):
            return Invalid()
        if value == "1":
            return Go("pay_network", {"count": None})
        if value == "2":
            return Go("pay_months")
        return Go("pay_open_reference", {"id": session.params["open"]})


class Months:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View([t("How many months? (1 to 12)"), t("Due months first, then months ahead.")], typed=True)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_MONTHS):
            return Invalid(N_("Choose 1 to 12 months."))
        return Go("pay_network", {"count": int(value)})


class Network:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View(
            [t("Where will you pay?")],
            actions=[Choice(key, t(NETWORK_NAMES[name])) for key, name in NETWORK_OPTIONS.items()],
        )

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        network = NETWORK_OPTIONS.get(value)
        if network is None:
            return Invalid()
        return Go("pay_confirm", {"count": session.params.get("count"), "network": network})


class Confirm:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        try:
            quote = ctx.ports.payments.quote(session.artisan_id or 0, session.params.get("count"))
        except Refused as refused:
            return View([t(refusal(refused.code))])
        network = NETWORK_NAMES[session.params["network"]]
        return View(
            [
                t("{n} months: {months}", n=quote.month_count, months=t.months(quote.first_month, quote.month_count)),
                t("Total: {amount}", amount=t.money(quote.total_centimes)),
                t("At {network}", network=t(network)),
            ],
            actions=[t("1 Get the payment reference")],
        )

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if value != "1":
            return Invalid()
        try:
            info, reused = ctx.ports.payments.request_reference(
                artisan_id=session.artisan_id or 0,
                count=session.params.get("count"),
                network=session.params["network"],
            )
        except Refused as refused:
            return Invalid(refusal(refused.code))
        # The result is final: nobody goes back past a money step to do it twice.
        return Go("pay_reference", {"reused": reused, "id": info.id}, replace=True)


class ReferenceIssued:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        info = ctx.ports.payments.reference_of(artisan_id=session.artisan_id or 0, reference_id=session.params["id"])
        if info is None:
            return View([t("This cannot be done now.")], final=True)
        lines = [t("You already had this reference.")] if session.params.get("reused") else []
        return View([*lines, *reference_lines(info, t), t("Sent to you by SMS.")], final=True)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        return Invalid()


class OpenReference:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        info = ctx.ports.payments.reference_of(artisan_id=session.artisan_id or 0, reference_id=session.params["id"])
        if info is None or info.state != "open":
            return View([t("You have no open reference.")])
        return View(reference_lines(info, t), actions=[t("1 Cancel this reference")])

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        info = ctx.ports.payments.reference_of(artisan_id=session.artisan_id or 0, reference_id=session.params["id"])
        if value != "1" or info is None or info.state != "open":
            return Invalid()
        cancelled = ctx.ports.payments.cancel_reference(artisan_id=session.artisan_id or 0, reference_id=info.id)
        return Home(notice=t("Reference cancelled.") if cancelled else t("This cannot be done now."))


SCREENS: dict[str, Screen] = {
    "pay": Dues(),
    "pay_months": Months(),
    "pay_network": Network(),
    "pay_confirm": Confirm(),
    "pay_reference": ReferenceIssued(),
    "pay_open_reference": OpenReference(),
}
