"""Calls out (issue 14 point 5): reminders and "your reimbursement is ready" as a call to an
artisan who chose it, placed by the real `africastalking` SDK's `voice.call` against a
local fake AT voice server over HTTP, on real PostgreSQL (and SQLite for the race)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import MOROCCO
from gateway.config import Settings
from gateway.reimbursements.service import upsert_claim
from gateway.sms.fake_africastalking import API_KEY
from gateway.sms.reminders import send_reminders
from gateway.sms_app import app_session
from gateway.voice.call_outbox import queue_call
from gateway.voice.caller import AfricasTalkingCaller
from gateway.voice.calls import Outcome, Placed, call_message, place_call, record_outcome
from gateway.voice.fake_africastalking_voice import FakeAfricasTalkingVoice
from models import Artisan, CallOutbox, OutboxMessage
from tests.helpers import FrozenClock

VOICE_NUMBER = "+212520000000"
YOUSSEF, AICHA, FATIMA = "+212600000002", "+212600000003", "+212600000001"
NOVEMBER = dt.date(2026, 11, 1)


@pytest.fixture
def fake_voice() -> Iterator[FakeAfricasTalkingVoice]:
    with FakeAfricasTalkingVoice() as server:
        yield server


@pytest.fixture
def voice_settings(settings: Settings, fake_voice: FakeAfricasTalkingVoice) -> Settings:
    return dataclasses.replace(
        settings,
        at_username="hirfa",
        at_api_key=API_KEY,
        at_voice_number=VOICE_NUMBER,
        at_voice_api_base_url=fake_voice.base_url,
        at_timeout_seconds=2.0,
    )


@pytest.fixture
def caller(voice_settings: Settings) -> AfricasTalkingCaller:
    return AfricasTalkingCaller.from_settings(voice_settings)


def _artisan(db: Session, phone: str) -> Artisan:
    artisan = db.scalar(select(Artisan).where(Artisan.phone == phone))
    assert artisan is not None
    return artisan


def _prefers_voice(db: Session, phone: str) -> Artisan:
    artisan = _artisan(db, phone)
    artisan.reminders_by = "voice"
    db.commit()
    return artisan


def _remind(db: Session, settings: Settings) -> None:
    send_reminders(db_session=db, settings=settings, month=NOVEMBER, today=dt.date(2026, 11, 24), code="*4242#")


def _calls(db: Session, artisan: Artisan) -> list[CallOutbox]:
    return list(db.scalars(select(CallOutbox).where(CallOutbox.artisan_id == artisan.id)))


def _sms(db: Session, phone: str, template: str) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.recipient == phone, OutboxMessage.template == template)
    return list(db.scalars(query))


def test_the_sdk_call_url_is_the_fake_when_set_and_africas_talking_otherwise(voice_settings: Settings) -> None:
    assert AfricasTalkingCaller.from_settings(voice_settings).call_url == voice_settings.at_voice_api_base_url + "/call"
    live = dataclasses.replace(voice_settings, at_voice_api_base_url="")
    assert AfricasTalkingCaller.from_settings(live).call_url == "https://voice.africastalking.com/call"


def test_a_voice_artisans_reminder_is_a_call_and_the_others_still_an_sms(
    demo: Session,
    voice_settings: Settings,
    caller: AfricasTalkingCaller,
    fake_voice: FakeAfricasTalkingVoice,
    clock: FrozenClock,
) -> None:
    youssef = _prefers_voice(demo, YOUSSEF)
    _remind(demo, voice_settings)

    [call] = _calls(demo, youssef)
    assert (call.kind, call.status, call.month, call.phone) == ("dues_reminder", "queued", "2026-11", YOUSSEF)
    assert _sms(demo, YOUSSEF, "dues_reminder") == []  # the call instead of the SMS
    assert len(_sms(demo, AICHA, "dues_reminder")) == 1  # SMS stays the default

    # 10:00 UTC is 11:00 in Casablanca: no quiet hours.
    placed = place_call(db_session=demo, caller=caller, settings=voice_settings, clock=clock, call_id=call.id)
    assert placed is Placed.CALLING
    [received] = fake_voice.received
    assert (received.call_from, received.call_to, received.username) == (VOICE_NUMBER, YOUSSEF, "hirfa")
    demo.refresh(call)
    assert call.status == "calling" and call.attempts == 1 and call.session_id == received.session_id

    # Running the job again (RQ retried it, the sweep queued it) calls nobody.
    assert place_call(db_session=demo, caller=caller, settings=voice_settings, clock=clock, call_id=call.id) is (
        Placed.SKIPPED
    )
    assert len(fake_voice.received) == 1

    # What the voice channel plays when Youssef answers: his dues, in his language (ar).
    message = call_message(demo, settings=voice_settings, now=clock(), session_id=received.session_id)
    assert message is not None and message.call_id == call.id and message.language == "ar"
    assert "405.00 درهم" in message.text and "*4242#" in message.text and "09/2026-11/2026" in message.text

    # AT's last callback: answered, 42 s. The same report again changes nothing.
    assert record_outcome(demo, received.session_id or "", "Success", 42, settings=voice_settings, now=clock()) is (
        Outcome.ANSWERED
    )
    demo.commit()
    assert record_outcome(demo, received.session_id or "", "Success", 42, settings=voice_settings, now=clock()) is (
        Outcome.ALREADY
    )
    demo.refresh(call)
    assert (call.status, call.duration_seconds, call.fallback_sms_id) == ("answered", 42, None)
    assert _sms(demo, YOUSSEF, "dues_reminder") == []
    assert record_outcome(demo, "ATVId_nobody", "Success", 1, settings=voice_settings, now=clock()) is Outcome.UNKNOWN


def test_without_calls_out_set_up_a_voice_artisan_still_gets_the_sms(
    demo: Session, settings: Settings, clock: FrozenClock
) -> None:
    youssef = _prefers_voice(demo, YOUSSEF)
    _remind(demo, settings)  # no AT_VOICE_NUMBER
    assert _calls(demo, youssef) == [] and len(_sms(demo, YOUSSEF, "dues_reminder")) == 1


def test_quiet_hours_hold_the_call_until_morning(
    demo: Session,
    voice_settings: Settings,
    caller: AfricasTalkingCaller,
    fake_voice: FakeAfricasTalkingVoice,
    clock: FrozenClock,
) -> None:
    youssef = _prefers_voice(demo, YOUSSEF)
    _remind(demo, voice_settings)
    [call] = _calls(demo, youssef)
    clock.now = dt.datetime(2026, 11, 24, 22, 30, tzinfo=MOROCCO).astimezone(dt.UTC)
    assert place_call(db_session=demo, caller=caller, settings=voice_settings, clock=clock, call_id=call.id) is (
        Placed.DEFERRED
    )
    demo.refresh(call)
    assert call.status == "queued" and call.attempts == 0
    assert call.next_at == dt.datetime(2026, 11, 25, 8, 0, tzinfo=MOROCCO).astimezone(dt.UTC)
    clock.now = dt.datetime(2026, 11, 25, 7, 59, tzinfo=MOROCCO).astimezone(dt.UTC)  # still quiet: not due
    assert place_call(db_session=demo, caller=caller, settings=voice_settings, clock=clock, call_id=call.id) is (
        Placed.SKIPPED
    )
    assert fake_voice.received == []
    clock.now = dt.datetime(2026, 11, 25, 8, 0, tzinfo=MOROCCO).astimezone(dt.UTC)
    assert place_call(db_session=demo, caller=caller, settings=voice_settings, clock=clock, call_id=call.id) is (
        Placed.CALLING
    )
    assert [c.call_to for c in fake_voice.received] == [YOUSSEF]


def test_a_failed_call_is_tried_once_more_then_an_sms_goes_instead(
    demo: Session,
    voice_settings: Settings,
    caller: AfricasTalkingCaller,
    fake_voice: FakeAfricasTalkingVoice,
    clock: FrozenClock,
) -> None:
    youssef = _prefers_voice(demo, YOUSSEF)
    _remind(demo, voice_settings)
    [call] = _calls(demo, youssef)

    fake_voice.script("server_error")  # AT refuses the first request
    assert place_call(db_session=demo, caller=caller, settings=voice_settings, clock=clock, call_id=call.id) is (
        Placed.RETRY
    )
    demo.refresh(call)
    assert call.status == "queued" and call.attempts == 1 and "HTTP error" in (call.outcome or "")
    assert call.next_at == clock() + dt.timedelta(minutes=30)
    assert place_call(db_session=demo, caller=caller, settings=voice_settings, clock=clock, call_id=call.id) is (
        Placed.SKIPPED  # not due yet
    )

    clock.advance(minutes=30)
    assert place_call(db_session=demo, caller=caller, settings=voice_settings, clock=clock, call_id=call.id) is (
        Placed.CALLING
    )
    session_id = fake_voice.received[-1].session_id or ""
    # Nobody picks up: AT's last callback says NotAnswered. No third call: the SMS instead.
    outcome = record_outcome(
        demo, session_id, "NotAnswered", 0, settings=voice_settings, now=clock(), hangup_cause="NO_ANSWER"
    )
    demo.commit()
    assert outcome is Outcome.GAVE_UP
    demo.refresh(call)
    assert (call.status, call.attempts, call.outcome) == ("no_answer", 2, "NotAnswered NO_ANSWER")
    [sms] = _sms(demo, YOUSSEF, "dues_reminder")
    assert call.fallback_sms_id == sms.id and "405.00 درهم" in sms.body
    assert [c.call_to for c in fake_voice.received] == [YOUSSEF, YOUSSEF]


def test_a_call_not_answered_the_first_time_is_called_again(
    demo: Session,
    voice_settings: Settings,
    caller: AfricasTalkingCaller,
    fake_voice: FakeAfricasTalkingVoice,
    clock: FrozenClock,
) -> None:
    youssef = _prefers_voice(demo, YOUSSEF)
    _remind(demo, voice_settings)
    [call] = _calls(demo, youssef)
    place_call(db_session=demo, caller=caller, settings=voice_settings, clock=clock, call_id=call.id)
    first = fake_voice.received[-1].session_id or ""
    assert record_outcome(demo, first, "NotAnswered", 0, settings=voice_settings, now=clock()) is Outcome.RETRY
    demo.commit()
    clock.advance(minutes=30)
    place_call(db_session=demo, caller=caller, settings=voice_settings, clock=clock, call_id=call.id)
    second = fake_voice.received[-1].session_id or ""
    assert second != first
    assert record_outcome(demo, second, "Success", 31, settings=voice_settings, now=clock()) is Outcome.ANSWERED
    demo.commit()
    demo.refresh(call)
    assert (call.status, call.attempts, call.duration_seconds) == ("answered", 2, 31)
    assert _sms(demo, YOUSSEF, "dues_reminder") == []


def test_a_ready_reimbursement_is_a_call_that_says_the_pick_up_code(
    demo: Session, voice_settings: Settings, clock: FrozenClock
) -> None:
    fatima = _prefers_voice(demo, FATIMA)
    fatima.language = "fr"
    demo.commit()
    before = len(_sms(demo, FATIMA, "claim_available"))
    result = upsert_claim(
        demo,
        claim_number="CLM-VOICE-1",
        cin=fatima.cin,
        amount_centimes=12_345,
        status="available",
        network="wafacash",
        pick_up_code="WF-1234-5678",
        available_until=dt.date(2026, 12, 20),
        clock=clock,
        default_language="ar",
        calls_out=voice_settings.calls_out,
    )
    demo.commit()
    assert len(_sms(demo, FATIMA, "claim_available")) == before  # no SMS: a call
    [call] = [c for c in _calls(demo, fatima) if c.claim_id == result.claim.id]
    assert call.kind == "claim_ready" and call.language == "fr"
    message = call_message(demo, settings=voice_settings, now=clock(), call_id=call.id)
    assert message is not None
    assert "123,45 MAD" in message.text and "WF-1234-5678" in message.text and "Wafacash" in message.text


def test_option_6_then_5_chooses_reminders_by_voice_call(dial, demo: Session) -> None:  # type: ignore[no-untyped-def]
    phone = dial(FATIMA)
    phone.start()
    screen = phone.send("6")
    assert "5 " in screen
    screen = phone.send("5")
    assert "1 " in screen and "2 " in screen
    phone.send("1")
    demo.expire_all()
    assert _artisan(demo, FATIMA).reminders_by == "voice"
    phone = dial(FATIMA)
    phone.start()
    phone.send("6", "5", "2")
    demo.expire_all()
    assert _artisan(demo, FATIMA).reminders_by == "sms"


def test_two_workers_never_call_twice(committed_app: Flask, settings: Settings) -> None:
    with FakeAfricasTalkingVoice() as fake:
        own = dataclasses.replace(
            committed_app.extensions["hirfa.calls"].settings,
            at_username="hirfa",
            at_api_key=API_KEY,
            at_voice_number=VOICE_NUMBER,
            at_voice_api_base_url=fake.base_url,
            sms_quiet_hours="",  # the real clock may be night in Casablanca
        )
        caller = AfricasTalkingCaller.from_settings(own)
        rounds = 5
        ids = []
        with app_session(committed_app) as db:
            youssef = _artisan(db, YOUSSEF)
            for n in range(rounds):
                row = queue_call(db, artisan=youssef, kind="dues_reminder", subject=f"race:{n}", language="ar")
                db.flush()
                ids.append(row.id)
            db.commit()
        for call_id in ids:
            barrier = threading.Barrier(2)
            results: list[Placed] = []

            def worker(
                call_id: int = call_id, barrier: threading.Barrier = barrier, results: list[Placed] = results
            ) -> None:
                with app_session(committed_app) as db:
                    barrier.wait()
                    results.append(
                        place_call(
                            db_session=db,
                            caller=caller,
                            settings=own,
                            clock=lambda: dt.datetime.now(dt.UTC),
                            call_id=call_id,
                        )
                    )

            threads = [threading.Thread(target=worker) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            assert sorted(results) == sorted([Placed.CALLING, Placed.SKIPPED]), results
        assert len(fake.received) == rounds  # one call per row, never two
        with app_session(committed_app) as db:
            rows = db.scalars(select(CallOutbox).where(CallOutbox.id.in_(ids))).all()
            assert {(row.status, row.attempts) for row in rows} == {("calling", 1)}
