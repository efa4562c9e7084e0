"""The operations dashboard at /ops: login, CSRF, figures from rows made here, SVG
charts, CSV exports and closing help requests, over the Flask client on PostgreSQL."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import itertools
import re
import threading
import wave
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

from gateway.banks.service import request_lead
from gateway.config import Settings
from gateway.db import get_db
from gateway.demo import DEMO_STAFF, load_demo_staff
from gateway.help.service import request_help
from gateway.ops import stats
from gateway.ops.staff import create_staff
from gateway.voice.audio import PromptAudio
from gateway.voice.speech import Clip
from gateway.web.ops import SCREEN_NAMES
from gateway.wiring import AUDIO_EXTENSION
from menus.i18n import Translator
from menus.menu import SCREENS
from models import (
    Agent,
    Artisan,
    BankLead,
    HelpRequest,
    OutboxMessage,
    Payment,
    PaymentReference,
    StaffMember,
    UssdSessionOutcome,
)
from tests.conftest import CALLBACK_KEY
from tests.helpers import PRODUCTION_SECRETS, Dialer, FrozenClock
from tests.voice_calls import Call

PASSWORD = "correct horse battery"
TTL = dt.timedelta(seconds=300)
UTC = dt.UTC
FR = Translator("fr")  # staff pages are in French unless they ask otherwise
HOSTILE_SCREEN = '=HYPERLINK("http://x")<script>'
_serial = itertools.count(1)


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None, html
    return match.group(1)


@pytest.fixture
def staff(db_session: Session, clock: FrozenClock) -> StaffMember:
    member = create_staff(db_session, username="samira", password=PASSWORD, clock=clock)
    db_session.commit()
    return member


def log_in(client: FlaskClient, username: str = "samira", password: str = PASSWORD) -> str:
    """Log in through the form; returns the CSRF token of the new session."""
    token = csrf(client.get("/ops/login").get_data(as_text=True))
    response = client.post("/ops/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/ops/")
    return csrf(client.get("/ops/").get_data(as_text=True))


@pytest.fixture
def logged_in(client: FlaskClient, staff: StaffMember) -> str:
    return log_in(client)


# Rows behind the figures ---------------------------------------------------------------


def outcome(db: Session, status: str, received_at: dt.datetime, screen: str | None = None) -> None:
    """A session reported by the aggregator, as Hirfa and the report wrote it: a reported
    Success is a session that reached our END."""
    db.add(
        UssdSessionOutcome(
            aggregator="africastalking",
            session_id=f"ATUid_{next(_serial)}",
            phone="+212600000001",
            service_code="*4242#",
            network_code="60401",
            started_at=received_at,
            last_hop_at=received_at,
            ended_at=received_at if status == "Success" else None,
            status=status,
            last_screen=screen,
            received_at=received_at,
        )
    )


def reference(
    db: Session, network: str, amount: int, *, status: str = "paid", expires_at: dt.datetime | None = None
) -> PaymentReference:
    artisan = db.scalar(select(Artisan).where(Artisan.phone == "+212600000002"))
    assert artisan is not None
    row = PaymentReference(
        reference=f"{9_000_000_000 + next(_serial)}",
        artisan_id=artisan.id,
        network=network,
        first_month=dt.date(2026, 9, 1),
        month_count=1,
        amount_centimes=amount,
        status=status,
        created_at=at(20, 9),
        expires_at=expires_at or at(27, 9),
    )
    db.add(row)
    db.flush()
    return row


def payment(db: Session, network: str, amount: int, paid_at: dt.datetime, *, reversed_: bool = False) -> None:
    ref = reference(db, network, amount)
    agent = db.scalar(select(Agent).where(Agent.network == network))
    assert agent is not None
    db.add(
        Payment(
            reference_id=ref.id,
            receipt_number=f"R{next(_serial):09d}",
            artisan_id=ref.artisan_id,
            network=network,
            amount_centimes=amount,
            channel="ussd",
            agent_id=agent.id,
            agent_code=agent.agent_code,
            paid_at=paid_at,
            created_at=paid_at,  # recorded as it was paid: the business day is the record's
            reversed_at=paid_at + dt.timedelta(hours=1) if reversed_ else None,
        )
    )


def sms(db: Session, state: str, created_at: dt.datetime) -> None:
    db.add(
        OutboxMessage(
            recipient="+212600000001",
            language="fr",
            template="payment_reference",
            body="...",
            segments=1,
            encoding="gsm7",
            state=state,
            created_at=created_at,
        )
    )


@pytest.fixture
def activity(demo: Session) -> Session:
    """A known month of activity. The clock says 2026-11-24 10:00 UTC, 11:00 in Morocco."""
    db = demo
    db.execute(delete(OutboxMessage))  # nothing but ours in the SMS figures
    # Today (24/11, Morocco time), including 00:30 Morocco time, which is still 23/11 in UTC.
    for status, screen in [
        ("Success", "menu.main"),
        ("Success", None),
        ("Incomplete", "pay.network"),
        ("Incomplete", "pay.network"),
        ("Failed", "pay.network"),
        ("Incomplete", "cashpoints.province"),
        ("Failed", HOSTILE_SCREEN),
    ]:
        outcome(db, status, at(24, 9), screen)
    outcome(db, "Success", at(23, 23, 30))
    # Yesterday.
    outcome(db, "Success", at(23, 12), "menu.main")
    outcome(db, "Incomplete", at(23, 12), None)
    outcome(db, "Weird", at(23, 12), "menu.main")
    # 26/10 00:00 Morocco time is the first moment of the 30 days; a minute before is out.
    outcome(db, "Success", at(25, 23, 0, month=10))
    outcome(db, "Failed", at(25, 22, 59, month=10), "pay.network")

    payment(db, "wafacash", 13_500, at(24, 8))
    payment(db, "wafacash", 13_500, at(24, 9))
    payment(db, "wafacash", 27_000, at(23, 10))
    payment(db, "fellah_cash", 40_500, at(24, 9, 30))
    payment(db, "fellah_cash", 13_500, at(22, 15))
    payment(db, "fellah_cash", 99_900, at(24, 9), reversed_=True)  # reversed: not counted

    reference(db, "wafacash", 13_500, status="open", expires_at=at(23, 8))  # expired unpaid
    reference(db, "fellah_cash", 13_500, status="open", expires_at=at(24, 12))  # not yet expired
    reference(db, "wafacash", 13_500, status="cancelled", expires_at=at(23, 8))

    for state in ("delivered", "delivered", "sent", "failed", "pending", "sending"):
        sms(db, state, at(24, 7))
    sms(db, "delivered", at(21, 7))
    db.commit()
    return db


def day_index(p: stats.Period, day: int, month: int = 11) -> int:
    return [b.local_start.date() for b in p.buckets].index(dt.date(2026, month, day))


# Figures -------------------------------------------------------------------------------


def test_figures_of_the_last_30_days(activity: Session, clock: FrozenClock) -> None:
    figures = stats.dashboard(activity, name=stats.PeriodName.LAST_30_DAYS, now=clock(), session_ttl=TTL)
    p = figures.period
    assert len(p.buckets) == 30
    assert p.buckets[0].local_start.date() == dt.date(2026, 10, 26)
    assert p.buckets[-1].local_start.date() == dt.date(2026, 11, 24)
    assert p.start == at(25, 23, month=10)  # midnight in Morocco is 23:00 UTC

    today, yesterday, first = day_index(p, 24), day_index(p, 23), day_index(p, 26, month=10)
    sessions = figures.sessions
    assert sessions.categories == ("completed", "incomplete", "failed", "in_progress", "other")
    assert sessions.values["completed"][today] == 3
    assert sessions.values["incomplete"][today] == 3
    assert sessions.values["failed"][today] == 2
    assert sessions.values["completed"][yesterday] == 1
    assert sessions.values["incomplete"][yesterday] == 1
    assert sessions.values["other"][yesterday] == 1
    assert sessions.values["completed"][first] == 1
    assert sessions.total() == 12 and sessions.total("failed") == 2

    assert [(d.screen, d.sessions) for d in figures.drop_off] == [
        ("pay.network", 3),
        (HOSTILE_SCREEN, 1),
        ("cashpoints.province", 1),
        ("menu.main", 1),
        ("unknown", 1),
    ]

    count, amount = figures.payments.count, figures.payments.amount_centimes
    assert count.categories == ("wafacash", "fellah_cash")
    assert count.values["wafacash"][today] == 2 and amount.values["wafacash"][today] == 27_000
    assert count.values["wafacash"][yesterday] == 1 and amount.values["wafacash"][yesterday] == 27_000
    assert count.values["fellah_cash"][today] == 1 and amount.values["fellah_cash"][today] == 40_500
    assert amount.values["fellah_cash"][day_index(p, 22)] == 13_500
    assert count.total() == 5 and amount.total() == 108_000

    assert figures.expired_references.values["expired"][yesterday] == 1
    assert figures.expired_references.total() == 1

    assert figures.sms.categories == ("delivered", "sent", "failed", "waiting")
    assert [figures.sms.values[c][today] for c in figures.sms.categories] == [2, 1, 1, 2]
    assert figures.sms.values["delivered"][day_index(p, 21)] == 1


def test_figures_of_today_by_hour(activity: Session, clock: FrozenClock) -> None:
    figures = stats.dashboard(activity, name=stats.PeriodName.TODAY, now=clock(), session_ttl=TTL)
    p = figures.period
    assert len(p.buckets) == 24 and p.label(0) == "00h" and p.label(10) == "10h"
    assert figures.sessions.values["completed"][0] == 1  # 00:30 Morocco time
    assert figures.sessions.values["completed"][10] == 2  # 10:00 Morocco time
    assert figures.sessions.total() == 8
    assert figures.payments.count.total() == 3  # yesterday's are out
    assert figures.payments.amount_centimes.values["wafacash"][9] == 13_500
    assert figures.expired_references.total() == 0  # expired yesterday
    assert [d.screen for d in figures.drop_off][:1] == ["pay.network"]


def test_the_30_day_figures_take_a_fixed_number_of_statements(activity: Session, clock: FrozenClock) -> None:
    statements: list[str] = []
    engine = activity.get_bind().engine

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        stats.dashboard(activity, name=stats.PeriodName.LAST_30_DAYS, now=clock(), session_ttl=TTL)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    queries = [s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE"))]
    assert len(queries) == 7, queries  # one per figure, whatever the number of days or rows
    assert all("GROUP BY" in s for s in queries)


def test_periods_follow_morocco_time_when_clocks_move() -> None:
    # Ramadan 2027: Morocco goes back to UTC+0 for a month; the days stay whole days.
    p = stats.period(stats.PeriodName.LAST_30_DAYS, at(15, 12, month=2).replace(year=2027))
    assert all(b.local_start.time() == dt.time(0) for b in p.buckets)
    longer = [b.local_start.date() for b in p.buckets if b.end - b.start == dt.timedelta(hours=25)]
    assert longer == [dt.date(2027, 2, 7)]  # the night clocks go back
    assert all(a.end == b.start for a, b in itertools.pairwise(p.buckets))
    that_day = stats.period(stats.PeriodName.TODAY, dt.datetime(2027, 2, 7, 12, tzinfo=UTC))
    assert len(that_day.buckets) == 25 and that_day.end - that_day.start == dt.timedelta(hours=25)


def test_every_screen_has_a_name_on_the_drop_off_chart() -> None:
    """A new screen without a name would show as its bare id where sessions ended."""
    assert set(SCREENS) <= set(SCREEN_NAMES), sorted(set(SCREENS) - set(SCREEN_NAMES))


# Login, sessions, CSRF ---------------------------------------------------------------


def test_pages_and_exports_are_refused_without_login(client: FlaskClient, staff: StaffMember) -> None:
    page = client.get("/ops/")
    assert page.status_code == 302 and page.headers["Location"].endswith("/ops/login")
    assert client.get("/ops/?period=today").status_code == 302
    assert client.get("/ops/export/sessions.csv").status_code == 401
    assert client.get("/ops/export/help-requests.csv").status_code == 401
    login = client.get("/ops/login")
    assert login.status_code == 200 and "text/html" in login.content_type
    assert 'name="password" type="password"' in login.get_data(as_text=True)


def test_login_and_logout(client: FlaskClient, staff: StaffMember, db_session: Session, clock: FrozenClock) -> None:
    token = csrf(client.get("/ops/login").get_data(as_text=True))
    response = client.post("/ops/login", data={"username": "samira", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/ops/")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    new_token = csrf(page.get_data(as_text=True))
    assert new_token != token  # a new session at login
    db_session.expire_all()
    assert db_session.get(StaffMember, staff.id).last_login_at == clock()  # type: ignore[union-attr]

    assert client.post("/ops/logout", data={}).status_code == 400  # no token: still logged in
    assert client.get("/ops/").status_code == 200
    out = client.post("/ops/logout", data={"csrf_token": new_token})
    assert out.status_code == 303 and out.headers["Location"].endswith("/ops/login")
    assert client.get("/ops/").status_code == 302


def test_unknown_user_and_wrong_password_get_the_same_page(client: FlaskClient, staff: StaffMember) -> None:
    bodies = []
    for username, password in (("samira", "not the password"), ("nobody", PASSWORD)):
        token = csrf(client.get("/ops/login").get_data(as_text=True))
        response = client.post("/ops/login", data={"username": username, "password": password, "csrf_token": token})
        assert response.status_code == 401
        bodies.append(response.get_data(as_text=True).replace(username, "USER"))
        assert client.get("/ops/").status_code == 302
    assert bodies[0] == bodies[1]
    assert 'role="alert"' in bodies[0]


def test_five_wrong_passwords_lock_the_account(
    client: FlaskClient, staff: StaffMember, db_session: Session, clock: FrozenClock
) -> None:
    token = csrf(client.get("/ops/login").get_data(as_text=True))
    for _ in range(5):
        wrong = client.post("/ops/login", data={"username": "samira", "password": "wrong one", "csrf_token": token})
        assert wrong.status_code == 401
    right = client.post("/ops/login", data={"username": "samira", "password": PASSWORD, "csrf_token": token})
    assert right.status_code == 401  # locked, same answer
    db_session.expire_all()
    assert db_session.get(StaffMember, staff.id).locked_until == clock() + dt.timedelta(minutes=15)  # type: ignore[union-attr]
    clock.advance(minutes=15)
    assert (
        client.post("/ops/login", data={"username": "samira", "password": PASSWORD, "csrf_token": token}).status_code
        == 303
    )


def test_a_post_without_the_right_csrf_token_changes_nothing(
    client: FlaskClient, staff: StaffMember, db_session: Session
) -> None:
    client.get("/ops/login")
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
        response = client.post("/ops/login", data={"username": "samira", "password": "wrong", **data})
        assert response.status_code == 400
    db_session.expire_all()
    assert db_session.get(StaffMember, staff.id).failed_logins == 0  # type: ignore[union-attr]
    # Another browser's token is no good either.
    other = csrf(client.application.test_client().get("/ops/login").get_data(as_text=True))
    forged = client.post("/ops/login", data={"username": "samira", "password": PASSWORD, "csrf_token": other})
    assert forged.status_code == 400


@pytest.mark.parametrize("how", ["disable", "delete"])
def test_a_live_session_ends_with_its_account(
    client: FlaskClient, logged_in: str, staff: StaffMember, db_session: Session, how: str
) -> None:
    assert client.get("/ops/").status_code == 200
    rows = StaffMember.__table__
    if how == "disable":
        db_session.execute(update(rows).where(rows.c.id == staff.id).values(active=False))
    else:
        db_session.execute(delete(rows).where(rows.c.id == staff.id))
    db_session.commit()
    assert client.get("/ops/").status_code == 302
    assert client.get("/ops/export/sms.csv").status_code == 401


def test_a_session_lasts_twelve_hours_however_busy(client: FlaskClient, logged_in: str, clock: FrozenClock) -> None:
    for _ in range(28):  # a request every 25 minutes: never idle
        clock.advance(minutes=25)
        assert client.get("/ops/").status_code == 200
    clock.advance(minutes=19)  # 11:59 after the login
    assert client.get("/ops/").status_code == 200
    clock.advance(minutes=2)
    assert client.get("/ops/").status_code == 302
    assert client.get("/ops/export/sms.csv").status_code == 401


def test_a_session_ends_after_30_idle_minutes(client: FlaskClient, logged_in: str, clock: FrozenClock) -> None:
    clock.advance(minutes=30)
    assert client.get("/ops/").status_code == 200  # 30 minutes idle: still in
    clock.advance(minutes=29, seconds=59)
    assert client.get("/ops/").status_code == 200  # idle time runs from the last request
    clock.advance(minutes=30, seconds=1)
    page = client.get("/ops/")
    assert page.status_code == 302 and page.headers["Location"].endswith("/ops/login")
    clock.advance(seconds=1)
    assert client.get("/ops/export/help-requests.csv").status_code == 401


def test_the_last_request_time_is_written_at_most_once_a_minute(
    client: FlaskClient, logged_in: str, clock: FrozenClock
) -> None:
    clock.advance(seconds=59)
    assert "Set-Cookie" not in client.get("/ops/").headers
    clock.advance(seconds=1)
    assert "Set-Cookie" in client.get("/ops/").headers
    clock.advance(seconds=30)
    assert "Set-Cookie" not in client.get("/ops/").headers
    # The request at 1:30 did not move it: idle time counts from 1:00 (a session ends at
    # worst a minute early), and 30 minutes after that it is still in.
    clock.advance(minutes=29, seconds=30)
    assert client.get("/ops/").status_code == 200


def copy_of(client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of `client`'s session cookie."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    other = client.application.test_client()
    other.set_cookie("session", cookie.value)
    return other


def test_a_cookie_copied_before_logout_is_refused_after_it(
    client: FlaskClient, activity: Session, logged_in: str, clock: FrozenClock
) -> None:
    fatima = activity.scalar(select(Artisan).where(Artisan.phone == "+212600000001"))
    assert fatima is not None
    request, _ = request_help(
        activity, artisan_id=fatima.id, kind="advisor_callback", clock=clock, default_language="ar"
    )
    activity.commit()
    assert copy_of(client).get("/ops/").status_code == 200  # a copy works while the session lives
    stolen = client.get_cookie("session")
    assert client.post("/ops/logout", data={"csrf_token": logged_in}).status_code == 303

    def replay() -> FlaskClient:
        other = client.application.test_client()
        other.set_cookie("session", stolen.value)  # type: ignore[union-attr]
        return other

    page = replay().get("/ops/")
    assert page.status_code == 302 and page.headers["Location"].endswith("/ops/login")
    for dataset in ("payments", "help-requests"):
        export = replay().get(f"/ops/export/{dataset}.csv")
        assert export.status_code == 401 and "wafacash" not in export.get_data(as_text=True)
    close = replay().post(f"/ops/help/{request.id}/close", data={"csrf_token": logged_in})
    assert close.status_code == 302 and close.headers["Location"].endswith("/ops/login")
    activity.expire_all()
    assert activity.get(HelpRequest, request.id).status == "open"  # type: ignore[union-attr]
    assert replay().get("/ops/password").status_code == 302
    assert replay().get("/ops/login").status_code == 200  # the login form, not a redirect inside


def test_logout_ends_every_session_of_the_member_only(
    client: FlaskClient, staff: StaffMember, db_session: Session, clock: FrozenClock
) -> None:
    create_staff(db_session, username="karim", password=PASSWORD, clock=clock)
    db_session.commit()
    token = log_in(client)
    laptop = client.application.test_client()
    log_in(laptop)
    colleague = client.application.test_client()
    log_in(colleague, "karim")
    client.post("/ops/logout", data={"csrf_token": token})
    assert laptop.get("/ops/").status_code == 302  # samira's other session
    assert colleague.get("/ops/").status_code == 200  # karim's is his own
    log_in(client)  # and samira can log in again
    assert client.get("/ops/").status_code == 200


def test_a_lockout_ends_the_members_sessions(client: FlaskClient, logged_in: str) -> None:
    guesser = client.application.test_client()
    token = csrf(guesser.get("/ops/login").get_data(as_text=True))
    for attempt in range(5):
        assert client.get("/ops/").status_code == 200, attempt  # until the fifth wrong password
        form = {"username": "samira", "password": f"guess number {attempt}", "csrf_token": token}
        assert guesser.post("/ops/login", data=form).status_code == 401
    assert client.get("/ops/").status_code == 302


def test_flask_staff_disable_and_set_password_end_the_sessions(
    app: Flask, client: FlaskClient, logged_in: str, staff: StaffMember, db_session: Session
) -> None:
    runner = app.test_cli_runner()
    copy = copy_of(client)
    new = "a brand new passphrase"
    result = runner.invoke(args=["staff", "set-password", "samira"], input=f"{new}\n{new}\n")
    assert result.exit_code == 0, result.output
    assert client.get("/ops/").status_code == 302 and copy.get("/ops/").status_code == 302
    token = csrf(client.get("/ops/login").get_data(as_text=True))
    old = client.post("/ops/login", data={"username": "samira", "password": PASSWORD, "csrf_token": token})
    assert old.status_code == 401
    log_in(client, password=new)
    assert client.get("/ops/").status_code == 200
    assert runner.invoke(args=["staff", "disable", "samira"]).exit_code == 0
    assert client.get("/ops/").status_code == 302


def change(client: FlaskClient, token: str, current: str, new: str, again: str | None = None) -> tuple[int, str]:
    form = {"csrf_token": token, "current_password": current, "new_password": new, "new_password_again": again or new}
    response = client.post("/ops/password", data=form)
    return response.status_code, response.headers.get("Location", "") + response.get_data(as_text=True)


def test_a_member_changes_their_password_from_the_dashboard(
    client: FlaskClient, logged_in: str, staff: StaffMember, db_session: Session
) -> None:
    page = client.get("/ops/password")
    assert page.status_code == 200 and 'name="current_password" type="password"' in page.get_data(as_text=True)
    assert '/ops/password"' in client.get("/ops/").get_data(as_text=True)  # linked from every page
    copy = copy_of(client)
    new = "a brand new passphrase"
    before = db_session.scalar(select(StaffMember.password_hash).where(StaffMember.id == staff.id))

    assert change(client, logged_in, PASSWORD, new, "another passphrase")[0] == 400
    status, body = change(client, logged_in, PASSWORD, "too short")
    assert status == 400 and FR("A password has {n} characters or more, not only spaces.", n=12) in body
    status, body = change(client, logged_in, "not my password", new)
    assert status == 401 and FR("Wrong current password.") in body
    without = client.post("/ops/password", data={"current_password": PASSWORD, "new_password": new})
    assert without.status_code == 400  # no CSRF token
    db_session.expire_all()
    assert db_session.scalar(select(StaffMember.password_hash).where(StaffMember.id == staff.id)) == before
    assert copy.get("/ops/").status_code == 200  # nothing changed yet

    status, location = change(client, logged_in, PASSWORD, new)
    assert status == 303 and location.startswith("/ops/")
    # This browser goes on, on the new version; every other session is over.
    page = client.get("/ops/")
    assert page.status_code == 200 and FR("Password changed. Your other sessions have ended.") in page.get_data(
        as_text=True
    )
    assert csrf(page.get_data(as_text=True)) != logged_in  # a new session
    assert copy.get("/ops/").status_code == 302
    other = client.application.test_client()
    token = csrf(other.get("/ops/login").get_data(as_text=True))
    assert (
        other.post("/ops/login", data={"username": "samira", "password": PASSWORD, "csrf_token": token}).status_code
        == 401
    )
    log_in(other, password=new)


def test_wrong_current_passwords_count_toward_the_lockout(
    client: FlaskClient, logged_in: str, staff: StaffMember, db_session: Session, clock: FrozenClock
) -> None:
    for _ in range(4):
        assert change(client, logged_in, "a guessed password", "a brand new passphrase")[0] == 401
    status, location = change(client, logged_in, "a guessed password", "a brand new passphrase")
    assert status == 303 and location.startswith("/ops/login")  # the fifth: locked, and out
    assert client.get("/ops/").status_code == 302
    db_session.expire_all()
    row = db_session.get(StaffMember, staff.id)
    assert row is not None and row.locked_until == clock() + dt.timedelta(minutes=15)


def test_session_cookie_is_secure_in_production(make_app: Callable[..., Flask]) -> None:
    production = make_app(env="production", **PRODUCTION_SECRETS)
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert production.config["SESSION_COOKIE_HTTPONLY"] is True
    assert production.config["SESSION_COOKIE_SAMESITE"] == "Lax"


# The page, its charts and exports ------------------------------------------------------


def test_the_dashboard_shows_the_figures_as_svg(client: FlaskClient, activity: Session, logged_in: str) -> None:
    html = client.get("/ops/?period=30d").get_data(as_text=True)
    assert '<html lang="fr" dir="ltr">' in html
    assert html.count("<svg") == 10  # nine charts (three of the voice line) and the bank-account requests' one
    assert 'data-series="Wafacash" data-value="2"' in html  # 2 payments today
    assert "24/11 · Wafacash: 270,00 MAD" in html
    assert "24/11 · Fellah Cash: 405,00 MAD" in html
    assert f"24/11 · {FR('Success')}: 3" in html and f"24/11 · {FR('Failed')}: 2" in html
    assert "pay.network: 3" in html
    # The screen id from the database is escaped wherever it is shown.
    assert "<script>" not in html
    assert "=HYPERLINK(&quot;http://x&quot;)&lt;script&gt;: 1" in html
    assert '<span class="figure" dir="ltr">1080,00 MAD</span>' in html  # the amount tile
    # The sessions tile: 5 completed over the 30 days (3 today, 1 yesterday, 1 on the first).
    assert f'<span class="figure">5</span><span>{FR("Successful sessions")}</span>' in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from elsewhere
    today = client.get("/ops/?period=today").get_data(as_text=True)
    assert f"10h · {FR('Success')}: 2" in today


def test_arabic_page_reads_right_to_left(client: FlaskClient, activity: Session, logged_in: str) -> None:
    html = client.get("/ops/?lang=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html
    assert "وفاكاش" in html  # the networks' names come from the catalogues
    assert '<html lang="ar"' in client.get("/ops/").get_data(as_text=True)  # remembered


def read_csv(client: FlaskClient, url: str) -> list[list[str]]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="hirfa-')
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_csv_exports(client: FlaskClient, activity: Session, logged_in: str) -> None:
    sessions = read_csv(client, "/ops/export/sessions.csv?period=30d")
    assert sessions[0] == ["day", "outcome", "sessions"]
    assert ["2026-11-24", "completed", "3"] in sessions and ["2026-11-23", "other", "1"] in sessions
    assert len(sessions) == 1 + 30 * 5

    drop = read_csv(client, "/ops/export/drop-off.csv")
    assert drop[0] == ["last_screen", "screen_name", "sessions"]
    assert drop[1] == ["pay.network", "pay.network", "3"]  # no name for an unknown screen: its id
    assert drop[2] == ["'" + HOSTILE_SCREEN, "'" + HOSTILE_SCREEN, "1"]  # a formula no more

    payments = read_csv(client, "/ops/export/payments.csv")
    assert payments[0] == ["day", "network", "payments", "amount_mad"]
    assert ["2026-11-24", "wafacash", "2", "270.00"] in payments
    assert ["2026-11-24", "fellah_cash", "1", "405.00"] in payments

    expired = read_csv(client, "/ops/export/expired-references.csv")
    assert ["2026-11-23", "1"] in expired and expired[0] == ["day", "expired_unpaid"]

    messages = read_csv(client, "/ops/export/sms.csv?period=today")
    assert messages[0] == ["hour", "state", "messages"]
    assert ["2026-11-24T08:00+01:00", "waiting", "2"] in messages

    assert client.get("/ops/export/nothing.csv").status_code == 404


def test_open_help_requests_are_listed_and_closed_from_the_dashboard(
    client: FlaskClient, demo: Session, logged_in: str, clock: FrozenClock
) -> None:
    fatima = demo.scalar(select(Artisan).where(Artisan.phone == "+212600000001"))
    assert fatima is not None
    request, _ = request_help(demo, artisan_id=fatima.id, kind="advisor_callback", clock=clock, default_language="ar")
    demo.commit()
    html = client.get("/ops/").get_data(as_text=True)
    assert "+2126******01" in html and "+212600000001" not in html
    assert "2026-11-24 11:00" in html  # Morocco time
    assert f'action="/ops/help/{request.id}/close"' in html

    exported = read_csv(client, "/ops/export/help-requests.csv")
    assert exported[0] == ["id", "kind", "phone", "created_morocco_time", "status"]
    assert exported[1] == [str(request.id), "advisor_callback", "'+2126******01", "2026-11-24 11:00", "open"]

    refused = client.post(f"/ops/help/{request.id}/close", data={"csrf_token": "forged"})
    assert refused.status_code == 400
    demo.expire_all()
    assert demo.get(HelpRequest, request.id).status == "open"  # type: ignore[union-attr]

    closed = client.post(f"/ops/help/{request.id}/close", data={"csrf_token": logged_in, "period": "today"})
    assert closed.status_code == 303 and closed.headers["Location"].endswith("/ops/?period=today#help")
    demo.expire_all()
    row = demo.get(HelpRequest, request.id)
    assert row is not None and row.status == "closed" and row.closed_by == "samira" and row.closed_at == clock()
    page = client.get("/ops/?period=today").get_data(as_text=True)
    assert re.search(rf'<p class="flash ok" role="status">[^<]*{request.id}[^<]*</p>', page)
    assert f'action="/ops/help/{request.id}/close"' not in page

    again = client.post(f"/ops/help/{request.id}/close", data={"csrf_token": logged_in})
    assert again.status_code == 303


def test_a_close_without_login_changes_nothing(
    client: FlaskClient, demo: Session, staff: StaffMember, clock: FrozenClock
) -> None:
    fatima = demo.scalar(select(Artisan).where(Artisan.phone == "+212600000001"))
    assert fatima is not None
    request, _ = request_help(demo, artisan_id=fatima.id, kind="export_support", clock=clock, default_language="ar")
    demo.commit()
    token = csrf(client.get("/ops/login").get_data(as_text=True))  # a token, but no login
    response = client.post(f"/ops/help/{request.id}/close", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/ops/login")
    demo.expire_all()
    assert demo.get(HelpRequest, request.id).status == "open"  # type: ignore[union-attr]


def test_the_demo_staff_login_works_and_loading_again_unlocks_it(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    username, password = load_demo_staff(db_session, clock=clock)
    db_session.commit()
    assert (username, password) == DEMO_STAFF
    for _ in range(5):
        token = csrf(client.get("/ops/login").get_data(as_text=True))
        form = {"username": username, "password": "wrong password", "csrf_token": token}
        assert client.post("/ops/login", data=form).status_code == 401
    db_session.expire_all()
    assert db_session.scalar(select(StaffMember.locked_until).where(StaffMember.username == username)) is not None
    load_demo_staff(db_session, clock=clock)
    db_session.commit()
    log_in(client, username, password)
    assert client.get("/ops/").status_code == 200


def test_drop_off_names_the_screens(
    client: FlaskClient, db_session: Session, logged_in: str, clock: FrozenClock
) -> None:
    for _ in range(2):
        outcome(db_session, "Incomplete", clock() - dt.timedelta(hours=1), "pay_network")
    db_session.commit()
    page = client.get("/ops/?period=today").get_data(as_text=True)
    assert "Paiement : réseau" in page and "pay_network" not in page
    assert read_csv(client, "/ops/export/drop-off.csv?period=today")[1] == ["pay_network", "Pay: network", "2"]


# Sessions from Hirfa's own hops --------------------------------------------------------


def sessions_today(client: FlaskClient) -> dict[str, int]:
    """Today's sessions by outcome, as the CSV export gives them (outcomes with none left out)."""
    rows = read_csv(client, "/ops/export/sessions.csv?period=today")
    assert rows[0] == ["hour", "outcome", "sessions"]
    totals: dict[str, int] = {}
    for _hour, name, count in rows[1:]:
        totals[name] = totals.get(name, 0) + int(count)
    return {name: count for name, count in totals.items() if count}


