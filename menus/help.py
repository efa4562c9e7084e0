"""Option 5, help and services: a call-back from Dar Al Moukawil, export support, the chamber's
contact, a bank account (menus/banks.py)."""

from __future__ import annotations

from menus.artisan import identified
from menus.engine import Context, Go, Invalid, Screen, Session, Step, View
from menus.i18n import N_, Translator
from menus.registration import start_request
from menus.typed import read_day, store_day

KINDS = {"1": "advisor_callback", "2": "export_support", "3": "chamber_contact"}

DONE = {
    "advisor_callback": N_("Recorded. An advisor of Dar Al Moukawil will call you back. You will get an SMS."),
    "export_support": N_("Your export support request is recorded. You will get an SMS."),
    "chamber_contact": N_("We will send you the contact of your chamber of crafts by SMS."),
}


class HelpMenu:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        # No title: the caller just chose "5 Help" and the Arabic page holds 80 characters.
        return View(
            [],
            actions=[
                t("1 An advisor (Dar Al Moukawil) calls me back"),
                t("2 Export support"),
                t("3 My chamber of crafts by SMS"),
                t("4 A bank account"),
                t("5 Register in the RNA"),
            ],
        )

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if value == "4":
            return Go("bank_choose")
        if value == "5":
            return start_request(ctx, session, t)
        kind = KINDS.get(value)
        if kind is None:
            return Invalid()
        if session.artisan_id is None:
            # The menu is open to phones not linked yet (for 5); a request needs the file.
            return identified(ctx, session, "help", t)
        answer = ctx.ports.help.request(artisan_id=session.artisan_id, kind=kind)
        # The outcome travels in the params: showing a page again must not ask twice.
        since = None if answer.created else store_day(answer.since)
        return Go("help_done", {"kind": kind, "since": since})


class HelpDone:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        since = read_day(str(session.params.get("since") or ""))
        if since:
            return View(
                [t("You already have an open request of this kind, since {when}.", when=t.day(since))], final=True
            )
        kind = str(session.params.get("kind", "advisor_callback"))
        return View([t(DONE.get(kind, DONE["advisor_callback"]))], final=True)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        return Invalid()


SCREENS: dict[str, Screen] = {
    "help": HelpMenu(),
    "help_done": HelpDone(),
}
