"""The artisan's menu (option numbers are a contract: see docs/product.md)."""

from __future__ import annotations

from menus.engine import Choice, Context, End, Go, Home, Invalid, Resume, Screen, Session, Step, View
from menus.i18n import N_, Translator
from menus.languages import language
from menus.ports import IdentifyOutcome, RegistrationStatus, TypedCin
from menus.registration import start_request
from menus.trades import trade_name
from menus.typed import mask_tail, read_birth_year, read_cin

LANGUAGE_SAVED = N_("Language saved.")
LOCKED = N_("Identification is locked for 24 hours after 3 failed tries. Please try again later.")

RNA_STATUSES = {
    "registered": N_("registered"),
    "pending": N_("being processed"),
    "struck_off": N_("struck off"),
}


class MainMenu:
    OPTIONS = (
        N_("1 My registration"),
        N_("2 Pay AMO"),
        N_("3 My reimbursements"),
        N_("4 Cash points"),
        N_("5 Help and services"),
        N_("6 Language"),
    )

    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View([t("Hirfa - AMO for artisans")], actions=[t(option) for option in self.OPTIONS])

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if value == "1":
            return identified(ctx, session, "status", t)
        if value == "2":
            return identified(ctx, session, "pay", t)
        if value == "3":
            return identified(ctx, session, "reimbursements", t)
        if value == "4":
            return Go("cashpoints")
        if value == "5":
            # Open to a phone not linked yet: it may ask to be registered in the RNA there.
            return Go("help")
        if value == "6":
            return Go("language")
        return Invalid()


def identified(ctx: Context, session: Session, target: str, t: Translator) -> Step:
    """Go to `target` when the phone is linked; else identify first."""
    if session.artisan_id is not None:
        return Go(target)
    if ctx.ports.registry.identification_locked(ctx.phone):
        return End([t(LOCKED)])
    return Go("identify_cin", {"next": target})


class IdentifyCin:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View([t("Your phone is not linked yet."), t("Enter your CIN number (e.g. AB123456):")], typed=True)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        cin = read_cin(value)
        if cin is None:
            return Invalid(N_("A CIN is 1 or 2 letters then digits."))
        # Only the CIN's keyed digest and the artisan it names wait for the next hop
        # (the session lives in Redis): see menus.ports.TypedCin.
        typed = ctx.ports.registry.typed_cin(cin)
        params = {"cin": typed.digest, "aid": typed.artisan_id, "next": session.params.get("next", "status")}
        return Go("identify_year", params)


class IdentifyYear:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View([t("Enter your year of birth (e.g. 1980):")], typed=True)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        year = read_birth_year(value, ctx.today)
        if year is None:
            return Invalid(N_("Enter 4 digits, e.g. 1980."))
        next_screen = str(session.params.get("next", "status"))
        cin = TypedCin(digest=str(session.params["cin"]), artisan_id=session.params.get("aid"))
        result = ctx.ports.registry.identify(phone=ctx.phone, cin=cin, birth_year=year, language=session.written)
        if result.outcome is IdentifyOutcome.MATCHED:
            session.artisan_id = result.artisan_id
            session.data["stack"] = [session.stack[0]]
            return Go(next_screen, notice=t("Your phone is now linked to your file."))
        if result.outcome is IdentifyOutcome.NOT_MATCHED and result.tries_left > 0:
            # One answer whether the CIN is unknown or the year wrong: it must not tell
            # a prober which CINs are in the register.
            return Go("identify_failed", {"next": next_screen, "left": result.tries_left}, replace=True)
        return End([t(LOCKED)])


class IdentifyFailed:
    """The one answer to a failed try: try again, learn how to join the RNA, or ask to be
    registered (an unknown CIN and a wrong year get the same offer: issue 11). A first-time
    caller lands here after "1 My registration", so the request is offered where they are."""

    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View(
            [t("No file matches this CIN and year of birth. Tries left: {n}", n=session.params["left"])],
            actions=[t("1 Try again"), t("2 How to register in the RNA (SMS)"), t("3 Ask to be registered in the RNA")],
        )

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if value == "1":
            next_screen = session.params.get("next", "status")
            session.stack.pop()  # back over this answer to the CIN screen, not on top of it
            return Go("identify_cin", {"next": next_screen}, replace=True)
        if value == "2":
            ctx.ports.registry.send_registration_help(phone=ctx.phone, language=session.written)
            return End([t("We will send you an SMS. Thank you.")])
        if value == "3":
            return start_request(ctx, session, t)
        return Invalid()