def session_rows(db: Session, session_id: str) -> list[UssdSessionOutcome]:
    db.expire_all()
    return list(db.scalars(select(UssdSessionOutcome).where(UssdSessionOutcome.session_id == session_id)))


def test_a_session_no_aggregator_reports_counts_from_its_first_hop(
    client: FlaskClient, dial: type[Dialer], db_session: Session, logged_in: str, clock: FrozenClock
) -> None:
    """A channel that sends no end-of-session report (SMPP, a simulator) still shows its
    sessions: in progress while they may go on, incomplete once their record expired."""
    phone = dial("+212600000001")
    phone.start()
    phone.send("1")  # the status screen; then nothing, and no report ever
    assert sessions_today(client) == {"in_progress": 1}
    page = client.get("/ops/?period=today").get_data(as_text=True)
    assert (
        FR("In progress") == "En cours"
        and FR("In progress") in page
        and FR("Nothing in this period.") not in page.split("drop-off")[0]
    )
    (row,) = session_rows(db_session, phone.session_id)
    assert (row.started_at, row.ended_at, row.status, row.hops_answered) == (clock(), None, None, 1)

    clock.advance(seconds=300)  # USSD_SESSION_TTL_SECONDS after its last hop: it may still go on
    assert sessions_today(client) == {"in_progress": 1}
    clock.advance(seconds=1)  # its Redis record is gone: the session cannot go on
    assert sessions_today(client) == {"incomplete": 1}
    figures = stats.dashboard(db_session, name=stats.PeriodName.TODAY, now=clock(), session_ttl=TTL)
    assert figures.sessions.total() == 1 and [d.sessions for d in figures.drop_off] == [1]


