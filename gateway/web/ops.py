"""The operations dashboard at /ops: staff log in and see sessions, drop-off, payments,
expired references, SMS and open help requests; charts as server-drawn SVG, CSV exports.

Sessions are Flask's signed cookie (HttpOnly, SameSite=Lax, Secure in production) and
hold only the staff id, the row's session version at login, the login time, the time of
the last request, the CSRF token and the language. The staff row is read again on every
request and the session refused once its version is not the row's (logout, password
change, `flask staff disable`, a lockout: each ends every session of the member, copies
of the cookie included), after 30 minutes idle or 12 hours after login. Every
POST carries the session's CSRF token, compared in constant time: without it, 400 and
nothing changes. Pages without a login redirect to the login form; exports answer 401."""

from __future__ import annotations

import csv
import datetime as dt
import hmac
import io
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from gateway.clock import MOROCCO
from gateway.csv_records import defuse
from gateway.db import get_db, get_read_db, rollback
from gateway.help.service import HelpError, close_request, list_requests
from gateway.logs import mask_phone
from gateway.ops import charts, stats
from gateway.ops.staff import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    StaffError,
    authenticate,
    change_password,
    check_password,
    end_sessions,
    session_staff,
)
from gateway.payments.settlement import format_mad
from gateway.ratelimit import Limit
from gateway.wiring import hirfa, played_prompts
from menus.banks import BANK_NAMES
from menus.i18n import LANGUAGES, N_, Translator
from menus.networks import NETWORK_NAMES
from models import BankLead, HelpRequest, StaffMember

