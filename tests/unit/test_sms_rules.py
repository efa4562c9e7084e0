"""SMS rules without I/O: quiet hours, backoff, Africa's Talking's statuses, callbacks,
settings, segment counting."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest

from gateway.config import Settings, SettingsError
from gateway.sms.africastalking import (
    InvalidCallback,
    classify,
    parse_delivery_report,
    parse_inbound,
)
from gateway.sms.dispatch import job_id_for
from gateway.sms.interfaces import SendResult, SendStatus
from gateway.sms.outbox import segments
from gateway.sms.reminders import ReminderError, dues_date
from gateway.sms.senders import ConsoleSmsSender, FakeSmsSender, make_sender
from gateway.sms.service import RetryPolicy, quiet_until
from gateway.sms.sweep import reminders_due
from tests.helpers import PRODUCTION_SECRETS

UTC = dt.UTC
QUIET = (dt.time(21), dt.time(8))


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (dt.datetime(2026, 11, 24, 10, 0, tzinfo=UTC), None),  # 11:00 local
        (dt.datetime(2026, 11, 24, 19, 59, tzinfo=UTC), None),  # 20:59 local
        (dt.datetime(2026, 11, 24, 20, 0, tzinfo=UTC), dt.datetime(2026, 11, 25, 7, 0, tzinfo=UTC)),  # 21:00
        (dt.datetime(2026, 11, 24, 23, 30, tzinfo=UTC), dt.datetime(2026, 11, 25, 7, 0, tzinfo=UTC)),  # 00:30
        (dt.datetime(2026, 11, 25, 6, 59, tzinfo=UTC), dt.datetime(2026, 11, 25, 7, 0, tzinfo=UTC)),  # 07:59
        (dt.datetime(2026, 11, 25, 7, 0, tzinfo=UTC), None),  # 08:00 local
        # During Ramadan Morocco is on UTC+0: 08:00 local is 08:00 UTC.
        (dt.datetime(2026, 2, 25, 22, 0, tzinfo=UTC), dt.datetime(2026, 2, 26, 8, 0, tzinfo=UTC)),
    ],
)
def test_quiet_hours_are_21_to_8_in_casablanca(now: dt.datetime, until: dt.datetime | None) -> None:
    assert quiet_until(now, QUIET) == until


def test_no_quiet_hours_when_unset() -> None:
    assert quiet_until(dt.datetime(2026, 11, 24, 23, 0, tzinfo=UTC), None) is None
    assert Settings(sms_quiet_hours="").quiet_hours is None
    assert Settings().quiet_hours == QUIET


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=8, base_seconds=30, max_seconds=3600)
    assert [policy.delay(n).total_seconds() for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (100, SendStatus.SENT),
        (101, SendStatus.SENT),
        (102, SendStatus.SENT),
        (401, SendStatus.RETRY),  # RiskHold
        (402, SendStatus.RETRY),  # InvalidSenderId: ours to fix
        (403, SendStatus.FAILED),  # InvalidPhoneNumber
        (404, SendStatus.FAILED),  # UnsupportedNumberType
        (405, SendStatus.RETRY),  # InsufficientBalance: ours to fix
        (406, SendStatus.FAILED),  # UserInBlacklist
        (407, SendStatus.RETRY),  # CouldNotRoute
        (409, SendStatus.FAILED),  # DoNotDisturbRejection
        (500, SendStatus.RETRY),
        (501, SendStatus.RETRY),
        (502, SendStatus.FAILED),  # RejectedByGateway
        (999, SendStatus.RETRY),  # not documented: retried, logged
    ],
)
def test_africastalking_status_codes(code: int, status: SendStatus) -> None:
    assert classify(code) is status


def test_delivery_report_fields() -> None:
    report = parse_delivery_report(
        {"id": " ATXid_1 ", "status": "Failed", "failureReason": "UserInBlackList", "retryCount": "2"}
    )
    assert (report.message_id, report.status, report.failure_reason, report.retry_count) == (
        "ATXid_1",
        "Failed",
        "UserInBlackList",
        2,
    )
    with pytest.raises(InvalidCallback, match="id"):
        parse_delivery_report({"status": "Success"})


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", "stop"),
        (" stop ", "stop"),
        ("Stop.", "stop"),
        ("توقف", "stop"),
        ("START", "start"),
        ("start!", "start"),
        ("stop it", None),
        ("", None),
        ("1", None),
    ],
)
def test_inbound_keywords(text: str, keyword: str | None) -> None:
    assert parse_inbound({"from": "+212600000002", "text": text, "id": "x"}).keyword == keyword


def test_inbound_phone_is_e164() -> None:
    assert parse_inbound({"from": "212600000002", "text": "STOP", "id": "x"}).sender == "+212600000002"


AT = {"sms_backend": "africastalking", "at_username": "hirfa", "at_api_key": "k" * 32}
PRODUCTION = {
    "env": "production",
    "database_url": "postgresql+psycopg://h@db/h",
    "redis_url": "redis://cache:6379/0",
    **PRODUCTION_SECRETS,
}


def test_production_takes_africastalking_only() -> None:
    Settings(**PRODUCTION).validate()  # type: ignore[arg-type]
    for backend in ("console", "fake"):
        with pytest.raises(SettingsError, match="SMS_BACKEND"):
            Settings(**{**PRODUCTION, "sms_backend": backend}).validate()  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="AT_USERNAME"):
        Settings(**{**PRODUCTION, "at_api_key": ""}).validate()  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="sandbox"):
        Settings(**{**PRODUCTION, "at_username": "sandbox"}).validate()  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="https"):
        Settings(**{**PRODUCTION, "at_api_base_url": "http://127.0.0.1:9"}).validate()  # type: ignore[arg-type]


def test_production_defaults_to_africastalking_from_the_environment() -> None:
    env = {
        "HIRFA_ENV": "production",
        "DATABASE_URL": "postgresql://h@db/h",
        "REDIS_URL": "redis://cache:6379/0",
        "SECRET_KEY": PRODUCTION_SECRETS["secret_key"],
        "USSD_CALLBACK_KEY": PRODUCTION_SECRETS["ussd_callback_key"],
        "METRICS_TOKEN": PRODUCTION_SECRETS["metrics_token"],
        "AT_USERNAME": "hirfa",
        "AT_API_KEY": PRODUCTION_SECRETS["at_api_key"],
        "VOICE_TTS_BACKEND": "none",
    }
    assert Settings.from_env(env).sms_backend == "africastalking"
    with pytest.raises(SettingsError, match="AT_USERNAME and AT_API_KEY"):
        Settings.from_env({**env, "AT_API_KEY": ""})


@pytest.mark.parametrize(
    ("changes", "setting"),
    [
        ({"sms_backend": "carrier-pigeon"}, "SMS_BACKEND"),
        ({"sms_quiet_hours": "9pm-8am"}, "SMS_QUIET_HOURS"),
        ({"sms_sending_timeout_seconds": 60}, "SMS_SENDING_TIMEOUT_SECONDS"),
        ({"at_timeout_seconds": 40.0}, "SMS_JOB_TIMEOUT_SECONDS"),
        ({"sms_retry_base_seconds": 7200}, "SMS_RETRY_BASE_SECONDS"),
        ({"sms_queue": "sms queue"}, "SMS_QUEUE"),
        ({"sms_reminder_day": 31}, "SMS_REMINDER_DAY"),
        ({"at_sender_id": "HIRFA-ARTISANS"}, "AT_SENDER_ID"),
    ],
)
def test_sms_settings_are_checked(changes: dict[str, object], setting: str) -> None:
    with pytest.raises(SettingsError, match=setting):
        dataclasses.replace(Settings(env="development"), **changes).validate()  # type: ignore[arg-type]


def test_sms_settings_from_the_environment() -> None:
    development = {"HIRFA_ENV": "development"}
    settings = Settings.from_env(
        {**development, "SMS_QUIET_HOURS": "", "AT_TIMEOUT_SECONDS": "2.5", "SMS_MAX_ATTEMPTS": "5"}
    )
    assert (settings.quiet_hours, settings.at_timeout_seconds, settings.sms_max_attempts) == (None, 2.5, 5)
    assert settings.sms_backend == "console"
    with pytest.raises(SettingsError, match="AT_TIMEOUT_SECONDS"):
        Settings.from_env({**development, "AT_TIMEOUT_SECONDS": "soon"})


def test_the_sender_is_chosen_by_setting() -> None:
    assert isinstance(make_sender(Settings()), ConsoleSmsSender)
    assert isinstance(make_sender(Settings(sms_backend="fake")), FakeSmsSender)
    sender = make_sender(Settings(**AT, at_api_base_url="http://127.0.0.1:9/"))  # type: ignore[arg-type]
    assert sender.name == "africastalking"
    assert sender.messaging_url == "http://127.0.0.1:9/version1/messaging"  # type: ignore[attr-defined]
    assert make_sender(Settings(**AT)).messaging_url == "https://api.africastalking.com/version1/messaging"  # type: ignore[arg-type, attr-defined]


def test_fake_and_console_senders() -> None:
    fake = FakeSmsSender()
    fake.script(SendResult(SendStatus.RETRY, reason="scripted"))
    assert fake.send(recipient="+212600000001", body="a").status is SendStatus.RETRY
    assert fake.send(recipient="+212600000001", body="b").status is SendStatus.SENT
    assert [sms.body for sms in fake.sent] == ["a", "b"]
    stream = io.StringIO()
    result = ConsoleSmsSender(stream).send(recipient="+212600000001", body="Hirfa: 123 456 7890")
    assert result.status is SendStatus.SENT and "Hirfa: 123 456 7890" in stream.getvalue()
    assert "+212600000001" not in stream.getvalue()


def test_job_ids_derive_from_the_row() -> None:
    assert job_id_for("hirfa:", 42) == "hirfa-sms-42"
    assert job_id_for("hirfa-test:ab12:", 7) == "hirfa-test-ab12-sms-7"


def test_segments_count_gsm7_escapes_and_ucs2() -> None:
    assert segments("a" * 159 + "€") == (2, "gsm7")  # € costs two septets
    assert segments("ب" * 134) == (2, "ucs2")
    assert segments("ب" * 135) == (3, "ucs2")


def test_reminders_are_due_from_the_5th_at_10_in_casablanca() -> None:
    settings = Settings()
    assert reminders_due(dt.datetime(2026, 12, 5, 8, 59, tzinfo=UTC), settings) is None  # 09:59 local
    assert reminders_due(dt.datetime(2026, 12, 5, 9, 0, tzinfo=UTC), settings) == dt.date(2026, 12, 1)
    assert reminders_due(dt.datetime(2026, 12, 20, 3, 0, tzinfo=UTC), settings) == dt.date(2026, 12, 1)
    assert reminders_due(dt.datetime(2026, 12, 4, 23, 0, tzinfo=UTC), settings) is None  # the 5th, 00:00 local
    assert reminders_due(dt.datetime(2027, 1, 1, 9, 0, tzinfo=UTC), settings) is None  # a new month: not yet


def test_a_reminder_states_the_dues_of_its_month() -> None:
    assert dues_date(dt.date(2026, 11, 1), dt.date(2026, 11, 24)) == dt.date(2026, 11, 24)
    assert dues_date(dt.date(2026, 10, 1), dt.date(2026, 11, 24)) == dt.date(2026, 10, 31)
    with pytest.raises(ReminderError):
        dues_date(dt.date(2026, 12, 1), dt.date(2026, 11, 24))
