"""Staff accounts of the operations dashboard: passwords, lockout, sessions,
create/list/disable/set a password.

Passwords are hashed with argon2id on OWASP's 12 MiB profile (PASSWORD_HASHER). Five
wrong passwords in a row lock the account for 15 minutes; they are counted by
compare-and-set updates on the row (never read, add one, write back), so racing
guesses all count on PostgreSQL and on SQLite alike. A failed login never says whether
the username exists, and an unknown username costs the same hash check as a known one.

A dashboard session carries the row's `session_version` from its login and is refused
once the row moves on: logout, a password change, disabling and a lockout bump it, so
each ends every session of that member at once. A session also ends after 30 minutes
without a request and 12 hours after its login.

Services flush; the edge commits. No password is ever logged, stored in clear or
returned."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import secrets
from collections.abc import Callable
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from models import StaffMember

log = logging.getLogger(__name__)

# OWASP's argon2id profile (12 MiB, 3 passes, 1 lane; about 30 ms here): a login is rare,
# and a password, unlike a PIN, has room for the cost to matter.
PASSWORD_HASHER: Final = PasswordHasher(time_cost=3, memory_cost=12_288, parallelism=1)
USERNAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9._-]{1,39}")
MIN_PASSWORD_LENGTH: Final = 12
MAX_PASSWORD_LENGTH: Final = 256
MAX_FAILED_LOGINS: Final = 5
LOCKOUT: Final = dt.timedelta(minutes=15)
IDLE_TIMEOUT: Final = dt.timedelta(minutes=30)
SESSION_LIFETIME: Final = dt.timedelta(hours=12)

Clock = Callable[[], dt.datetime]


class StaffError(Exception):
    """A staff operation refused; the message says why (it never holds a password)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def normalise_username(username: str) -> str:
    return username.strip().lower()


def check_username(username: str) -> str:
    """The username in its stored form. Raises StaffError when malformed."""
    normalised = normalise_username(username)
    if USERNAME_RE.fullmatch(normalised) is None:
        raise StaffError("a username is 2 to 40 lowercase letters, digits, '.', '_' or '-'")
    return normalised


