"""Identification that cannot be raced or used to probe, digits as phones send them, and
no typed secret in Redis or in the logs (issue 11, points 4, 8 and 9)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

import pytest
import redis
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway import db
from gateway.clock import MOROCCO
from gateway.logs import JsonFormatter
from gateway.registration.service import RegistryService
from gateway.reimbursements.service import resend_pick_up, upsert_claim
from menus.i18n import Translator
from menus.ports import ResendOutcome
from models import Agent, Artisan, IdentificationAttempt, OutboxMessage, PhoneLink, ReimbursementClaim
from tests.conftest import CALLBACK_KEY, REDIS_URL
from tests.functional.test_payment_flows import reference_in
from tests.helpers import Dialer, FrozenClock

AR, FR = Translator("ar"), Translator("fr")
OMAR_CIN, OMAR_YEAR = "JB123456", "1980"
FATIMA, FATIMA_CIN, FATIMA_YEAR = "+212600000001", "CD234567", "1975"
LOCKED = "Identification is locked for 24 hours after 3 failed tries. Please try again later."


# Racing wrong guesses: the committed demo, one connection per request, on both databases.


def _dialer(app: Flask) -> type[Dialer]:
    def post(url: str, form: dict[str, str]) -> tuple[int, str]:
        response = app.test_client().post(url, data=form)
        return response.status_code, response.get_data(as_text=True)

    class AppDialer(Dialer):
        def __init__(self, phone: str) -> None:
            super().__init__(post, phone, key=CALLBACK_KEY)

    return AppDialer


def _at_once(calls: list[Callable[[], str]]) -> list[str]:
    """Run every call in its own thread, released together."""
    barrier = threading.Barrier(len(calls))
    replies: list[str] = [""] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        replies[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return replies


def _evaluated(app: Flask, phones: list[str]) -> list[str]:
    """Outcomes of the tries that were evaluated (a try refused as locked records none)."""
    with app.app_context():
        session = db.get_db()
        return list(
            session.scalars(select(IdentificationAttempt.outcome).where(IdentificationAttempt.phone.in_(phones)))
        )


@pytest.mark.parametrize("committed_app", ["postgresql", "sqlite"], indirect=True)
def test_twenty_concurrent_wrong_guesses_for_one_cin_from_twenty_phones_evaluate_3(committed_app: Flask) -> None:
    dial = _dialer(committed_app)
    phones = [dial(f"+2126111100{n:02d}") for n in range(20)]
    for phone in phones:
        phone.start()
        phone.send("1", OMAR_CIN)  # the CIN hop, one after another: each now waits for the year
    replies = _at_once([lambda phone=phone: phone.send("1981") for phone in phones])  # type: ignore[misc]
    outcomes = _evaluated(committed_app, [phone.phone for phone in phones])
    assert outcomes == ["wrong_birth_year"] * 3, outcomes
    # Every caller got a screen: two "tries left", then the lock for the third and the 17 refused.
    assert all(reply.startswith(("CON ", "END ")) for reply in replies), replies
    assert sum(AR(LOCKED) in reply for reply in replies) == 18
    # The CIN stays locked, even for the right year from a fresh phone.
    late = dial("+212611110099")
    late.start()
    assert AR(LOCKED) in late.send("1", OMAR_CIN, OMAR_YEAR)
    with committed_app.app_context():
        assert db.get_db().scalar(select(Artisan.phone).where(Artisan.cin == OMAR_CIN)) is None


@pytest.mark.parametrize("committed_app", ["postgresql", "sqlite"], indirect=True)
def test_twenty_concurrent_guesses_from_one_phone_evaluate_3(committed_app: Flask) -> None:
    dial = _dialer(committed_app)
    sessions = [dial("+212611112222") for _ in range(20)]
    for n, session in enumerate(sessions):
        session.start()
        session.send("1", f"ZZ{100000 + n}")  # twenty CINs, none known: only the phone's count limits
    replies = _at_once([lambda session=session: session.send("1990") for session in sessions])  # type: ignore[misc]
    outcomes = _evaluated(committed_app, ["+212611112222"])
    assert outcomes == ["unknown_cin"] * 3, outcomes
    assert sum(AR(LOCKED) in reply for reply in replies) == 18, replies


# One answer for an unknown CIN and a wrong year.


def test_an_unknown_cin_and_a_wrong_year_get_the_same_bytes_and_count_the_same(
    dial: type[Dialer], demo: Session
) -> None:
    unknown, wrong_year = dial("+212622220001"), dial("+212622220002")
    answers = []
    for phone, cin in ((unknown, "ZZ999999"), (wrong_year, OMAR_CIN)):
        phone.start()
        answers.append([phone.send("1", cin, "1990"), phone.send("1", cin, "1991")])
    assert answers[0] == answers[1]
    assert FR("1 Try again") not in answers[0][0] and AR("1 Try again") in answers[0][0]
    assert AR("2 How to register in the RNA (SMS)") in answers[0][1]
    # Both count: the third failure locks either phone alike.
    third = [phone.send("1", cin, "1992") for phone, cin in ((unknown, "ZZ999999"), (wrong_year, OMAR_CIN))]
    assert third[0] == third[1] == "END " + AR(LOCKED)
    outcomes = demo.scalars(
        select(IdentificationAttempt.outcome)
        .where(IdentificationAttempt.phone.in_([unknown.phone, wrong_year.phone]))
        .order_by(IdentificationAttempt.phone)
    ).all()
    assert outcomes == ["unknown_cin"] * 3 + ["wrong_birth_year"] * 3  # kept apart for the dashboard only


def test_the_common_answer_still_offers_how_to_register_in_the_rna(dial: type[Dialer], demo: Session) -> None:
    phone = dial("+212622220003")
    phone.start()
    phone.send("1", "ZZ999999", "1990")
    assert phone.send("2").startswith("END ")
    message = demo.scalar(select(OutboxMessage).where(OutboxMessage.recipient == phone.phone))
    assert message is not None and message.template == "rna_registration_help"


# The cooldown of a phone newly linked by identification.


def _identify_as_fatima(dial: type[Dialer], phone_number: str) -> None:
    phone = dial(phone_number)
    phone.start()
    assert FR("Your phone is now linked to your file.") in phone.send("6", "2", "1", FATIMA_CIN, FATIMA_YEAR)


def _claim_screen(dial: type[Dialer], phone_number: str) -> str:
    phone = dial(phone_number)
    phone.start()
    # 00: past the offer to resume the session cut off after identifying. Then my
    # reimbursements, the newest: DEMO-CLM-0001, ready at Fellah Cash.
    screen = phone.send("00", "3", "1")
    text = screen
    while FR("98 More") in screen or AR("98 More") in screen:
        screen = phone.send("98")
        text += "\n" + screen
    return text


def test_a_newly_linked_phone_sees_no_pick_up_code_for_72_hours(
    dial: type[Dialer], demo: Session, clock: FrozenClock
) -> None:
    fatima = demo.scalar(select(Artisan).where(Artisan.cin == FATIMA_CIN))
    assert fatima is not None
    fatima.phone = None  # a lost SIM: staff unlinked it, or the network gave the number away
    demo.flush()
    new_phone = "+212633330001"
    _identify_as_fatima(dial, new_phone)
    screen = _claim_screen(dial, new_phone)
    assert "FC-4821-7730" not in screen
    shown_from = (clock() + dt.timedelta(hours=72)).astimezone(MOROCCO)
    assert FR("Pick-up code shown from {when}", when=f"{shown_from:%d/%m %H:%M}") in screen
    assert FR("1 Send the code again by SMS") not in screen
    # Not by SMS either, were the resend asked for: the SMS says when instead.
    claim = demo.scalar(select(ReimbursementClaim).where(ReimbursementClaim.claim_number == "DEMO-CLM-0001"))
    assert claim is not None
    outcome = resend_pick_up(demo, artisan_id=fatima.id, claim_id=claim.id, clock=clock, default_language="ar")
    assert outcome is ResendOutcome.SENT
    sms = demo.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == new_phone).order_by(OutboxMessage.id)
    ).all()
    assert [m.template for m in sms] == ["phone_linked", "claim_available_later"]
    assert all("FC-4821-7730" not in m.body for m in sms)
    assert f"{shown_from:%d/%m %H:%M}" in sms[-1].body
    # 72 hours later the code shows, and may be sent again.
    clock.advance(hours=72, minutes=1)
    screen = _claim_screen(dial, new_phone)
    assert FR("Pick-up code: {code}", code="FC-4821-7730") in screen
    assert FR("1 Send the code again by SMS") in screen


def test_the_ready_sms_to_a_phone_in_its_cooldown_says_when_instead_of_the_code(
    dial: type[Dialer], demo: Session, clock: FrozenClock
) -> None:
    fatima = demo.scalar(select(Artisan).where(Artisan.cin == FATIMA_CIN))
    assert fatima is not None
    fatima.phone = None
    demo.flush()
    _identify_as_fatima(dial, "+212633330002")
    until = clock().date() + dt.timedelta(days=10)
    for status in ("received", "available"):
        upsert_claim(
            demo, claim_number="CLM-COOL-1", cin=FATIMA_CIN, amount_centimes=12300, status=status,
            network="wafacash" if status == "available" else None,
            pick_up_code="WF-1111-2222" if status == "available" else None,
            available_until=until if status == "available" else None,
            clock=clock, default_language="ar",
        )  # fmt: skip
    last = demo.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == "+212633330002").order_by(OutboxMessage.id)
    ).all()[-1]
    assert last.template == "claim_available_later" and "WF-1111-2222" not in last.body


def test_the_previously_linked_phone_is_told_and_the_new_one_waits(
    dial: type[Dialer], demo: Session, clock: FrozenClock
) -> None:
    """Fatima's phone, linked by staff, is in no cooldown; a phone that identifies as her
    (her CIN and year were enough) takes the file over, and her old phone is told."""
    assert "FC-4821-7730" in _claim_screen(dial, FATIMA)
    _identify_as_fatima(dial, "+212633330003")
    warned = demo.scalar(
        select(OutboxMessage).where(OutboxMessage.recipient == FATIMA, OutboxMessage.template == "phone_unlinked")
    )
    assert warned is not None and "0003" in warned.body
    link = demo.scalar(select(PhoneLink).where(PhoneLink.phone == "+212633330003"))
    assert link is not None and link.pick_up_codes_from == clock() + dt.timedelta(hours=72)
    assert "FC-4821-7730" not in _claim_screen(dial, "+212633330003")


# Digits as phones send them.


def test_arabic_indic_digits_are_read_as_ascii(dial: type[Dialer], demo: Session) -> None:
    phone = dial("+212600000009")
    phone.start()
    phone.send("1", OMAR_CIN, "1981", "1", OMAR_CIN, "1982", "1")  # two failures: one try left
    # The third try matches (and gives its count back), typed in Arabic-Indic digits.
    assert AR("Your phone is now linked to your file.") in phone.send("JB١٢٣٤٥٦", "١٩٨٠")
    extended = dial("+212600000002")
    extended.start()
    assert "CON " in extended.send("۲")  # Extended Arabic-Indic: option 2, pay


def test_a_reference_and_a_pin_in_arabic_indic_digits(dial: type[Dialer], demo: Session) -> None:
    youssef = dial("+212600000002")
    youssef.start()
    reference = reference_in(youssef.send("2", "1", "1", "1")).replace(" ", "")
    agent = dial("+212700000001")
    agent.start()
    # Superscripts or letters are no digits: the PIN screen again, no wrong PIN counted;
    # a refused reference, never a failure.
    for typed in ("¹²³⁴", "12a4"):
        reply = agent.send(typed)
        assert reply.startswith("CON ") and AR("A PIN is 4 to 6 digits.") in reply, reply
    assert demo.scalar(select(Agent.failed_pin_attempts).where(Agent.agent_code == "WFC-FES-001")) == 0
    superscripts = reference.translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    reply = agent.send("١٢٣٤", "1", superscripts)
    assert reply.startswith("CON ") and AR("Reference (10 digits):") in reply
    arabic = reference.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert AR("1 Cash received") in agent.send(arabic)


def test_look_alike_digits_are_an_invalid_answer_not_a_failure(dial: type[Dialer], demo: Session) -> None:
    phone = dial("+212600000009")
    phone.start()
    # Superscripts are no decimal digits: the year screen again with its error line.
    for answers, expected in (
        (["1", "JB¹²³⁴⁵⁶"], "A CIN is 1 or 2 letters then digits."),
        ([OMAR_CIN, "¹⁹⁸⁰"], "Enter 4 digits, e.g. 1980."),
    ):
        reply = phone.send(*answers)
        assert reply.startswith("CON ") and AR(expected) in reply, reply
    assert demo.scalar(select(func.count()).select_from(IdentificationAttempt)) == 0  # no try counted


def test_a_hop_that_raises_logs_no_typed_text(
    dial: type[Dialer], demo: Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(self: RegistryService, *, phone: str, cin: object, birth_year: int, language: str) -> None:
        try:
            int(f"year {birth_year}")  # an inner error quoting the input...
        except ValueError as inner:
            raise RuntimeError(f"identify failed for {birth_year}") from inner  # ...and an outer one

    monkeypatch.setattr(RegistryService, "identify", explode)
    phone = dial("+212600000009")
    phone.start()
    with caplog.at_level(logging.INFO):
        reply = phone.send("1", OMAR_CIN, "1957")
    assert reply == "END " + AR("Service unavailable. Please try again later.")
    records = [record for record in caplog.records if record.getMessage() == "hop failed"]
    assert records, "the failure is logged"
    formatter, plain = JsonFormatter(), logging.Formatter()
    for record in caplog.records:
        for text in (formatter.format(record), plain.format(record)):
            assert "1957" not in text and OMAR_CIN not in text, text
    assert "RuntimeError" in formatter.format(records[0]) and "ValueError" in formatter.format(records[0])


# No typed secret in Redis.


def _redis_values(prefix: str) -> list[bytes]:
    client = redis.Redis.from_url(REDIS_URL)
    values = []
    for key in client.scan_iter(match=prefix + "*", count=1000):
        if client.type(key) == b"string":
            value = client.get(key)
            if value is not None:
                values.append(value)
    return values


def test_redis_keeps_neither_the_cin_between_hops_nor_a_new_pin(
    dial: type[Dialer], demo: Session, redis_prefix: str
) -> None:
    phone = dial("+212600000009")
    phone.start()
    phone.send("1", OMAR_CIN)  # waiting for the year of birth
    values = _redis_values(redis_prefix)
    assert values and not any(OMAR_CIN.encode() in value for value in values)
    agent = dial("+212700000002")
    agent.start()
    agent.send("1234", "4", "1234", "864209")  # change PIN: waiting for the new PIN again
    assert FR("Type the new PIN again:") in agent.screens[-1] or AR("Type the new PIN again:") in agent.screens[-1]
    assert not any(b"864209" in value for value in _redis_values(redis_prefix))
    assert AR("PIN changed.") in agent.send("864209")
    row = demo.scalar(select(Agent).where(Agent.phone == "+212700000002"))
    assert row is not None and row.pin_hash.startswith("$argon2id$")
    assert demo.scalar(select(func.count()).select_from(Agent).where(Agent.pin_hash.contains("864209"))) == 0


def test_demo_load_clears_the_demo_cin_lock(app: Flask, dial: type[Dialer], demo: Session) -> None:
    """Three wrong years for Omar's CIN from three phones lock the CIN; `flask demo load`
    starts the demo afresh, so the demo phone can identify Omar again."""
    for number in ("+212622230001", "+212622230002", "+212622230003"):
        phone = dial(number)
        phone.start()
        phone.send("1", OMAR_CIN, "1990")
    omar = dial("+212600000009")
    omar.start()
    assert omar.send("1", OMAR_CIN, OMAR_YEAR) == "END " + AR(LOCKED)
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    omar = dial("+212600000009")
    omar.start()
    assert omar.send("1", OMAR_CIN, OMAR_YEAR) != "END " + AR(LOCKED)
    assert demo.scalar(select(Artisan.phone).where(Artisan.cin == OMAR_CIN)) == "+212600000009"
