"""Cash-point agents: PIN hashing, lockout, staff operations and `flask agents …`."""

from __future__ import annotations

import logging

import argon2
import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.payments.agents import (
    MAX_PIN_TRIES,
    AgentError,
    AgentService,
    PinStatus,
    create_agent,
    disable,
    ensure_cash_point,
    hash_pin,
    pin_matches,
    reset_pin,
    unlock,
    valid_pin,
)
from models import Agent, CashPoint
from tests.helpers import FrozenClock

PHONE = "+212700000011"


@pytest.fixture
def agent(db_session: Session) -> Agent:
    return create_agent(db_session, network="wafacash", agent_code="WFC-TST-001", phone=PHONE, pin="2468")


@pytest.fixture
def service(db_session: Session, clock: FrozenClock) -> AgentService:
    return AgentService(db=db_session, clock=clock)


def stored(db: Session, code: str) -> Agent:
    """The agent as the database has it (not the session's copy)."""
    db.flush()
    db.expire_all()
    row = db.scalar(select(Agent).where(Agent.agent_code == code))
    assert row is not None
    return row


# Hashing -------------------------------------------------------------------------------


@pytest.mark.parametrize("pin", ["1234", "000000", "98765"])
def test_valid_pins(pin: str) -> None:
    assert valid_pin(pin)


@pytest.mark.parametrize("pin", ["", "123", "1234567", "12a4", " 1234", "1234\n", "١٢٣٤", "１２３４"])
def test_malformed_pins(pin: str) -> None:
    assert not valid_pin(pin)
    with pytest.raises(AgentError):
        hash_pin(pin)


def test_a_pin_is_stored_as_a_light_argon2id_hash() -> None:
    pin_hash = hash_pin("1234")
    assert "1234" not in pin_hash
    assert pin_hash.startswith("$argon2id$")
    assert hash_pin("1234") != pin_hash  # salted
    assert pin_matches(pin_hash, "1234")
    assert not pin_matches(pin_hash, "1235")
    assert not pin_matches("not a hash", "1234")
    # The lightest argon2id (under 1 ms a check): the lockout, not the cost, protects a PIN.
    parameters = argon2.extract_parameters(pin_hash)
    assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (1, 2048, 1)


def test_a_pin_hashed_with_older_parameters_moves_to_the_current_ones_at_login(
    db_session: Session, service: AgentService, agent: Agent
) -> None:
    agent.pin_hash = argon2.PasswordHasher(time_cost=3, memory_cost=12_288, parallelism=1).hash("2468")
    db_session.flush()
    old = agent.pin_hash
    assert not service.verify_pin(agent.id, "1111").ok
    assert stored(db_session, "WFC-TST-001").pin_hash == old  # a wrong PIN changes nothing
    assert service.verify_pin(agent.id, "2468").ok
    upgraded = stored(db_session, "WFC-TST-001").pin_hash
    parameters = argon2.extract_parameters(upgraded)
    assert (parameters.time_cost, parameters.memory_cost) == (1, 2048) and pin_matches(upgraded, "2468")


# Lockout -------------------------------------------------------------------------------


def test_the_right_pin_verifies(service: AgentService, agent: Agent) -> None:
    check = service.verify_pin(agent.id, "2468")
    assert check.ok and check.status is PinStatus.OK


def test_three_wrong_pins_lock_the_agent(db_session: Session, service: AgentService, agent: Agent) -> None:
    assert [service.verify_pin(agent.id, "1111").tries_left for _ in range(MAX_PIN_TRIES - 1)] == [2, 1]
    third = service.verify_pin(agent.id, "1111")
    assert (third.status, third.tries_left) == (PinStatus.LOCKED, 0)
    row = stored(db_session, "WFC-TST-001")
    assert (row.status, row.failed_pin_attempts) == ("locked", 3)


def test_a_locked_agent_is_refused_even_with_the_right_pin(
    db_session: Session, service: AgentService, agent: Agent
) -> None:
    for _ in range(MAX_PIN_TRIES):
        service.verify_pin(agent.id, "0000")
    assert service.verify_pin(agent.id, "2468").status is PinStatus.LOCKED
    # Still an agent to the menu, which must tell them to ask staff.
    found = service.active_agent_for_phone(PHONE)
    assert found is not None and found.status == "locked"