def test_a_session_that_reached_its_last_screen_is_completed_and_its_report_adds_to_it(
    client: FlaskClient, dial: type[Dialer], db_session: Session, logged_in: str, clock: FrozenClock
) -> None:
    phone = dial("+212600000001")
    phone.start()
    phone.send("5")
    assert phone.send("1").startswith("END ")  # a call-back asked: the last screen
    assert sessions_today(client) == {"completed": 1}
    (row,) = session_rows(db_session, phone.session_id)
    assert (row.ended_at, row.last_screen, row.hops_answered, row.status) == (clock(), "help_done", 3, None)

    clock.advance(seconds=2)
    assert phone.hang_up("Success") == 200  # the aggregator's report comes afterwards
    assert sessions_today(client) == {"completed": 1}  # the same session, counted once
    (row,) = session_rows(db_session, phone.session_id)
    assert (row.status, row.duration_ms, row.hops_count, row.received_at) == ("Success", 20_000, 3, clock())
    assert (row.started_at, row.ended_at, row.last_screen, row.hops_answered) == (
        clock() - dt.timedelta(seconds=2),
        clock() - dt.timedelta(seconds=2),
        "help_done",
        3,
    )


def test_a_session_ended_by_wrong_answers_did_not_complete(
    client: FlaskClient, dial: type[Dialer], db_session: Session, logged_in: str, clock: FrozenClock
) -> None:
    """Three wrong answers end the session with an END, but the caller gave up there: the
    dashboard counts it as not completed, and where they stuck shows in the drop-off."""
    phone = dial("+212600000002")
    phone.start()
    phone.send("2")
    assert phone.send("7", "7", "7").startswith("END ")
    (row,) = session_rows(db_session, phone.session_id)
    assert (row.ended_at, row.last_screen) == (None, "pay")
    assert phone.hang_up("Success") == 200  # the aggregator saw an END
    assert sessions_today(client) == {"failed": 1}
    assert ["pay", "Dues", "1"] in read_csv(client, "/ops/export/drop-off.csv?period=today")


