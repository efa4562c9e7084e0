"""Cash-point agents: PINs, lockout, and the staff operations on agents and cash points.

A PIN is 4 to 6 digits, so its hash resists an offline search for hours at best: the
hash keeps PINs out of sight of whoever reads the table, and the lockout (3 wrong
PINs in a row) is what protects an agent's access. The PIN is checked inside a USSD
hop, so the argon2 parameters are light (see PIN_HASHER). Services flush; the edge
commits. No PIN is ever logged, stored in clear or returned."""

from __future__ import annotations

import datetime as dt
import enum
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.logs import mask_phone
from gateway.phones import moroccan_mobile
from models import Agent, CashPoint
from models.payments import NETWORKS

log = logging.getLogger(__name__)

# A PIN has 10,000 to a million values: no hashing cost makes an offline search of a
# leaked table slow (at OWASP's 12 MiB x 3 passes, 34 ms a guess: six minutes for every
# 4-digit PIN). What protects an agent is the lockout after 3 wrong PINs; the hash
# keeps PINs out of sight of whoever reads the table. So the parameters are the lightest
# argon2id that is still argon2id (2 MiB, 1 pass: under 1 ms), and the PIN hop stays as
# cheap as the others. Older hashes move to these as agents log in (verify_pin).
# Staff passwords, chosen by people and long, keep a costly hash (gateway/ops/staff.py).
PIN_HASHER: Final = PasswordHasher(time_cost=1, memory_cost=2048, parallelism=1)
PIN_RE: Final = re.compile(r"[0-9]{4,6}")
AGENT_CODE_RE: Final = re.compile(r"[A-Z0-9][A-Z0-9_-]{1,31}")
MAX_PIN_TRIES: Final = 3
# Built once (a hot path): the agent's row, read afresh.
AGENT_ROW = select(Agent).where(Agent.id == bindparam("agent_id")).execution_options(populate_existing=True)
ACTIVE_AGENT = (Agent.id == bindparam("agent_id"), Agent.status == "active")
# A wrong PIN: counted, and the agent locked at the MAX_PIN_TRIES-th, in one statement
# (SET reads the row's values before the update). Only an active agent's row matches, so
# of racing wrong PINs exactly MAX_PIN_TRIES are counted and the rest find it locked.
COUNT_WRONG_PIN = (
    update(Agent)
    .where(*ACTIVE_AGENT)
    .values(
        failed_pin_attempts=Agent.failed_pin_attempts + 1,
        status=case((Agent.failed_pin_attempts + 1 >= MAX_PIN_TRIES, "locked"), else_=Agent.status),
        updated_at=bindparam("now"),
    )
    .returning(Agent.failed_pin_attempts, Agent.status)
    .execution_options(synchronize_session=False)
)
# A right PIN after wrong ones: the count starts again, unless a racing wrong PIN locked
# the agent meanwhile (then the lock stands).
RESET_PIN_COUNT = (
    update(Agent)
    .where(*ACTIVE_AGENT)
    .values(failed_pin_attempts=0, updated_at=bindparam("now"))
    .returning(Agent.id)
    .execution_options(synchronize_session=False)
)