log = logging.getLogger(__name__)
bp = Blueprint(
    "ops",
    __name__,
    url_prefix="/ops",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

DEFAULT_LANGUAGE = "fr"  # staff read French first; Arabic is a click away
# The last-seen time in the cookie moves at most once a minute: not a Set-Cookie on
# every request, and an idle timeout a minute early at worst.
SEEN_EVERY_SECONDS = 60
PUBLIC_ENDPOINTS = frozenset({"ops.login", "ops.static"})
EXPORT_ENDPOINTS = frozenset({"ops.export", "ops_rna.export"})  # 401, not the login page
HELP_ROWS_SHOWN = 100

OUTCOME_NAMES = {
    stats.COMPLETED: N_("Success"),
    stats.INCOMPLETE: N_("Incomplete"),
    stats.FAILED: N_("Failed"),
    stats.IN_PROGRESS: N_("In progress"),
    stats.OTHER: N_("Other"),
}
SMS_NAMES = {
    "delivered": N_("Delivered"),
    "sent": N_("Sent, not yet delivered"),
    "failed": N_("Failed"),
    "waiting": N_("Waiting to be sent"),
}
HELP_KIND_NAMES = {
    "advisor_callback": N_("Advisor call-back"),
    "export_support": N_("Export support"),
    "chamber_contact": N_("Chamber of crafts contact"),
}
# The dashboard shows where sessions ended by these names, not by screen ids (every
# screen of menus.menu.SCREENS has one: tested).
SCREEN_NAMES = {
    "main": N_("Main menu"),
    "identify_cin": N_("Identification: CIN"),
    "identify_year": N_("Identification: year of birth"),
    "identify_failed": N_("Identification: no match"),
    # Retired screens, still in the 30 days of history after the release that removed them.
    "not_in_rna": N_("Not in the RNA"),
    "status": N_("Registration and AMO status"),
    "language": N_("Language and reminders"),
    "reminders_by": N_("Reminders: by call or SMS"),
    "resume": N_("Offer to resume"),
    "pay": N_("Dues"),
    "pay_months": N_("Pay: number of months"),
    "pay_network": N_("Pay: network"),
    "pay_confirm": N_("Pay: confirmation"),
    "pay_reference": N_("Pay: reference issued"),
    "pay_open_reference": N_("Open reference"),
    "reimbursements": N_("Reimbursements"),
    "reimbursement": N_("One reimbursement"),
    "help": N_("Help and services"),
    "help_done": N_("Help request recorded"),
    "bank_choose": N_("Bank account: bank"),
    "bank_consent": N_("Bank account: consent"),
    "bank_done": N_("Bank account: request recorded"),
    "cashpoints": N_("Cash points: region"),
    "cashpoints_provinces": N_("Cash points: province"),
    "cashpoints_list": N_("Cash points: list"),
    "rna_trade": N_("RNA request: trade"),
    "rna_region": N_("RNA request: region"),
    "rna_province": N_("RNA request: province"),
    "rna_commune": N_("RNA request: commune"),
    "rna_cin": N_("RNA request: CIN"),
    "rna_year": N_("RNA request: year of birth"),
    "rna_confirm": N_("RNA request: confirmation"),
    "rna_done": N_("RNA request: sent"),
    "agent_home": N_("Agent: PIN and menu"),
    "agent_confirm_reference": N_("Agent: reference to confirm"),
    "agent_check_reference": N_("Agent: reference to check"),
    "agent_confirm": N_("Agent: cash received?"),
    "agent_done": N_("Agent: payment recorded"),
    "agent_check": N_("Agent: reference checked"),
    "agent_total": N_("Agent: today's total"),
    "agent_pin_old": N_("Agent: change of PIN"),
    "agent_pin_new": N_("Agent: change of PIN"),
    "agent_pin_again": N_("Agent: change of PIN"),
    # The voice line: a call that hung up before the menus.
    stats.LANGUAGE_OFFER: N_("Voice: language offer"),
}
PROMPT_SOURCES = {"recorded": N_("Recorded"), "synthesised": N_("Synthesised")}
PERIODS = {stats.PeriodName.TODAY: N_("Today"), stats.PeriodName.LAST_30_DAYS: N_("Last 30 days")}
DATASETS = (
    "sessions",
    "drop-off",
    "payments",
    "expired-references",
    "sms",
    "help-requests",
    "bank-leads",
    "bank-leads-unfetched",
    "voice-calls",
    "voice-drop-off",
    "voice-prompts",
)
UNDATED_DATASETS = frozenset({"help-requests", "bank-leads-unfetched"})  # the rows as they stand now, not a period's


# Session, language and CSRF ----------------------------------------------------------


def language() -> str:
    lang = session.get("lang")
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _check_csrf() -> None:
    expected = session.get("csrf")
    given = request.form.get("csrf_token", "")
    if not isinstance(expected, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        log.warning("ops request refused: missing or wrong CSRF token", extra={"endpoint": request.endpoint})
        abort(400, description="Missing or wrong CSRF token.")


def _moment(value: object) -> dt.datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return dt.datetime.fromtimestamp(value, dt.UTC)


def _logged_in_staff() -> StaffMember | None:
    staff_id, version = session.get("staff_id"), session.get("version")
    started, seen = _moment(session.get("auth_at")), _moment(session.get("seen_at"))
    if not isinstance(staff_id, int) or not isinstance(version, int) or started is None or seen is None:
        return None
    now = hirfa().clock()
    staff = session_staff(get_db(), staff_id=staff_id, version=version, started=started, last_seen=seen, now=now)
    if staff is not None and (now - seen).total_seconds() >= SEEN_EVERY_SECONDS:
        session["seen_at"] = int(now.timestamp())
    return staff


def _start_session(staff: StaffMember) -> None:
    # A new session at login: whatever id or token an attacker planted before is gone.
    lang = language()
    session.clear()
    now = int(hirfa().clock().timestamp())
    session["staff_id"] = staff.id
    session["version"] = staff.session_version
    session["auth_at"] = now
    session["seen_at"] = now
    session["lang"] = lang
    csrf_token()


def _end_session() -> None:
    lang = language()
    session.clear()
    session["lang"] = lang


@bp.before_request
def guard() -> BaseResponse | None:
    if request.endpoint == "ops.static":
        return None
    wanted = request.args.get("lang")
    if wanted in LANGUAGES:
        session["lang"] = wanted
    if request.method == "POST":
        _check_csrf()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    staff = _logged_in_staff()
    if staff is None:
        if session.get("staff_id") is not None:
            _end_session()
        if request.endpoint in EXPORT_ENDPOINTS:
            abort(401)
        return redirect(url_for("ops.login"))
    g.staff = staff
    return None


@bp.after_request
def secure_headers(response: Response) -> Response:
    if request.endpoint != "ops.static":
        response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    return response


@bp.context_processor
def template_helpers() -> dict[str, Any]:
    lang = language()
    return {
        "t": Translator(lang),
        "lang": lang,
        "text_dir": "rtl" if lang == "ar" else "ltr",
        "csrf_token": csrf_token,
        "staff": g.get("staff"),
    }


# Login and logout --------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int]:
    if request.method == "GET":
        if _logged_in_staff() is not None:
            return redirect(url_for("ops.dashboard"))
        return render_template("ops/login.html", error=None), 200
    username = request.form.get("username", "")[:80]
    password = request.form.get("password", "")
    app = hirfa()
    # Per address, on top of each account's lockout: guessing across accounts costs too.
    if app.limiter.exceeded("login", request.remote_addr or "unknown", Limit(app.settings.logins_per_ip_per_minute)):
        t = Translator(language())
        return render_template(
            "ops/login.html", error=t(N_("Too many attempts. Wait a minute.")), username=username
        ), 429
    db = get_db()
    staff = authenticate(db, username=username, password=password, clock=hirfa().clock)
    db.commit()
    if staff is None:
        t = Translator(language())
        return render_template("ops/login.html", error=t(N_("Wrong username or password.")), username=username), 401
    _start_session(staff)
    return redirect(url_for("ops.dashboard"), code=303)


@bp.post("/logout")
def logout() -> BaseResponse:
    # Every session of the member ends, not only this cookie: a copy of it taken before
    # (another tab, another machine, a thief) is refused from now on.
    db = get_db()
    end_sessions(db, staff_id=g.staff.id)
    db.commit()
    log.info("staff logout", extra={"staff": g.staff.username})
    _end_session()
    return redirect(url_for("ops.login"), code=303)


def _password_page(error: str | None, status: int) -> tuple[str, int]:
    page = render_template(
        "ops/password.html", error=error, min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH
    )
    return page, status


@bp.route("/password", methods=["GET", "POST"])
def password() -> BaseResponse | tuple[str, int]:
    """The member changes their own password. Every session of theirs ends; this browser
    is logged in again on the new version (the member just proved the password)."""
    if request.method == "GET":
        return _password_page(None, 200)
    t = Translator(language())
    new = request.form.get("new_password", "")
    if new != request.form.get("new_password_again", ""):
        return _password_page(t(N_("The two new passwords differ.")), 400)
    try:
        check_password(new)
    except StaffError:
        # The form's maxlength keeps browsers under MAX_PASSWORD_LENGTH: the text names the minimum.
        error = t(N_("A password has {n} characters or more, not only spaces."), n=MIN_PASSWORD_LENGTH)
        return _password_page(error, 400)
    db = get_db()
    try:
        staff = change_password(
            db,
            staff=g.staff,
            current_password=request.form.get("current_password", ""),
            new_password=new,
            clock=hirfa().clock,
        )
    except StaffError:
        db.commit()  # the wrong password counts toward the lockout
        if _logged_in_staff() is None:  # that was the fifth: every session ended, this one too
            _end_session()
            return redirect(url_for("ops.login"), code=303)
        return _password_page(t(N_("Wrong current password.")), 401)
    db.commit()
    _start_session(staff)
    flash(t(N_("Password changed. Your other sessions have ended.")), "ok")
    return redirect(url_for("ops.dashboard"), code=303)


# Dashboard ---------------------------------------------------------------------------


def _period_name() -> stats.PeriodName:
    try:
        return stats.PeriodName(request.args.get("period", stats.PeriodName.LAST_30_DAYS.value))
    except ValueError:
        return stats.PeriodName.LAST_30_DAYS


def _labels(p: stats.Period) -> list[str]:
    return [p.label(i) for i in range(len(p.buckets))]


def _series(breakdown: stats.Breakdown, names: Mapping[str, str], t: Translator) -> list[charts.Series]:
    return [
        charts.Series(name=t(names.get(category, category)), values=breakdown.values[category])
        for category in breakdown.categories
    ]


def _dirhams(centimes: int) -> str:
    return str(centimes // 100)


@dataclass(frozen=True)
class Chart:
    ident: str
    title: str
    svg: Markup
    dataset: str  # the CSV export of its figures


def build_charts(figures: stats.Dashboard, t: Translator) -> list[Chart]:
    p = figures.period
    labels = _labels(p)
    every = 3  # a label every third bar: 24 hours or 30 days fit the width
    empty = t(N_("Nothing in this period."))

    def bars(ident: str, title: str, dataset: str, series: list[charts.Series], **options: Any) -> Chart:
        svg = charts.stacked_bars(
            ident=ident, title=title, labels=labels, series=series, empty_text=empty, label_every=every, **options
        )
        # charts.py escapes every text it draws.
        return Chart(ident, title, Markup(svg), dataset)  # noqa: S704

    def screens(ident: str, title: str, rows: tuple[stats.DropOff, ...]) -> Chart:
        items = [(t(SCREEN_NAMES.get(row.screen, row.screen)), row.sessions) for row in rows]
        svg = charts.horizontal_bars(ident=ident, title=title, items=items, empty_text=empty)
        return Chart(ident, title, Markup(svg), ident)  # noqa: S704  charts.py escapes its texts

    return [
        bars("sessions", t(N_("USSD sessions by outcome")), "sessions", _series(figures.sessions, OUTCOME_NAMES, t)),
        screens("drop-off", t(N_("Where unsuccessful sessions ended (screen)")), figures.drop_off),
        bars(
            "payments-count",
            t(N_("Payments by network (number)")),
            "payments",
            _series(figures.payments.count, NETWORK_NAMES, t),
        ),
        bars(
            "payments-amount",
            t(N_("Payments by network (MAD)")),
            "payments",
            _series(figures.payments.amount_centimes, NETWORK_NAMES, t),
            value_format=t.money,
            axis_format=_dirhams,
        ),
        bars(
            "expired",
            t(N_("References expired unpaid")),
            "expired-references",
            _series(figures.expired_references, {"expired": N_("Expired unpaid")}, t),
        ),
        bars("sms", t(N_("SMS by state")), "sms", _series(figures.sms, SMS_NAMES, t)),
        bars(
            "voice-calls",
            t(N_("Voice calls by outcome")),
            "voice-calls",
            _series(figures.voice_calls, OUTCOME_NAMES, t),
        ),
        screens("voice-drop-off", t(N_("Where unsuccessful voice calls ended (screen)")), figures.voice_drop_off),
        bars(
            "voice-prompts",
            t(N_("Voice prompts played: recorded or synthesised")),
            "voice-prompts",
            _series(figures.voice_prompts, PROMPT_SOURCES, t),
        ),
    ]


def bank_leads_chart(p: stats.Period, leads: stats.Breakdown, t: Translator) -> Chart:
    title = t(N_("Bank-account requests by bank"))
    svg = charts.stacked_bars(
        ident="bank-leads",
        title=title,
        labels=_labels(p),
        series=_series(leads, BANK_NAMES, t),
        empty_text=t(N_("Nothing in this period.")),
        label_every=3,
    )
    return Chart("bank-leads", title, Markup(svg), "bank-leads")  # noqa: S704  charts.py escapes its texts


def _local(moment: dt.datetime) -> str:
    return f"{moment.astimezone(MOROCCO):%Y-%m-%d %H:%M}"


@bp.get("/")
def dashboard() -> str:
    name = _period_name()
    figures_db = get_read_db()  # a standby when DATABASE_READ_URL is set: the figures may lag
    figures = stats.dashboard(
        figures_db, name=name, now=hirfa().clock(), session_ttl=_session_ttl(), played=played_prompts()
    )
    t = Translator(language())
    requests = list_requests(get_db(), status="open")
    now = hirfa().clock()
    leads = stats.bank_leads(figures_db, figures.period)
    oldest = stats.oldest_open_lead(figures_db)
    unfetched = stats.unfetched_leads(figures_db, now=now)
    registrations = stats.registration_requests(figures_db, now)
    return render_template(
        "ops/dashboard.html",
        period=name,
        periods=PERIODS,
        figures=figures,
        charts=build_charts(figures, t),
        help_rows=[_help_row(req, phone, t) for req, phone in requests[:HELP_ROWS_SHOWN]],
        help_total=len(requests),
        money=t.money,
        bank_chart=bank_leads_chart(figures.period, leads, t),
        bank_totals=[(t(BANK_NAMES[bank]), leads.total(bank)) for bank in leads.categories],
        oldest_lead_days=None if oldest is None else (now - oldest).days,
        unfetched_rows=[_lead_row(lead, phone, now, t) for lead, phone in unfetched[:HELP_ROWS_SHOWN]],
        unfetched_total=len(unfetched),
        registrations=registrations,
        now=now,
    )


def _lead_row(lead: BankLead, phone: str, now: dt.datetime, t: Translator) -> dict[str, Any]:
    return {
        "id": lead.id,
        "bank": t(BANK_NAMES.get(lead.bank, lead.bank)),
        "phone": mask_phone(phone) if phone else "-",
        "created": _local(lead.created_at),
        "days": (now - lead.created_at).days,
    }


def _help_row(req: HelpRequest, phone: str, t: Translator) -> dict[str, Any]:
    return {
        "id": req.id,
        "kind": t(HELP_KIND_NAMES.get(req.kind, req.kind)),
        "phone": mask_phone(phone) if phone else "-",
        "created": _local(req.created_at),
    }


@bp.post("/help/<int:request_id>/close")
def close_help(request_id: int) -> BaseResponse:
    t = Translator(language())
    db = get_db()
    try:
        close_request(db, request_id=request_id, by=g.staff.username, clock=hirfa().clock)
    except HelpError:
        rollback()
        flash(t(N_("This request is closed already, or does not exist.")), "error")
    else:
        db.commit()
        log.info("help request closed from the dashboard", extra={"staff": g.staff.username, "request": request_id})
        flash(t(N_("Help request {number} closed."), number=request_id), "ok")
    period = request.form.get("period", "")
    target = url_for("ops.dashboard", period=period) if period in {p.value for p in stats.PeriodName} else None
    return redirect((target or url_for("ops.dashboard")) + "#help", code=303)


# CSV exports -------------------------------------------------------------------------


def _csv(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([defuse(cell) for cell in row])
    return Response(
        buffer.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _per_bucket(p: stats.Period, breakdown: stats.Breakdown) -> list[tuple[object, ...]]:
    return [
        (p.iso(i), category, breakdown.values[category][i])
        for i in range(len(p.buckets))
        for category in breakdown.categories
    ]


def _session_ttl() -> dt.timedelta:
    return dt.timedelta(seconds=hirfa().settings.session_ttl_seconds)


def _export_rows(dataset: str, p: stats.Period) -> tuple[list[str], list[Sequence[object]]]:
    db = get_read_db()
    ttl = _session_ttl()
    start = "hour" if p.hourly else "day"
    exports: dict[str, Callable[[], tuple[list[str], list[Sequence[object]]]]] = {
        "sessions": lambda: (
            [start, "outcome", "sessions"],
            list(_per_bucket(p, stats.session_outcomes(db, p, session_ttl=ttl))),
        ),
        "drop-off": lambda: (
            ["last_screen", "screen_name", "sessions"],
            [
                (row.screen, SCREEN_NAMES.get(row.screen, row.screen), row.sessions)
                for row in stats.drop_off(db, p, session_ttl=ttl)
            ],
        ),
        "payments": lambda: _payments_rows(p, stats.payments(db, p), start),
        "expired-references": lambda: (
            [start, "expired_unpaid"],
            [(p.iso(i), n) for i, n in enumerate(stats.expired_references(db, p).values["expired"])],
        ),
        "sms": lambda: ([start, "state", "messages"], list(_per_bucket(p, stats.sms(db, p)))),
        "voice-calls": lambda: (
            [start, "outcome", "calls"],
            list(_per_bucket(p, stats.session_outcomes(db, p, session_ttl=ttl, voice=True))),
        ),
        "voice-drop-off": lambda: (
            ["last_screen", "screen_name", "calls"],
            [
                (row.screen, SCREEN_NAMES.get(row.screen, row.screen), row.sessions)
                for row in stats.drop_off(db, p, session_ttl=ttl, voice=True)
            ],
        ),
        "voice-prompts": lambda: (
            [start, "source", "prompts"],
            list(_per_bucket(p, stats.voice_prompts(played_prompts(), p))),
        ),
        "help-requests": lambda: (
            ["id", "kind", "phone", "created_morocco_time", "status"],
            [
                (req.id, req.kind, mask_phone(phone) if phone else "", _local(req.created_at), req.status)
                for req, phone in list_requests(db, status="open")
            ],
        ),
        "bank-leads": lambda: ([start, "bank", "requests"], list(_per_bucket(p, stats.bank_leads(db, p)))),
        "bank-leads-unfetched": lambda: (
            ["id", "bank", "phone", "created_morocco_time", "status"],
            [
                (lead.id, lead.bank, mask_phone(phone) if phone else "", _local(lead.created_at), lead.status)
                for lead, phone in stats.unfetched_leads(db, now=p.now)
            ],
        ),
    }
    return exports[dataset]()


def _payments_rows(p: stats.Period, figures: stats.Payments, start: str) -> tuple[list[str], list[Sequence[object]]]:
    rows: list[Sequence[object]] = [
        (p.iso(i), network, figures.count.values[network][i], format_mad(figures.amount_centimes.values[network][i]))
        for i in range(len(p.buckets))
        for network in figures.count.categories
    ]
    return [start, "network", "payments", "amount_mad"], rows


@bp.get("/export/<dataset>.csv")
def export(dataset: str) -> Response:
    if dataset not in DATASETS:
        abort(404)
    name = _period_name()
    p = stats.period(name, hirfa().clock())
    header, rows = _export_rows(dataset, p)
    log.info("ops export", extra={"staff": g.staff.username, "dataset": dataset, "period": name.value})
    suffix = "" if dataset in UNDATED_DATASETS else f"-{name.value}-{p.iso(len(p.buckets) - 1)[:10]}"
    return _csv(f"hirfa-{dataset}{suffix}.csv", header, rows)