def test_the_right_pin_resets_the_count(db_session: Session, service: AgentService, agent: Agent) -> None:
    service.verify_pin(agent.id, "1111")
    service.verify_pin(agent.id, "1111")
    assert service.verify_pin(agent.id, "2468").ok
    assert stored(db_session, "WFC-TST-001").failed_pin_attempts == 0
    check = service.verify_pin(agent.id, "1111")
    assert (check.status, check.tries_left) == (PinStatus.WRONG, 2)


def test_wrong_pins_are_counted_in_the_database(db_session: Session, service: AgentService, agent: Agent) -> None:
    service.verify_pin(agent.id, "1111")
    db_session.commit()
    db_session.expire_all()
    # Another hop (another service, the row read afresh) continues the count.
    other = AgentService(db=db_session, clock=service.clock)
    again = other.active_agent_for_phone(PHONE)
    assert again is not None
    assert other.verify_pin(again.id, "1111").tries_left == 1


def test_unlock(db_session: Session, service: AgentService, agent: Agent) -> None:
    for _ in range(MAX_PIN_TRIES):
        service.verify_pin(agent.id, "0000")
    unlock(db_session, agent_code="wfc-tst-001")
    row = stored(db_session, "WFC-TST-001")
    assert (row.status, row.failed_pin_attempts) == ("active", 0)
    assert service.verify_pin(row.id, "2468").ok


def test_disable_hides_the_agent(db_session: Session, service: AgentService, agent: Agent) -> None:
    assert service.active_agent_for_phone(PHONE) is not None
    disable(db_session, agent_code="WFC-TST-001")
    assert service.active_agent_for_phone(PHONE) is None
    assert service.verify_pin(agent.id, "2468").status is PinStatus.LOCKED
    with pytest.raises(AgentError, match="disabled"):
        unlock(db_session, agent_code="WFC-TST-001")
    with pytest.raises(AgentError, match="disabled"):
        reset_pin(db_session, agent_code="WFC-TST-001", pin="1357")


def test_an_unknown_phone_is_no_agent(service: AgentService, agent: Agent) -> None:
    assert service.active_agent_for_phone("+212700000099") is None


# Changing and resetting the PIN ----------------------------------------------------------


def test_change_pin(db_session: Session, service: AgentService, agent: Agent) -> None:
    assert service.change_pin(agent, old_pin="2468", new_pin="8642").ok
    row = stored(db_session, "WFC-TST-001")
    assert pin_matches(row.pin_hash, "8642")
    assert not pin_matches(row.pin_hash, "2468")


def test_change_pin_needs_the_old_pin(db_session: Session, service: AgentService, agent: Agent) -> None:
    check = service.change_pin(agent, old_pin="1111", new_pin="8642")
    assert (check.status, check.tries_left) == (PinStatus.WRONG, 2)
    row = stored(db_session, "WFC-TST-001")
    assert pin_matches(row.pin_hash, "2468")
    assert row.failed_pin_attempts == 1


@pytest.mark.parametrize("new_pin", ["12", "abcd", "2468"])
def test_change_pin_refuses_a_bad_or_same_new_pin(
    db_session: Session, service: AgentService, agent: Agent, new_pin: str
) -> None:
    with pytest.raises(AgentError):
        service.change_pin(agent, old_pin="2468", new_pin=new_pin)
    row = stored(db_session, "WFC-TST-001")
    assert pin_matches(row.pin_hash, "2468")
    assert row.failed_pin_attempts == 0


def test_reset_pin(db_session: Session, service: AgentService, agent: Agent) -> None:
    service.verify_pin(agent.id, "1111")
    reset_pin(db_session, agent_code="WFC-TST-001", pin="1357")
    row = stored(db_session, "WFC-TST-001")
    assert row.failed_pin_attempts == 0
    assert service.verify_pin(row.id, "1357").ok
    assert service.verify_pin(row.id, "2468").status is PinStatus.WRONG


