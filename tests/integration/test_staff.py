"""Staff accounts of the dashboard: argon2 hashes, lockout, disable, `flask staff …`."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading

import argon2
import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import db as gateway_db
from gateway.demo import load_demo_staff
from gateway.ops import staff as staff_module
from gateway.ops.staff import (
    LOCKOUT,
    MAX_FAILED_LOGINS,
    StaffError,
    authenticate,
    change_password,
    create_staff,
    disable_staff,
    end_sessions,
    session_staff,
    set_password,
)
from models import StaffMember
from tests.helpers import FrozenClock

PASSWORD = "correct horse battery"


@pytest.fixture
def samira(db_session: Session, clock: FrozenClock) -> StaffMember:
    return create_staff(db_session, username="Samira", password=PASSWORD, clock=clock)


def stored(db: Session, username: str) -> StaffMember:
    db.flush()
    db.expire_all()
    row = db.scalar(select(StaffMember).where(StaffMember.username == username))
    assert row is not None
    return row


def test_a_password_is_stored_as_an_argon2id_hash(samira: StaffMember, clock: FrozenClock) -> None:
    assert samira.username == "samira"  # usernames are lowercase
    assert PASSWORD not in samira.password_hash
    assert samira.password_hash.startswith("$argon2id$")
    parameters = argon2.extract_parameters(samira.password_hash)
    assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (3, 12_288, 1)
    assert samira.active and samira.failed_logins == 0 and samira.created_at == clock()


@pytest.mark.parametrize(
    ("username", "password"),
    [("x", PASSWORD), ("samira bennani", PASSWORD), ("<b>", PASSWORD), ("samira2", "short"), ("samira2", " " * 20)],
)
def test_malformed_accounts_are_refused(db_session: Session, clock: FrozenClock, username: str, password: str) -> None:
    with pytest.raises(StaffError):
        create_staff(db_session, username=username, password=password, clock=clock)


def test_a_username_is_taken_once(db_session: Session, samira: StaffMember, clock: FrozenClock) -> None:
    with pytest.raises(StaffError, match="already exists"):
        create_staff(db_session, username="SAMIRA", password=PASSWORD, clock=clock)


def test_login_with_the_right_password(db_session: Session, samira: StaffMember, clock: FrozenClock) -> None:
    result = authenticate(db_session, username=" Samira ", password=PASSWORD, clock=clock)
    assert result is not None and result.id == samira.id
    assert stored(db_session, "samira").last_login_at == clock()


def test_unknown_user_and_wrong_password_get_the_same_answer(
    db_session: Session, samira: StaffMember, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = staff_module._matches
    monkeypatch.setattr(staff_module, "_matches", lambda h, p: checked.append(h) or real(h, p))
    unknown = authenticate(db_session, username="nobody", password=PASSWORD, clock=clock)
    wrong = authenticate(db_session, username="samira", password="not the password", clock=clock)
    assert unknown == wrong
    assert unknown is None
    # The unknown user costs an argon2 check too (against a dummy hash).
    assert len(checked) == 2 and checked[0] != samira.password_hash and checked[0].startswith("$argon2id$")


def test_five_wrong_passwords_lock_the_account_for_15_minutes(
    db_session: Session, samira: StaffMember, clock: FrozenClock
) -> None:
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert authenticate(db_session, username="samira", password="wrong password", clock=clock) is None
    assert stored(db_session, "samira").failed_logins == MAX_FAILED_LOGINS - 1
    assert authenticate(db_session, username="samira", password="wrong password", clock=clock) is None
    row = stored(db_session, "samira")
    assert row.locked_until == clock() + LOCKOUT == clock() + dt.timedelta(minutes=15)
    # Locked: even the right password is refused, with the same answer.
    assert authenticate(db_session, username="samira", password=PASSWORD, clock=clock) is None
    clock.advance(minutes=14, seconds=59)
    assert authenticate(db_session, username="samira", password=PASSWORD, clock=clock) is None
    clock.advance(seconds=1)
    assert authenticate(db_session, username="samira", password=PASSWORD, clock=clock) is not None
    row = stored(db_session, "samira")
    assert row.failed_logins == 0 and row.locked_until is None


def test_a_right_password_resets_the_count(db_session: Session, samira: StaffMember, clock: FrozenClock) -> None:
    for _ in range(MAX_FAILED_LOGINS - 1):
        authenticate(db_session, username="samira", password="wrong password", clock=clock)
    assert authenticate(db_session, username="samira", password=PASSWORD, clock=clock) is not None
    assert stored(db_session, "samira").failed_logins == 0


def test_a_disabled_account_cannot_log_in(db_session: Session, samira: StaffMember, clock: FrozenClock) -> None:
    disable_staff(db_session, username="samira")
    assert authenticate(db_session, username="samira", password=PASSWORD, clock=clock) is None
    with pytest.raises(StaffError):
        disable_staff(db_session, username="nobody")


def test_logs_name_the_user_never_the_password(
    db_session: Session, samira: StaffMember, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="gateway.ops.staff"):
        authenticate(db_session, username="samira", password=PASSWORD, clock=clock)
        authenticate(db_session, username="samira", password="a wrong password", clock=clock)
    assert [getattr(r, "staff", None) for r in caplog.records] == ["samira", "samira"]
    for record in caplog.records:
        assert PASSWORD not in str(vars(record)) and "a wrong password" not in str(vars(record))


def test_flask_staff_create_list_disable(app: Flask, db_session: Session, clock: FrozenClock) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(args=["staff", "create", "Karim"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert created.exit_code == 0, created.output
    assert "staff member karim created" in created.output
    assert PASSWORD not in created.output  # the prompt hides it
    assert authenticate(db_session, username="karim", password=PASSWORD, clock=clock) is not None

    mismatch = runner.invoke(args=["staff", "create", "leila"], input=f"{PASSWORD}\nanother password\n")
    assert mismatch.exit_code != 0
    assert db_session.scalar(select(StaffMember).where(StaffMember.username == "leila")) is None

    piped = runner.invoke(args=["staff", "create", "leila", "--password-stdin"], input=f"{PASSWORD} 2\n")
    assert piped.exit_code == 0, piped.output
    assert authenticate(db_session, username="leila", password=f"{PASSWORD} 2", clock=clock) is not None
    short = runner.invoke(args=["staff", "create", "omar", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "12" in short.output
    again = runner.invoke(args=["staff", "create", "karim", "--password-stdin"], input=f"{PASSWORD}\n")
    assert again.exit_code != 0 and "already exists" in again.output

    disabled = runner.invoke(args=["staff", "disable", "karim"])
    assert disabled.exit_code == 0 and "karim: disabled" in disabled.output
    listed = runner.invoke(args=["staff", "list"]).output.splitlines()
    assert listed[1].split()[:2] == ["karim", "disabled"]
    assert listed[2].split()[:2] == ["leila", "active"]
    assert runner.invoke(args=["staff", "disable", "nobody"]).exit_code != 0


def test_every_way_out_moves_the_session_version(db_session: Session, samira: StaffMember, clock: FrozenClock) -> None:
    def version() -> int:
        return stored(db_session, "samira").session_version

    logged_in = authenticate(db_session, username="samira", password=PASSWORD, clock=clock)
    assert logged_in is not None and logged_in.session_version == version() == 0
    end_sessions(db_session, staff_id=samira.id)  # logout
    assert version() == 1
    set_password(db_session, username="samira", password="a brand new passphrase")
    assert version() == 2
    member = stored(db_session, "samira")
    with pytest.raises(StaffError):
        change_password(db_session, staff=member, current_password=PASSWORD, new_password="x" * 12, clock=clock)
    assert version() == 2  # a refused change ends nothing (the wrong password is counted)
    changed = change_password(
        db_session, staff=member, current_password="a brand new passphrase", new_password=PASSWORD, clock=clock
    )
    assert changed.session_version == version() == 3
    for _ in range(MAX_FAILED_LOGINS):
        authenticate(db_session, username="samira", password="wrong password", clock=clock)
    assert version() == 4  # the lockout
    disable_staff(db_session, username="samira")
    assert version() == 5
    with pytest.raises(StaffError):
        set_password(db_session, username="nobody", password=PASSWORD)


def test_a_session_is_its_versions_and_its_times(db_session: Session, samira: StaffMember, clock: FrozenClock) -> None:
    now = clock()

    def check(version: int = 0, started: dt.timedelta = dt.timedelta(), idle: dt.timedelta = dt.timedelta()) -> bool:
        found = session_staff(
            db_session, staff_id=samira.id, version=version, started=now - started, last_seen=now - idle, now=now
        )
        return found is not None

    assert check()
    assert not check(version=1) and not check(version=-1)
    assert check(idle=dt.timedelta(minutes=30)) and not check(idle=dt.timedelta(minutes=30, seconds=1))
    assert check(started=dt.timedelta(hours=12)) and not check(started=dt.timedelta(hours=12, seconds=1))
    assert session_staff(db_session, staff_id=samira.id + 1000, version=0, started=now, last_seen=now, now=now) is None


def test_flask_staff_set_password(app: Flask, db_session: Session, samira: StaffMember, clock: FrozenClock) -> None:
    db_session.commit()  # a refused command rolls back
    runner = app.test_cli_runner()
    new = "a brand new passphrase"
    mismatch = runner.invoke(args=["staff", "set-password", "samira"], input=f"{new}\nanother one entirely\n")
    assert mismatch.exit_code != 0
    short = runner.invoke(args=["staff", "set-password", "samira", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "12" in short.output
    assert runner.invoke(args=["staff", "set-password", "nobody", "--password-stdin"], input=f"{new}\n").exit_code != 0
    assert stored(db_session, "samira").session_version == 0  # nothing changed

    prompted = runner.invoke(args=["staff", "set-password", "Samira"], input=f"{new}\n{new}\n")
    assert prompted.exit_code == 0, prompted.output
    assert "samira: password set, open sessions ended" in prompted.output and new not in prompted.output
    assert authenticate(db_session, username="samira", password=PASSWORD, clock=clock) is None
    assert authenticate(db_session, username="samira", password=new, clock=clock) is not None
    piped = runner.invoke(args=["staff", "set-password", "samira", "--password-stdin"], input=f"{PASSWORD}\n")
    assert piped.exit_code == 0, piped.output
    assert authenticate(db_session, username="samira", password=PASSWORD, clock=clock) is not None
    assert stored(db_session, "samira").session_version == 2


def test_racing_wrong_passwords_lock_at_exactly_the_fifth(
    committed_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """20 browsers send a wrong password for one account at once: exactly 5 are counted
    (no increment lost to a read-then-write), the fifth locks, the 15 others find it
    locked; on PostgreSQL and on the SQLite default."""
    with committed_app.app_context():
        username, _ = load_demo_staff(gateway_db.get_db(), clock=lambda: dt.datetime.now(dt.UTC))
        gateway_db.get_db().commit()
    clients = [committed_app.test_client() for _ in range(20)]
    tokens = []
    for client in clients:
        page = client.get("/ops/login").get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match is not None
        tokens.append(match.group(1))
    start = threading.Barrier(len(clients))
    statuses: list[int | str] = []

    def guess(number: int) -> None:
        form = {"username": username, "password": f"wrong guess {number:02d}", "csrf_token": tokens[number]}
        start.wait()
        try:
            statuses.append(clients[number].post("/ops/login", data=form).status_code)
        except Exception as error:  # shown by the assertion below, not lost in a thread
            statuses.append(repr(error))

    with caplog.at_level(logging.INFO, logger="gateway.ops.staff"):
        threads = [threading.Thread(target=guess, args=(n,)) for n in range(len(clients))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert statuses == [401] * 20, statuses
    reasons = [getattr(record, "reason", "locking") for record in caplog.records if record.name == "gateway.ops.staff"]
    assert sorted(reasons) == sorted(["password"] * 4 + ["locking"] + ["locked"] * 15), reasons
    with committed_app.app_context():
        row = gateway_db.get_db().scalar(select(StaffMember).where(StaffMember.username == username))
        assert row is not None
        assert row.failed_logins == 0 and row.session_version == 1
        assert row.locked_until is not None and row.locked_until > dt.datetime.now(dt.UTC) + LOCKOUT / 2