def check_password(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise StaffError(f"a password is {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise StaffError("a password cannot be only spaces")
    return password


def hash_password(password: str) -> str:
    return PASSWORD_HASHER.hash(check_password(password))


@functools.cache
def _dummy_hash() -> str:
    # Checked for unknown usernames, so that they take as long as known ones.
    return PASSWORD_HASHER.hash(secrets.token_urlsafe(24))


def _matches(password_hash: str, password: str) -> bool:
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return PASSWORD_HASHER.verify(password_hash, password)
    except InvalidHashError:
        log.error("a staff password hash is not a valid argon2 hash")
        return False
    except VerificationError:
        return False


def create_staff(db: Session, *, username: str, password: str, clock: Clock) -> StaffMember:
    """A new active staff member."""
    name = check_username(username)
    password_hash = hash_password(password)
    if db.scalar(select(StaffMember.id).where(StaffMember.username == name)) is not None:
        raise StaffError(f"staff member {name} already exists")
    staff = StaffMember(username=name, password_hash=password_hash, active=True, failed_logins=0, created_at=clock())
    try:
        with db.begin_nested():
            db.add(staff)
            db.flush()
    except IntegrityError:
        raise StaffError(f"staff member {name} already exists") from None
    log.info("staff member created", extra={"staff": name})
    return staff


def list_staff(db: Session) -> list[StaffMember]:
    return list(db.scalars(select(StaffMember).order_by(StaffMember.username)))


def _named(db: Session, username: str) -> StaffMember:
    name = normalise_username(username)
    staff = db.scalar(select(StaffMember).where(StaffMember.username == name))
    if staff is None:
        raise StaffError(f"no staff member {name}")
    return staff


def end_sessions(db: Session, *, staff_id: int) -> int | None:
    """Every open dashboard session of this staff member ends at its next request: their
    cookies carry the version this moves past. The new version (None: no such member)."""
    version: int | None = db.scalar(
        update(StaffMember)
        .where(StaffMember.id == staff_id)
        .values(session_version=StaffMember.session_version + 1)
        .returning(StaffMember.session_version)
    )
    return version


def disable_staff(db: Session, *, username: str) -> StaffMember:
    """The account can no longer log in, and its open dashboard sessions end."""
    staff = _named(db, username)
    staff.active = False
    end_sessions(db, staff_id=staff.id)
    db.flush()
    log.info("staff member disabled", extra={"staff": staff.username})
    return staff


def set_password(db: Session, *, username: str, password: str) -> StaffMember:
    """A new password (an administrator's `flask staff set-password`); every open session
    of the member ends."""
    staff = _named(db, username)
    staff.password_hash = hash_password(password)
    end_sessions(db, staff_id=staff.id)
    db.flush()
    log.info("staff password set", extra={"staff": staff.username})
    return staff


def is_locked(staff: StaffMember, now: dt.datetime) -> bool:
    return staff.locked_until is not None and staff.locked_until > now


def _unlocked(now: dt.datetime) -> ColumnElement[bool]:
    return or_(StaffMember.locked_until.is_(None), StaffMember.locked_until <= now)


def _count_failure(db: Session, *, staff: StaffMember, now: dt.datetime) -> None:
    """One more wrong password, counted in the row itself. The increment holds the row
    (PostgreSQL's row lock, SQLite's write lock) until the edge commits, so the fifth
    one, and only it, locks the account; one racing in after the lock is not counted."""
    count = db.scalar(
        update(StaffMember)
        .where(StaffMember.id == staff.id, StaffMember.active, _unlocked(now))
        .values(failed_logins=StaffMember.failed_logins + 1)
        .returning(StaffMember.failed_logins)
    )
    if count is None:
        log.info("staff login refused", extra={"staff": staff.username, "reason": "locked"})
        return
    if count < MAX_FAILED_LOGINS:
        log.info("staff login refused", extra={"staff": staff.username, "reason": "password"})
        return
    # Someone is guessing: whoever holds a session of this account is out too.
    db.execute(
        update(StaffMember)
        .where(StaffMember.id == staff.id)
        .values(failed_logins=0, locked_until=now + LOCKOUT, session_version=StaffMember.session_version + 1)
    )
    log.warning("staff account locked after wrong passwords", extra={"staff": staff.username})


def authenticate(db: Session, *, username: str, password: str, clock: Clock) -> StaffMember | None:
    """The staff member logging in, or None: unknown user, wrong password, disabled or
    locked account all get that one answer. Five wrong passwords in a row lock the
    account for 15 minutes and end its sessions; a right one resets the count. The
    session to open carries the returned member's `session_version`."""
    name = normalise_username(username)
    # No row lock here: the hash check below takes 30 ms, and the updates decide.
    staff = db.scalar(select(StaffMember).where(StaffMember.username == name)) if USERNAME_RE.fullmatch(name) else None
    if staff is None:
        _matches(_dummy_hash(), password)
        # Not the name typed: people type their password in the username field too.
        log.info("staff login refused", extra={"reason": "unknown"})
        return None
    now = clock()
    matches = _matches(staff.password_hash, password)
    if not staff.active:
        log.info("staff login refused", extra={"staff": name, "reason": "disabled"})
        return None
    if is_locked(staff, now):
        log.info("staff login refused", extra={"staff": name, "reason": "locked"})
        return None
    if not matches:
        _count_failure(db, staff=staff, now=now)
        db.flush()
        return None
    # Compare-and-set: a lock or a disable that raced in since the read above wins.
    version = db.scalar(
        update(StaffMember)
        .where(StaffMember.id == staff.id, StaffMember.active, _unlocked(now))
        .values(failed_logins=0, locked_until=None, last_login_at=now)
        .returning(StaffMember.session_version)
    )
    if version is None:
        log.info("staff login refused", extra={"staff": name, "reason": "locked"})
        return None
    # The version the new session carries: the one the row has now, not at the read.
    set_committed_value(staff, "session_version", version)
    if PASSWORD_HASHER.check_needs_rehash(staff.password_hash):
        staff.password_hash = PASSWORD_HASHER.hash(password)
    db.flush()
    log.info("staff login", extra={"staff": name})
    return staff


def change_password(
    db: Session, *, staff: StaffMember, current_password: str, new_password: str, clock: Clock
) -> StaffMember:
    """The member's own change from the dashboard: the current password first (a wrong
    one counts toward the lockout like a wrong login, so a stolen session cannot guess
    it), then the new one, under the same rules as at creation. Every open session of
    the member ends; the caller opens a new one on the returned row's version. Raises
    StaffError when refused (the message names no password)."""
    now = clock()
    if is_locked(staff, now) or not staff.active:
        raise StaffError("account locked")
    if not _matches(staff.password_hash, current_password):
        _count_failure(db, staff=staff, now=now)
        db.flush()
        raise StaffError("wrong current password")
    staff.password_hash = hash_password(new_password)
    staff.failed_logins = 0
    version = end_sessions(db, staff_id=staff.id)
    assert version is not None  # the row was read in this transaction
    set_committed_value(staff, "session_version", version)
    db.flush()
    log.info("staff password changed", extra={"staff": staff.username})
    return staff


def session_staff(
    db: Session, *, staff_id: int, version: int, started: dt.datetime, last_seen: dt.datetime, now: dt.datetime
) -> StaffMember | None:
    """The staff member of a dashboard session, or None when the session is over: idle
    for 30 minutes, 12 hours after its login, or its version is no longer the row's
    (logout, password change, disabling, lockout), or the account is gone or disabled."""
    if now - last_seen > IDLE_TIMEOUT or now - started > SESSION_LIFETIME:
        return None
    # Read afresh, never from the identity map: the row is the authority.
    staff = db.get(StaffMember, staff_id, populate_existing=True)
    if staff is None or not staff.active or staff.session_version != version:
        return None
    return staff