class AgentError(Exception):
    """A staff operation refused; the message says why (it never holds a PIN)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PinStatus(enum.Enum):
    # The values are those of menus.ports.PinOutcome, so an adapter maps by value.
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"


@dataclass(frozen=True)
class PinCheck:
    status: PinStatus
    tries_left: int  # wrong PINs left before the agent is locked (0 once locked)

    @property
    def ok(self) -> bool:
        return self.status is PinStatus.OK


def valid_pin(pin: str) -> bool:
    """4 to 6 ASCII digits (no other script's digits, no spaces)."""
    return isinstance(pin, str) and PIN_RE.fullmatch(pin) is not None


def hash_pin(pin: str) -> str:
    """The argon2id hash of a well-formed PIN. Raises AgentError otherwise."""
    if not valid_pin(pin):
        raise AgentError("a PIN is 4 to 6 digits")
    return PIN_HASHER.hash(pin)


def pin_matches(pin_hash: str, pin: str) -> bool:
    """Whether `pin` is the PIN hashed in `pin_hash` (no lockout counting: see verify_pin)."""
    if not valid_pin(pin):
        return False
    try:
        return PIN_HASHER.verify(pin_hash, pin)
    except InvalidHashError:
        log.error("an agent PIN hash is not a valid argon2 hash")
        return False
    except VerificationError:  # VerifyMismatchError and its kin
        return False


class AgentService:
    """What the agent menu needs: who is calling, their PIN, a new PIN. Flushes only."""

    def __init__(self, *, db: Session, clock: Callable[[], dt.datetime]) -> None:
        self.db = db
        self.clock = clock

    def active_agent_for_phone(self, phone: str) -> Agent | None:
        """The agent of `phone` when active or locked (the menu tells a locked agent so);
        None for a disabled agent or a phone that is no agent's."""
        return self.db.scalar(select(Agent).where(Agent.phone == phone, Agent.status.in_(("active", "locked"))))

    def verify_pin(self, agent_id: int, pin: str) -> PinCheck:
        """Check the PIN of the agent `agent_id`; the third wrong PIN in a row locks the
        agent, a right one resets the count. A locked, disabled or unknown agent is
        refused even with the right PIN.

        Every change is a conditional UPDATE on the agent's row (no read-then-write):
        racing hops count every wrong PIN once, on PostgreSQL and SQLite alike."""
        row = self.db.scalar(AGENT_ROW, {"agent_id": agent_id})
        if row is None or row.status != "active":
            return PinCheck(PinStatus.LOCKED, 0)
        now, agent_code = self.clock(), row.agent_code
        if pin_matches(row.pin_hash, pin):
            if row.failed_pin_attempts:
                reset = self.db.execute(RESET_PIN_COUNT, {"agent_id": agent_id, "now": now}).first()
                self.db.expire(row)
                if reset is None:
                    return PinCheck(PinStatus.LOCKED, 0)
            if PIN_HASHER.check_needs_rehash(row.pin_hash):
                # Hashes made with other parameters move to the current ones as agents log in.
                row.pin_hash = PIN_HASHER.hash(pin)
                row.updated_at = now
            self.db.flush()
            return PinCheck(PinStatus.OK, MAX_PIN_TRIES)
        counted = self.db.execute(COUNT_WRONG_PIN, {"agent_id": agent_id, "now": now}).one_or_none()
        self.db.expire(row)
        if counted is None:  # locked (or disabled) by a racing hop meanwhile
            return PinCheck(PinStatus.LOCKED, 0)
        failed, status = counted
        if status == "locked":
            log.warning("agent locked after %d wrong PINs", MAX_PIN_TRIES, extra={"agent_code": agent_code})
            return PinCheck(PinStatus.LOCKED, 0)
        return PinCheck(PinStatus.WRONG, MAX_PIN_TRIES - failed)

    def change_pin(self, agent: Agent, *, old_pin: str, new_pin: str) -> PinCheck:
        """Replace the PIN when `old_pin` verifies (a wrong one counts towards the lockout).

        Returns the check of the old PIN: the PIN changed only when it is ok. Raises
        AgentError, before any try is counted, for a malformed new PIN, or one equal to
        the old."""
        if not valid_pin(new_pin):
            raise AgentError("a PIN is 4 to 6 digits")
        if new_pin == old_pin:
            raise AgentError("the new PIN must differ from the old one")
        check = self.verify_pin(agent.id, old_pin)
        if check.ok:
            row = self.db.get(Agent, agent.id)
            assert row is not None  # verify_pin just read it
            row.pin_hash = hash_pin(new_pin)
            row.updated_at = self.clock()
            self.db.flush()
            log.info("agent changed PIN", extra={"agent_code": row.agent_code})
        return check


# Staff operations ----------------------------------------------------------------------


def _network(network: str) -> str:
    if network not in NETWORKS:
        raise AgentError(f"unknown network {network!r} (expected {' or '.join(NETWORKS)})")
    return network


def _agent_code(code: str) -> str:
    normalised = code.strip().upper()
    if AGENT_CODE_RE.fullmatch(normalised) is None:
        raise AgentError("an agent code is 2 to 32 letters, digits, - or _")
    return normalised


def _agent(db: Session, agent_code: str) -> Agent:
    code = _agent_code(agent_code)
    agent = db.scalar(select(Agent).where(Agent.agent_code == code))
    if agent is None:
        raise AgentError(f"no agent {code}")
    return agent


def create_agent(
    db: Session, *, network: str, agent_code: str, phone: str, pin: str, cash_point_code: str | None = None
) -> Agent:
    """A new active agent. `phone` must be a Moroccan mobile (stored in E.164)."""
    network = _network(network)
    code = _agent_code(agent_code)
    e164 = moroccan_mobile(phone.strip())
    if e164 is None:
        raise AgentError("the phone must be a Moroccan mobile number (+2126… or +2127…)")
    pin_hash = hash_pin(pin)
    if db.scalar(select(Agent.id).where(Agent.agent_code == code)) is not None:
        raise AgentError(f"agent {code} already exists")
    holder = db.scalar(select(Agent.agent_code).where(Agent.phone == e164))
    if holder is not None:
        raise AgentError(f"{mask_phone(e164)} is already the phone of agent {holder}")
    cash_point_id = None
    if cash_point_code is not None:
        cash_point = db.scalar(select(CashPoint).where(CashPoint.code == cash_point_code.strip()))
        if cash_point is None:
            raise AgentError(f"no cash point {cash_point_code}")
        if cash_point.network != network:
            raise AgentError(f"cash point {cash_point.code} belongs to {cash_point.network}, not {network}")
        cash_point_id = cash_point.id
    agent = Agent(
        network=network,
        agent_code=code,
        phone=e164,
        cash_point_id=cash_point_id,
        pin_hash=pin_hash,
        status="active",
        failed_pin_attempts=0,
    )
    try:
        # A concurrent create of the same code or phone loses here instead of in the commit.
        with db.begin_nested():
            db.add(agent)
            db.flush()
    except IntegrityError:
        raise AgentError(f"agent {code} or phone {mask_phone(e164)} already exists") from None
    log.info("agent created", extra={"agent_code": code, "network": network, "phone": e164})
    return agent


def reset_pin(db: Session, *, agent_code: str, pin: str) -> Agent:
    """Give the agent a new PIN (staff, when it is forgotten); the count of wrong PINs
    starts again. A locked agent stays locked until `unlock`."""
    pin_hash = hash_pin(pin)
    agent = _agent(db, agent_code)
    if agent.status == "disabled":
        raise AgentError(f"agent {agent.agent_code} is disabled")
    agent.pin_hash = pin_hash
    agent.failed_pin_attempts = 0
    db.flush()
    log.info("agent PIN reset by staff", extra={"agent_code": agent.agent_code})
    return agent


def unlock(db: Session, *, agent_code: str) -> Agent:
    """Let a locked agent try PINs again."""
    agent = _agent(db, agent_code)
    if agent.status == "disabled":
        raise AgentError(f"agent {agent.agent_code} is disabled; disabled agents are not unlocked")
    agent.status = "active"
    agent.failed_pin_attempts = 0
    db.flush()
    log.info("agent unlocked by staff", extra={"agent_code": agent.agent_code})
    return agent


def disable(db: Session, *, agent_code: str) -> Agent:
    """The agent is no longer one: its phone gets the artisan menu. Payments keep their
    agent."""
    agent = _agent(db, agent_code)
    agent.status = "disabled"
    db.flush()
    log.info("agent disabled by staff", extra={"agent_code": agent.agent_code})
    return agent


def ensure_cash_point(
    db: Session, *, network: str, code: str, name: str, address: str, commune_code: str, opening_hours: str
) -> CashPoint:
    """Insert the cash point `code`, or bring it up to date (and active again)."""
    values = dict(
        network=_network(network),
        name=name,
        address=address,
        commune_code=commune_code,
        opening_hours=opening_hours,
        active=True,
    )
    cash_point = db.scalar(select(CashPoint).where(CashPoint.code == code))
    if cash_point is None:
        cash_point = CashPoint(code=code, **values)
        db.add(cash_point)
    else:
        for key, value in values.items():
            setattr(cash_point, key, value)
    db.flush()
    return cash_point