def test_no_pin_reaches_the_logs(caplog: pytest.LogCaptureFixture, db_session: Session, service: AgentService) -> None:
    caplog.set_level(logging.DEBUG)
    agent = create_agent(db_session, network="wafacash", agent_code="WFC-LOG-001", phone=PHONE, pin="9173")
    service.change_pin(agent, old_pin="9173", new_pin="5820")
    for _ in range(MAX_PIN_TRIES):
        service.verify_pin(agent.id, "4096")
    reset_pin(db_session, agent_code="WFC-LOG-001", pin="3141")
    assert "locked" in caplog.text
    for pin in ("9173", "5820", "4096", "3141"):
        assert pin not in caplog.text


# Staff operations: refusals -------------------------------------------------------------


def test_create_agent_normalises_code_and_phone(db_session: Session) -> None:
    agent = create_agent(db_session, network="fellah_cash", agent_code=" flc-tst-9 ", phone="0612345678", pin="1234")
    assert (agent.agent_code, agent.phone, agent.status, agent.failed_pin_attempts) == (
        "FLC-TST-9",
        "+212612345678",
        "active",
        0,
    )
    assert agent.pin_hash != "1234" and pin_matches(agent.pin_hash, "1234")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(network="cashplus"), "unknown network"),
        (dict(agent_code="WFC-TST-001"), "already exists"),
        (dict(agent_code="WFC-TST-002", phone=PHONE), "already the phone"),
        (dict(phone="+212522000000"), "Moroccan mobile"),  # a landline
        (dict(phone="+33612345678"), "Moroccan mobile"),
        (dict(pin="12345678"), "4 to 6 digits"),
        (dict(agent_code="W"), "agent code"),
        (dict(cash_point_code="NOWHERE"), "no cash point"),
        (dict(cash_point_code="FLC-TST-POINT"), "belongs to fellah_cash"),
    ],
)
def test_create_agent_refusals(db_session: Session, agent: Agent, changes: dict[str, str], message: str) -> None:
    ensure_cash_point(
        db_session,
        network="fellah_cash",
        code="FLC-TST-POINT",
        name="Fellah Cash test",
        address="",
        commune_code="07.351.01.0",
        opening_hours="",
    )
    values = dict(network="wafacash", agent_code="WFC-TST-002", phone="+212700000012", pin="1234")
    values.update(changes)
    with pytest.raises(AgentError, match=message):
        create_agent(db_session, **values)


@pytest.mark.parametrize("operation", ["unlock", "disable", "reset_pin"])
def test_unknown_codes_are_refused(db_session: Session, operation: str) -> None:
    with pytest.raises(AgentError, match="no agent WFC-NOBODY"):
        if operation == "reset_pin":
            reset_pin(db_session, agent_code="WFC-NOBODY", pin="1234")
        else:
            {"unlock": unlock, "disable": disable}[operation](db_session, agent_code="WFC-NOBODY")


def test_ensure_cash_point_inserts_then_updates(db_session: Session) -> None:
    values = dict(
        network="wafacash", code="WFC-TST-POINT", address="Place Batha", commune_code="03.231.01.0", opening_hours=""
    )
    first = ensure_cash_point(db_session, name="Wafacash Batha", **values)
    second = ensure_cash_point(db_session, name="Wafacash Fès Batha", **values)
    assert first.id == second.id
    db_session.expire_all()
    rows = db_session.scalars(select(CashPoint).where(CashPoint.code == "WFC-TST-POINT")).all()
    assert [row.name for row in rows] == ["Wafacash Fès Batha"]
    with pytest.raises(AgentError, match="unknown network"):
        ensure_cash_point(db_session, name="x", **{**values, "network": "cashplus"})


# CLI -------------------------------------------------------------------------------------


