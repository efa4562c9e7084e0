"""JSON log lines with personal data masked (gateway/logs.py)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.logs import JsonFormatter, mask_name, mask_phone

PHONE = "+212600000001"
CIN = "AB123456"


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of our own writing through JsonFormatter into a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.unit.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def entries(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_mask_phone_hides_the_middle_digits() -> None:
    masked = mask_phone(PHONE)

    assert masked != PHONE
    assert masked.startswith("+212")
    assert masked.endswith("01")
    assert masked.count("*") >= 5
    assert "6000000" not in masked


def test_mask_phone_keeps_numbers_apart() -> None:
    assert mask_phone("+212600000001") != mask_phone("+212600000002")
    assert mask_phone("+212600000001") != mask_phone("+212700000001")


def test_mask_phone_hides_a_short_value_entirely() -> None:
    assert mask_phone("123456") == "******"


def test_one_json_object_per_record_with_message_level_and_extra_fields(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged

    logger.info("hop answered on %s", "menu", extra={"screen": "home", "duration_ms": 12})
    logger.warning("callback refused", extra={"reason": "key"})

    first, second = entries(stream)
    assert first["msg"] == "hop answered on menu"
    assert first["level"] == "info"
    assert first["logger"] == "tests.unit.logs"
    assert first["screen"] == "home"
    assert first["duration_ms"] == 12
    assert second["msg"] == "callback refused"
    assert second["level"] == "warning"
    assert second["reason"] == "key"
    assert "screen" not in second


def test_phone_and_cin_in_the_message_are_masked(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged

    logger.info("linked %s to %s", PHONE, CIN)

    output = stream.getvalue()
    assert PHONE not in output
    assert CIN not in output
    [entry] = entries(stream)
    assert entry["msg"] == f"linked {mask_phone(PHONE)} to A*******"


def test_a_national_phone_number_in_the_message_is_masked(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged

    logger.info("sms to 0600000001 failed")

    assert "0600000001" not in stream.getvalue()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", PHONE),
        ("phoneNumber", "212600000001"),
        ("recipient", PHONE),
        ("cin", CIN),
        ("cin", "ab123456"),  # typed in lower case: not caught by the CIN-shaped safety net
        ("first_name", "Fatima"),
        ("last_name", "Benali"),
    ],
)
def test_personal_extra_fields_are_masked(logged: tuple[logging.Logger, io.StringIO], field: str, value: str) -> None:
    logger, stream = logged

    logger.info("identification", extra={field: value})

    assert value not in stream.getvalue()
    [entry] = entries(stream)
    assert entry[field]  # still present, so that a log shows the field was there


def test_ussd_text_in_an_extra_field_is_masked(logged: tuple[logging.Logger, io.StringIO]) -> None:
    # `text` is a personal field: during identification it holds the CIN and birth year,
    # and USSD text always contains `*` (inputs are joined with it).
    logger, stream = logged

    logger.info("hop", extra={"text": f"1*{CIN}*1987"})

    assert CIN not in stream.getvalue()


def test_phone_and_cin_in_other_extra_strings_are_masked(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged

    logger.info("refused", extra={"reason": f"{PHONE} gave {CIN}"})

    output = stream.getvalue()
    assert PHONE not in output
    assert CIN not in output


def test_a_caller_masked_phone_is_kept_as_given(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged

    logger.info("phone linked", extra={"phone": mask_phone(PHONE)})

    assert entries(stream)[0]["phone"] == mask_phone(PHONE)


def test_exceptions_are_included_masked(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged

    try:
        raise LookupError(f"no artisan for {PHONE} with CIN {CIN}")
    except LookupError:
        logger.exception("hop failed")

    output = stream.getvalue()
    assert PHONE not in output
    assert CIN not in output
    [entry] = entries(stream)
    assert entry["level"] == "error"
    assert "LookupError: no artisan for" in entry["exc"]
    assert mask_phone(PHONE) in entry["exc"]


def test_a_name_shows_the_first_name_and_the_family_initial_only() -> None:
    assert mask_name(" Youssef ", "Alaoui") == "Youssef A."
    assert mask_name("Fatima", "") == "Fatima"
