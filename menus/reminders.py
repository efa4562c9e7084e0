"""How the reminders come (option 6, then 5): by SMS (the default) or by a voice call.

A call brings the monthly dues reminder and "your reimbursement is ready" to an artisan
who cannot read (gateway/voice/calls.py); an SMS still comes when nobody answers it."""

from __future__ import annotations

from menus.engine import Context, Home, Invalid, Screen, Session, Step, View
from menus.i18n import N_, Translator

CHANNELS = {"1": "voice", "2": "sms"}
NOW = {
    "voice": N_("Reminders by voice call: on"),
    "sms": N_("Reminders by voice call: off"),
}
SAVED = {
    "voice": N_("Your reminders will come by voice call."),
    "sms": N_("Your reminders will come by SMS."),
}


class RemindersBy:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        current = ctx.ports.registry.reminders_by(session.artisan_id or 0) or "sms"
        return View([t(NOW[current])], actions=[t("1 By voice call"), t("2 By SMS")])

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        channel = CHANNELS.get(value)
        if channel is None or session.artisan_id is None:
            return Invalid()
        ctx.ports.registry.set_reminders_by(artisan_id=session.artisan_id, channel=channel)
        return Home(notice=t(SAVED[channel]))


SCREENS: dict[str, Screen] = {"reminders_by": RemindersBy()}