def test_a_report_of_a_cut_off_session_adds_its_status_and_hirfas_last_screen(
    client: FlaskClient, dial: type[Dialer], db_session: Session, logged_in: str, clock: FrozenClock
) -> None:
    phone = dial("+212600000002")
    phone.start()
    phone.send("2")  # the dues screen; the network drops the session there
    assert phone.hang_up("Incomplete") == 200
    assert phone.hang_up("Incomplete") == 200  # notified twice: still one session
    assert sessions_today(client) == {"incomplete": 1}
    (row,) = session_rows(db_session, phone.session_id)
    assert (row.status, row.last_screen, row.hops_answered, row.ended_at) == ("Incomplete", "pay", 2, None)
    drop = read_csv(client, "/ops/export/drop-off.csv?period=today")
    assert drop[1:] == [["pay", "Dues", "1"]]


def test_a_report_of_a_session_hirfa_never_wrote_still_counts_it_once(
    client: FlaskClient, dial: type[Dialer], db_session: Session, logged_in: str
) -> None:
    phone = dial("+212600000001")  # no hop reached the menus (refused, or the database was down)
    assert phone.hang_up("Failed") == 200
    assert sessions_today(client) == {"failed": 1}
    (row,) = session_rows(db_session, phone.session_id)
    assert (row.status, row.last_screen, row.ended_at) == ("Failed", None, None)


