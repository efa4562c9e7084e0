"""Option 3, my reimbursements: the latest claims, one claim's details, the pick-up SMS again."""

from __future__ import annotations

from menus.engine import Choice, Context, Go, Invalid, Screen, Session, Step, View
from menus.i18n import N_, Translator
from menus.networks import NETWORK_NAMES
from menus.ports import ClaimInfo, ResendOutcome

# The list is numbered from 1: ten claims keep clear of 0, 00 and 98, and of long lists.
MAX_LISTED = 10

STATUS_LABELS = {
    "received": N_("received"),
    "in_review": N_("in review"),
    "approved": N_("approved"),
    "available": N_("ready to collect"),
    "paid_out": N_("paid out"),
    "rejected": N_("rejected"),
}

RESEND_NOTICES = {
    ResendOutcome.SENT: N_("The pick-up code was sent again by SMS."),
    ResendOutcome.LIMIT: N_("Already sent 3 times today. Try again tomorrow."),
    ResendOutcome.NOT_AVAILABLE: N_("This cannot be done now."),
}


def status_label(status: str, t: Translator) -> str:
    return t(STATUS_LABELS[status]) if status in STATUS_LABELS else status


def can_resend(claim: ClaimInfo, ctx: Context) -> bool:
    # Not while the code is withheld: the SMS could not carry it either.
    available = claim.status == "available" and claim.code_from is None
    return available and claim.available_until is not None and claim.available_until >= ctx.today


def claim_label(claim: ClaimInfo, t: Translator) -> str:
    return f"{t.day(claim.date, year=False)} {t.money(claim.amount_centimes)} {status_label(claim.status, t)}"


class Claims:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        claims = ctx.ports.reimbursements.claims(session.artisan_id or 0, limit=MAX_LISTED)
        if not claims:
            return View([t("Reimbursements of medical costs"), t("You have no claims yet.")])
        # A short title: in Arabic, the official name of the service would fill the first page alone.
        return View(
            [
                t("Choose a claim:"),
                *(Choice(str(number), claim_label(claim, t)) for number, claim in enumerate(claims, start=1)),
            ]
        )

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if not (value.isascii() and value.isdigit()):
            return Invalid()
        claims = ctx.ports.reimbursements.claims(session.artisan_id or 0, limit=MAX_LISTED)
        if not 1 <= int(value) <= len(claims):
            return Invalid()
        return Go("reimbursement", {"id": claims[int(value) - 1].id})


class Claim:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        claim = ctx.ports.reimbursements.claim(artisan_id=session.artisan_id or 0, claim_id=session.params["id"])
        if claim is None:
            return View([t("This cannot be done now.")])
        # What the caller came for leads (the code to collect, else the status); the
        # claim's number, for a call to the paying body, comes last.
        lines = [
            t("Status: {status}", status=status_label(claim.status, t)),
            t("Amount: {amount}", amount=t.money(claim.amount_centimes)),
        ]
        actions: list[str] = []
        if claim.status == "available" and claim.network is not None:
            if claim.code_from is not None:
                # A phone newly linked by identification: the code waits (RELINK_COOLDOWN_HOURS).
                lines.insert(0, t("Pick-up code shown from {when}", when=t.moment(claim.code_from)))
            else:
                lines.insert(0, t("Pick-up code: {code}", code=t.reference(claim.pick_up_code or "")))
            lines.append(t("At {network}", network=t(NETWORK_NAMES.get(claim.network, claim.network))))
            if claim.available_until is not None:
                lines.append(t("Valid until {when}", when=t.day(claim.available_until)))
            if can_resend(claim, ctx):
                actions.append(t("1 Send the code again by SMS"))
        if claim.status == "rejected" and claim.reason:
            # The reason comes as the paying body wrote it: data, not a text of ours.
            label = t("Reason:")
            lines.append(f"{label} {t.data(claim.reason)}")
        lines.append(t("Claim no. {number}", number=t.reference(claim.claim_number)))
        return View(lines, actions=actions)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if value != "1":
            return Invalid()
        artisan_id, claim_id = session.artisan_id or 0, session.params["id"]
        claim = ctx.ports.reimbursements.claim(artisan_id=artisan_id, claim_id=claim_id)
        if claim is None or not can_resend(claim, ctx):
            return Invalid()
        outcome = ctx.ports.reimbursements.resend_pick_up(artisan_id=artisan_id, claim_id=claim_id)
        # The same screen again, under a line saying what happened.
        return Go("reimbursement", {"id": claim_id}, replace=True, notice=t(RESEND_NOTICES[outcome]))


SCREENS: dict[str, Screen] = {
    "reimbursements": Claims(),
    "reimbursement": Claim(),
}