class Status:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        status = ctx.ports.registry.registration_status(session.artisan_id or 0)
        if status is None:
            return View([t("Your file could not be found. Please dial again.")], final=True)
        # What the caller dialed for comes first: the AMO status and the month paid up to;
        # the register's details follow (on the next page in Arabic).
        lines = [amo_line(status, t)]
        if status.paid_through:
            lines.append(t("Paid up to {month}", month=t.month(status.paid_through.year, status.paid_through.month)))
        if status.months_due:
            lines.append(t("Due: {n} months, {amount}", n=status.months_due, amount=t.money(status.total_due_centimes)))
        lines += [
            t(
                "RNA: {status} no. {number}",
                status=t(RNA_STATUSES.get(status.rna_status, status.rna_status)),
                number=mask_tail(status.rna_number),
            ),
            t("Trade: {trade}", trade=trade_name(status.trade, session.written)),
        ]
        return View(lines, actions=[t("1 Pay now")])

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if value == "1":
            return Go("pay")
        return Invalid()


def amo_line(status: RegistrationStatus, t: Translator) -> str:
    amo_status = status.amo_status
    if amo_status == "waiting" and status.waiting_until:
        until = t.month(status.waiting_until.year, status.waiting_until.month)
        return t("AMO: waiting period until {month}", month=until)
    if amo_status == "suspended":
        return t("AMO: suspended, {n} months unpaid", n=status.months_unpaid)
    labels = {
        "not_registered": N_("AMO: not registered"),
        "pre_registered": N_("AMO: pre-registered"),
        "covered": N_("AMO: covered"),
    }
    return t(labels.get(amo_status, N_("AMO: not registered")))


class ResumeOffer:
    """The first screen after a session was cut off mid-flow (see Engine.resume_point)."""

    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View(
            [t("Your last session was cut off.")], actions=[t("1 Continue where you stopped"), t("2 Main menu")]
        )

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if value == "1":
            return Resume()
        if value == "2":
            return Home()
        return Invalid()


class Language:
    """The languages of the channel in use (menus/locale/languages.toml), numbered from 1,
    then the SMS reminders (on screens: 3 and 4)."""

    def _choices(self, ctx: Context) -> dict[str, str]:
        return {str(number): code for number, code in enumerate(ctx.offered, start=1)}

    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        # Each language is named (and on the voice line announced) in itself.
        actions: list[str | Choice] = [
            Choice(key, language(code).name, language=code) for key, code in self._choices(ctx).items()
        ]
        if session.artisan_id is not None:
            stop, get, calls = len(actions) + 1, len(actions) + 2, len(actions) + 3
            actions += [Choice(str(stop), t("Stop SMS reminders")), Choice(str(get), t("Get SMS reminders"))]
            actions.append(Choice(str(calls), t("Reminders by voice call")))  # menus/reminders.py
        return View([], actions=actions)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        choices = self._choices(ctx)
        reminders = {str(len(choices) + 1): False, str(len(choices) + 2): True}
        if value in reminders and session.artisan_id is not None:
            ctx.ports.registry.set_reminders(artisan_id=session.artisan_id, wanted=reminders[value])
            return Home(notice=t("Reminders on.") if reminders[value] else t("Reminders stopped."))
        if value == str(len(choices) + 3) and session.artisan_id is not None:
            return Go("reminders_by")
        code = choices.get(value)
        if code is None:
            return Invalid()
        session.language = code
        # What is stored is the screen language: a caller who chose Darija reads Arabic.
        ctx.ports.registry.save_language(phone=ctx.phone, artisan_id=session.artisan_id, language=session.written)
        return Home(notice=ctx.translator(code)(LANGUAGE_SAVED))


SCREENS: dict[str, Screen] = {
    "main": MainMenu(),
    "identify_cin": IdentifyCin(),
    "identify_year": IdentifyYear(),
    "identify_failed": IdentifyFailed(),
    "status": Status(),
    "language": Language(),
    "resume": ResumeOffer(),
}