def test_cli_create_prompts_for_a_hidden_pin(app: Flask, db_session: Session) -> None:
    ensure_cash_point(
        db_session,
        network="wafacash",
        code="WFC-TST-POINT",
        name="Wafacash test",
        address="",
        commune_code="03.231.01.0",
        opening_hours="",
    )
    runner = app.test_cli_runner()
    args = ["agents", "create", "--network", "wafacash", "--code", "WFC-CLI-001", "--phone", "+212700000021"]
    result = runner.invoke(args=[*args, "--cash-point", "WFC-TST-POINT"], input="8023\n8023\n")
    assert result.exit_code == 0, result.output
    assert "8023" not in result.output
    assert "WFC-CLI-001 created" in result.output
    assert "+212700000021" not in result.output  # masked
    row = stored(db_session, "WFC-CLI-001")
    assert row.pin_hash != "8023" and "8023" not in row.pin_hash
    assert pin_matches(row.pin_hash, "8023")
    assert row.cash_point_id is not None


def test_cli_create_asks_again_when_the_confirmation_differs(app: Flask, db_session: Session) -> None:
    args = ["agents", "create", "--network", "fellah_cash", "--code", "FLC-CLI-001", "--phone", "0700000022"]
    result = app.test_cli_runner().invoke(args=args, input="8023\n8024\n5566\n5566\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert not any(pin in result.output for pin in ("8023", "8024", "5566"))
    assert pin_matches(stored(db_session, "FLC-CLI-001").pin_hash, "5566")


def test_cli_create_reads_the_pin_from_stdin(app: Flask, db_session: Session) -> None:
    args = ["agents", "create", "--network", "wafacash", "--code", "WFC-CLI-002", "--phone", "+212700000023"]
    result = app.test_cli_runner().invoke(args=[*args, "--pin-stdin"], input="7391\n")
    assert result.exit_code == 0, result.output
    assert "7391" not in result.output
    assert pin_matches(stored(db_session, "WFC-CLI-002").pin_hash, "7391")


def test_cli_has_no_pin_option(app: Flask, db_session: Session) -> None:
    args = ["agents", "create", "--network", "wafacash", "--code", "WFC-CLI-003", "--phone", "+212700000024"]
    result = app.test_cli_runner().invoke(args=[*args, "--pin", "1234"])
    assert result.exit_code != 0
    assert db_session.scalar(select(Agent).where(Agent.agent_code == "WFC-CLI-003")) is None


def test_cli_refusals_are_clean_errors(app: Flask, db_session: Session, agent: Agent) -> None:
    runner = app.test_cli_runner()
    args = ["agents", "create", "--network", "wafacash", "--code", "WFC-CLI-004", "--phone", "+212700000025"]
    bad_pin = runner.invoke(args=[*args, "--pin-stdin"], input="12ab\n")
    assert bad_pin.exit_code == 1 and "4 to 6 digits" in bad_pin.output and "12ab" not in bad_pin.output
    taken = runner.invoke(
        args=["agents", "create", "--network", "wafacash", "--code", "WFC-CLI-004", "--phone", PHONE, "--pin-stdin"],
        input="1234\n",
    )
    assert taken.exit_code == 1 and "already the phone of agent WFC-TST-001" in taken.output
    unknown = runner.invoke(args=["agents", "unlock", "WFC-NOBODY"])
    assert unknown.exit_code == 1 and "no agent WFC-NOBODY" in unknown.output
    assert db_session.scalar(select(Agent).where(Agent.agent_code == "WFC-CLI-004")) is None


def test_cli_reset_unlock_disable(app: Flask, db_session: Session, service: AgentService, agent: Agent) -> None:
    for _ in range(MAX_PIN_TRIES):
        service.verify_pin(agent.id, "0000")
    db_session.commit()
    runner = app.test_cli_runner()
    reset = runner.invoke(args=["agents", "reset-pin", "WFC-TST-001"], input="6060\n6060\n")
    assert reset.exit_code == 0, reset.output
    assert "6060" not in reset.output
    assert stored(db_session, "WFC-TST-001").status == "locked"
    unlocked = runner.invoke(args=["agents", "unlock", "WFC-TST-001"])
    assert unlocked.exit_code == 0 and "active" in unlocked.output
    row = stored(db_session, "WFC-TST-001")
    assert service.verify_pin(row.id, "6060").ok
    disabled = runner.invoke(args=["agents", "disable", "WFC-TST-001"])
    assert disabled.exit_code == 0 and "disabled" in disabled.output
    assert service.active_agent_for_phone(PHONE) is None
