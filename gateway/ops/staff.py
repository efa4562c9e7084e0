"""Staff accounts of the operations dashboard: passwords, lockout, create/list/disable.

Passwords are hashed with argon2id on OWASP's 12 MiB profile (PASSWORD_HASHER). Five
wrong passwords in a row lock the
account for 15 minutes. A failed login never says whether the username exists, and an
unknown username costs the same hash check as a known one. Services flush; the edge
commits. No password is ever logged, stored in clear or returned."""

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
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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


def disable_staff(db: Session, *, username: str) -> StaffMember:
    """The account can no longer log in, and its open dashboard sessions stop working."""
    name = normalise_username(username)
    staff = db.scalar(select(StaffMember).where(StaffMember.username == name))
    if staff is None:
        raise StaffError(f"no staff member {name}")
    staff.active = False
    db.flush()
    log.info("staff member disabled", extra={"staff": name})
    return staff


def is_locked(staff: StaffMember, now: dt.datetime) -> bool:
    return staff.locked_until is not None and staff.locked_until > now


def authenticate(db: Session, *, username: str, password: str, clock: Clock) -> StaffMember | None:
    """The staff member logging in, or None: unknown user, wrong password, disabled or
    locked account all get that one answer. Five wrong passwords in a row lock the
    account for 15 minutes; a right one resets the count."""
    name = normalise_username(username)
    # The row lock makes two racing wrong passwords count as two.
    staff = (
        db.scalar(select(StaffMember).where(StaffMember.username == name).with_for_update())
        if USERNAME_RE.fullmatch(name)
        else None
    )
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
        staff.failed_logins += 1
        if staff.failed_logins >= MAX_FAILED_LOGINS:
            staff.failed_logins = 0
            staff.locked_until = now + LOCKOUT
            log.warning("staff account locked after wrong passwords", extra={"staff": name})
        else:
            log.info("staff login refused", extra={"staff": name, "reason": "password"})
        db.flush()
        return None
    staff.failed_logins = 0
    staff.locked_until = None
    staff.last_login_at = now
    if PASSWORD_HASHER.check_needs_rehash(staff.password_hash):
        staff.password_hash = PASSWORD_HASHER.hash(password)
    db.flush()
    log.info("staff login", extra={"staff": name})
    return staff


def active_staff(db: Session, staff_id: int) -> StaffMember | None:
    """The staff member of a dashboard session, if the account still exists and is active."""
    staff = db.get(StaffMember, staff_id)
    if staff is None or not staff.active:
        return None
    return staff