@pytest.mark.parametrize("committed_app", ["postgresql", "sqlite"], indirect=True)
def test_hops_and_racing_reports_make_one_session_on_both_databases(committed_app: Flask) -> None:
    def post(url: str, form: dict[str, str]) -> tuple[int, str]:
        response = committed_app.test_client().post(url, data=form)
        return response.status_code, response.get_data(as_text=True)

    completed, cut_off = (Dialer(post, "+212600000001", key=CALLBACK_KEY) for _ in range(2))
    completed.start()
    completed.send("5")
    assert completed.send("1").startswith("END ")
    cut_off.start()
    cut_off.send("2")
    reports = [lambda: completed.hang_up("Success")] * 5 + [lambda: cut_off.hang_up("Incomplete")] * 5
    barrier = threading.Barrier(len(reports))
    statuses: list[int] = []

    def report(send: Callable[[], int]) -> None:
        barrier.wait()
        statuses.append(send())

    threads = [threading.Thread(target=report, args=(send,)) for send in reports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * 10
    with committed_app.app_context():
        db = get_db()
        rows = db.execute(
            select(UssdSessionOutcome.session_id, UssdSessionOutcome.status, UssdSessionOutcome.last_screen)
        ).all()
        assert sorted(rows, key=lambda row: row.status) == [
            (cut_off.session_id, "Incomplete", "pay"),
            (completed.session_id, "Success", "help_done"),
        ]
        figures = stats.dashboard(db, name=stats.PeriodName.TODAY, now=dt.datetime.now(UTC), session_ttl=TTL)
        assert (figures.sessions.total("completed"), figures.sessions.total("incomplete")) == (1, 1)
        assert [(d.screen, d.sessions) for d in figures.drop_off] == [("pay", 1)]


def test_bank_leads_on_the_dashboard_and_those_not_fetched_in_30_days(
    client: FlaskClient, demo: Session, logged_in: str, clock: FrozenClock
) -> None:
    ids = {}
    for phone, bank in (("+212600000001", "cam"), ("+212600000002", "awb"), ("+212600000003", "awb")):
        artisan_id = demo.scalar(select(Artisan.id).where(Artisan.phone == phone))
        assert artisan_id is not None
        lead, _ = request_lead(
            demo,
            artisan_id=artisan_id,
            bank=bank,
            consent_version="bank-consent-v1",
            clock=clock,
            default_language="ar",
        )
        ids[phone] = lead.id
    demo.commit()
    html = client.get("/ops/?period=today").get_data(as_text=True)
    assert "Crédit Agricole du Maroc: 1" in html  # names as the banks write them
    assert "Attijariwafa bank: 2" in html
    assert 'class="unfetched-lead"' not in html  # nothing is 30 days old yet
    per_day = read_csv(client, "/ops/export/bank-leads.csv?period=30d")
    assert per_day[0] == ["day", "bank", "requests"] and ["2026-11-24", "awb", "2"] in per_day
    # Youssef's bank fetches his lead on day 10; the others are never fetched.
    clock.advance(days=10)
    demo.execute(update(BankLead).where(BankLead.id == ids["+212600000002"]).values(first_fetched_at=clock()))
    demo.commit()
    clock.advance(days=21)
    log_in(client)  # the morning's session has long ended
    html = client.get("/ops/").get_data(as_text=True)
    rows = re.findall(r'<tr class="unfetched-lead">\s*<td>(\d+)</td>', html)
    assert sorted(map(int, rows)) == sorted([ids["+212600000001"], ids["+212600000003"]])
    assert "+2126******01" in html and "+212600000001" not in html
    assert "31 jours" in html  # the oldest open request's age (the dashboard speaks French first)
    unfetched = read_csv(client, "/ops/export/bank-leads-unfetched.csv")
    assert unfetched[0] == ["id", "bank", "phone", "created_morocco_time", "status"]
    assert [str(ids["+212600000003"]), "awb", "'+2126******03", "2026-11-24 11:00", "new"] in unfetched


def prompts_today(client: FlaskClient) -> dict[str, int]:
    rows = read_csv(client, "/ops/export/voice-prompts.csv?period=today")
    assert rows[0] == ["hour", "source", "prompts"]
    return {source: sum(int(n) for _, s, n in rows[1:] if s == source) for source in ("recorded", "synthesised")}


def test_voice_calls_by_outcome_drop_off_and_prompts_by_source(
    app: Flask,
    client: FlaskClient,
    logged_in: str,
    server: str,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A voice talent recorded "tapez" in French: each menu line plays it.
    audio = PromptAudio(dataclasses.replace(settings, voice_recordings_dir=str(tmp_path)))
    recording = audio.recording(Clip("fr", "tapez"))
    recording.parent.mkdir(parents=True)
    with wave.open(str(recording), "wb") as take:
        take.setnchannels(1)
        take.setsampwidth(2)
        take.setframerate(8000)
        take.writeframes(bytes(8000))
    monkeypatch.setitem(app.extensions, AUDIO_EXTENSION, audio)
    before = prompts_today(client)

    paid = Call(server, {})
    paid.start()
    for key in ("2", "2", "1", "1", "1"):  # French, pay, all due, Wafacash, confirm
        paid.press(key)
    assert paid.reply.digits is None
    paid.hang_up()
    at_offer = Call(server, {})
    at_offer.start()
    at_offer.hang_up()
    at_dues = Call(server, {})
    at_dues.start()
    at_dues.press("2")
    at_dues.press("2")
    at_dues.hang_up()

    calls = read_csv(client, "/ops/export/voice-calls.csv?period=today")
    assert ["2026-11-24T11:00+01:00", "completed", "1"] in calls and [
        "2026-11-24T11:00+01:00",
        "incomplete",
        "2",
    ] in calls
    drop = read_csv(client, "/ops/export/voice-drop-off.csv?period=today")
    assert sorted(drop[1:]) == [["language_offer", "Voice: language offer", "1"], ["pay", "Dues", "1"]]
    # USSD sessions are counted without the calls.
    assert all(row[2] == "0" for row in read_csv(client, "/ops/export/sessions.csv?period=today")[1:])
    after = prompts_today(client)
    assert after["recorded"] > before["recorded"] and after["synthesised"] > before["synthesised"]

    html = client.get("/ops/?period=today").get_data(as_text=True)
    for title in ("Voice calls by outcome", "Where unsuccessful voice calls ended (screen)"):
        assert FR(title) in html
    assert FR("Voice: language offer") in html and f"{FR('Recorded')}:" in html
